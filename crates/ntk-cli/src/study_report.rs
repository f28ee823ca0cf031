//! A study's result as text, the presentation of `ntk study`: the CSV (one row per width,
//! `METRIC_mean` and `METRIC_std` columns), the JSON (setting, rows, slopes and every run)
//! and the printed table. The numbers are the engine's [`StudyResult`].

use std::fmt::Write;

use ntk_engine::train::study::{METRICS, StudyResult};

/// A JSON number (`null` when not finite).
fn num(x: f64) -> String {
    if x.is_finite() {
        format!("{x:e}")
    } else {
        "null".into()
    }
}

/// A JSON string literal.
fn string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A compact cell: 4 significant digits, `-` when not finite.
fn cell(x: f64) -> String {
    if !x.is_finite() {
        "-".into()
    } else if x == 0.0 || (1e-3..1e4).contains(&x.abs()) {
        format!("{x:.4}")
    } else {
        format!("{x:.3e}")
    }
}

/// `width,kernel_error_mean,kernel_error_std,…`, one line per width; empty cells for
/// values that are not finite.
pub fn csv(result: &StudyResult) -> String {
    let mut s = String::from("width");
    for (m, _) in METRICS {
        let _ = write!(s, ",{m}_mean,{m}_std");
    }
    s.push('\n');
    let f = |x: f64| {
        if x.is_finite() {
            format!("{x:e}")
        } else {
            String::new()
        }
    };
    for r in &result.rows {
        let _ = write!(s, "{}", r.width);
        for st in &r.stats {
            let _ = write!(s, ",{},{}", f(st.mean), f(st.std));
        }
        s.push('\n');
    }
    s
}

/// The whole result as JSON: `{"description", "metrics", "rows": [{"width", METRIC:
/// {"mean", "std"}}], "slopes": {METRIC: {"slope", "stderr", "intercept"}}, "runs":
/// [{"width", "seed", METRIC: value}]}`; non-finite numbers are `null`.
pub fn json(result: &StudyResult) -> String {
    let mut s = String::from("{\n");
    let _ = writeln!(s, "  \"description\": {},", string(&result.description));
    let names: Vec<String> = METRICS.iter().map(|m| string(m.0)).collect();
    let _ = writeln!(s, "  \"metrics\": [{}],", names.join(", "));
    s.push_str("  \"rows\": [\n");
    for (ri, r) in result.rows.iter().enumerate() {
        let _ = write!(s, "    {{\"width\": {}", r.width);
        for ((m, _), st) in METRICS.iter().zip(&r.stats) {
            let _ = write!(
                s,
                ", {}: {{\"mean\": {}, \"std\": {}}}",
                string(m),
                num(st.mean),
                num(st.std)
            );
        }
        s.push_str(if ri + 1 < result.rows.len() {
            "},\n"
        } else {
            "}\n"
        });
    }
    s.push_str("  ],\n  \"slopes\": {");
    for (i, sl) in result.slopes.iter().enumerate() {
        let _ = write!(
            s,
            "{}\n    {}: {{\"slope\": {}, \"stderr\": {}, \"intercept\": {}}}",
            if i > 0 { "," } else { "" },
            string(sl.metric),
            num(sl.slope),
            num(sl.stderr),
            num(sl.intercept)
        );
    }
    s.push_str("\n  },\n  \"runs\": [\n");
    for (ri, r) in result.runs.iter().enumerate() {
        let _ = write!(s, "    {{\"width\": {}, \"seed\": {}", r.width, r.seed);
        for ((m, _), v) in METRICS.iter().zip(r.values()) {
            let _ = write!(s, ", {}: {}", string(m), num(v));
        }
        s.push_str(if ri + 1 < result.runs.len() {
            "},\n"
        } else {
            "}\n"
        });
    }
    s.push_str("  ]\n}\n");
    s
}

/// The table printed by `ntk study`: one line per metric that has a finite value
/// somewhere, `mean±std` over seeds per width, and the fitted log-log slope `±` its
/// standard error.
pub fn table(result: &StudyResult) -> String {
    let mut lines: Vec<Vec<String>> = Vec::new();
    let mut head = vec!["metric".to_string()];
    head.extend(result.rows.iter().map(|r| format!("m={}", r.width)));
    head.push("slope".into());
    lines.push(head);
    for (i, (name, _)) in METRICS.iter().enumerate() {
        if !result.rows.iter().any(|r| r.stats[i].mean.is_finite()) {
            continue;
        }
        let mut l = vec![name.to_string()];
        for r in &result.rows {
            let st = r.stats[i];
            l.push(format!("{}±{}", cell(st.mean), cell(st.std)));
        }
        l.push(result.slope(name).map_or("-".into(), |s| {
            format!("{:+.3}±{}", s.slope, cell(s.stderr))
        }));
        lines.push(l);
    }
    let ncols = lines[0].len();
    let widths: Vec<usize> = (0..ncols)
        .map(|c| {
            lines
                .iter()
                .map(|l| l[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = format!("{}\n", result.description);
    for (li, l) in lines.iter().enumerate() {
        let cells: Vec<String> = l
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(c, (s, &w))| {
                if c == 0 {
                    format!("{s:<w$}")
                } else {
                    format!("{s:>w$}")
                }
            })
            .collect();
        let _ = writeln!(out, "{}", cells.join("  "));
        if li == 0 {
            let rule: Vec<String> = widths.iter().map(|&w| "-".repeat(w)).collect();
            let _ = writeln!(out, "{}", rule.join("  "));
        }
    }
    out
}
