//! Rich display for evcxr, and plain text for a terminal.
//!
//! evcxr shows a value as rich output when its type has a method `evcxr_display(&self)` that
//! prints a block
//!
//! ```text
//! EVCXR_BEGIN_CONTENT text/html
//! <table>…</table>
//! EVCXR_END_CONTENT
//! ```
//!
//! (or `image/svg+xml`) to standard output. Every result type of this crate has one; its
//! `Display` stays readable in a terminal. The building blocks are here: [`Html`], [`Svg`],
//! [`Table`]; the pictures are drawn by [`heatmap`] (hand-written SVG) and [`plot`] (plotters'
//! SVG backend, no font library: the browser draws the text).

pub mod heatmap;
pub mod plot;

use core::fmt;

/// Prints one evcxr content block of `mime` type and a `text/plain` fallback (`plain`), for
/// readers of the notebook that cannot show the rich one. evcxr gathers every block of a
/// cell into one output, one entry per MIME type.
pub(crate) fn emit(mime: &str, content: &str, plain: &str) {
    println!(
        "EVCXR_BEGIN_CONTENT text/plain\n{}\nEVCXR_END_CONTENT",
        plain.trim_end()
    );
    println!("EVCXR_BEGIN_CONTENT {mime}\n{content}\nEVCXR_END_CONTENT");
}

/// The text of an HTML fragment: tags dropped (SVG pictures become `[figure]`), the common
/// entities decoded, blank runs collapsed.
pub fn html_text(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        let after = &rest[start..];
        if after.starts_with("<svg") {
            out.push_str(" [figure] ");
            rest = after.find("</svg>").map_or("", |e| &after[e + 6..]);
        } else {
            let tag_end = after.find('>').map_or(after.len(), |e| e + 1);
            let tag = &after[..tag_end];
            if tag.starts_with("</tr") || tag.starts_with("</caption") || tag.starts_with("<br") {
                out.push('\n');
            } else {
                out.push(' ');
            }
            rest = &after[tag_end..];
        }
    }
    out.push_str(rest);
    let out = out
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&");
    out.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Escapes `&`, `<`, `>` and `"` for HTML text and attributes.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

/// A number for tables: 4 significant digits, scientific notation outside `[1e-3, 1e5)`.
pub fn num(x: f64) -> String {
    let a = x.abs();
    if x == 0.0 {
        "0".into()
    } else if !x.is_finite() {
        format!("{x}")
    } else if !(1e-3..1e5).contains(&a) {
        format!("{x:.3e}")
    } else {
        let decimals = (3 - a.log10().floor() as i32).clamp(0, 6) as usize;
        format!("{x:.decimals$}")
    }
}

/// An HTML fragment, shown as such by evcxr; its `Display` is the markup itself.
#[derive(Clone, Debug, PartialEq)]
pub struct Html(pub String);

impl Html {
    /// Shows the fragment in the notebook.
    pub fn evcxr_display(&self) {
        emit("text/html", &self.0, &html_text(&self.0));
    }
}

impl fmt::Display for Html {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An SVG picture, shown as an image by evcxr. `Display` gives a one-line description
/// (a terminal cannot draw it); [`Svg::save`] writes it to a file.
#[derive(Clone, Debug, PartialEq)]
pub struct Svg(pub String);

impl Svg {
    /// Shows the picture in the notebook.
    pub fn evcxr_display(&self) {
        emit("image/svg+xml", &self.0, &self.to_string());
    }

    /// Writes the picture to `path` (open it in a browser).
    pub fn save(&self, path: impl AsRef<std::path::Path>) -> ntk_engine::Result<()> {
        let path = path.as_ref();
        std::fs::write(path, &self.0).map_err(|source| ntk_engine::Error::Io {
            path: path.into(),
            source,
        })
    }
}

impl fmt::Display for Svg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<svg image, {} bytes>", self.0.len())
    }
}

/// A table of strings with a title: HTML in a notebook, aligned columns in a terminal.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Table {
    /// A caption.
    pub title: String,
    /// Column names.
    pub header: Vec<String>,
    /// Rows of cells (as many as the header).
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// An empty table with a title and column names.
    pub fn new(title: &str, header: &[&str]) -> Self {
        Table {
            title: title.into(),
            header: header.iter().map(|s| s.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    /// Appends a row.
    pub fn push(&mut self, row: Vec<String>) {
        self.rows.push(row);
    }

    /// The table as an HTML `<table>` with a caption.
    pub fn to_html(&self) -> String {
        let mut s = String::from("<table style=\"border-collapse:collapse;font-size:90%\">");
        if !self.title.is_empty() {
            s += &format!("<caption>{}</caption>", escape(&self.title));
        }
        s += "<thead><tr>";
        for h in &self.header {
            s += &format!(
                "<th style=\"text-align:right;padding:2px 8px\">{}</th>",
                escape(h)
            );
        }
        s += "</tr></thead><tbody>";
        for r in &self.rows {
            s += "<tr>";
            for c in r {
                s += &format!(
                    "<td style=\"text-align:right;padding:2px 8px\">{}</td>",
                    escape(c)
                );
            }
            s += "</tr>";
        }
        s + "</tbody></table>"
    }

    /// Shows the table in the notebook.
    pub fn evcxr_display(&self) {
        emit("text/html", &self.to_html(), &self.to_string());
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cols = self.header.len();
        let mut w: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for r in &self.rows {
            for (j, c) in r.iter().enumerate().take(cols) {
                w[j] = w[j].max(c.chars().count());
            }
        }
        if !self.title.is_empty() {
            writeln!(f, "{}", self.title)?;
        }
        let line = |cells: &[String]| -> String {
            cells
                .iter()
                .zip(&w)
                .map(|(c, &n)| format!("{c:>n$}"))
                .collect::<Vec<_>>()
                .join("  ")
        };
        writeln!(f, "{}", line(&self.header))?;
        for r in &self.rows {
            writeln!(f, "{}", line(r))?;
        }
        Ok(())
    }
}

/// A picture and a table side by side, as one HTML block.
pub(crate) fn figure_with_table(svg: &str, table: &Table) -> String {
    figures_with_table(&[svg], table)
}

/// Pictures and a table, as one HTML block.
pub(crate) fn figures_with_table(svgs: &[&str], table: &Table) -> String {
    let pictures: String = svgs.iter().map(|s| format!("<div>{s}</div>")).collect();
    format!(
        "<div style=\"display:flex;flex-wrap:wrap;align-items:center;gap:16px\">\
         {pictures}<div>{}</div></div>",
        table.to_html()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_renders_escaped_html_and_aligned_text() {
        let mut t = Table::new("a <b>", &["x", "value"]);
        t.push(vec!["1".into(), "2 & 3".into()]);
        let h = t.to_html();
        assert!(h.starts_with("<table") && h.ends_with("</table>"));
        assert!(h.contains("<caption>a &lt;b&gt;</caption>"));
        assert!(h.contains("2 &amp; 3"));
        assert_eq!(h.matches("<tr>").count(), 2);
        let text = t.to_string();
        assert_eq!(text, "a <b>\nx  value\n1  2 & 3\n");
        assert_eq!(html_text(&h), "a <b>\nx value\n1 2 & 3");
        assert_eq!(
            html_text("<div><svg a><text>t</text></svg>x</div>"),
            "[figure] x"
        );
    }

    #[test]
    fn numbers_keep_four_significant_digits() {
        assert_eq!(num(0.0), "0");
        assert_eq!(num(1.23456), "1.235");
        assert_eq!(num(123.456), "123.5");
        assert_eq!(num(1.5e-5), "1.500e-5");
        assert_eq!(num(-2.5e7), "-2.500e7");
    }
}
