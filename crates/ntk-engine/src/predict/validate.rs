//! Input checks shared by the prediction routines. Every error names the argument.

use super::Matrix;
use crate::error::{Error, Result};

/// `m` is a non-empty matrix of consistent length with finite entries.
pub(crate) fn finite(what: &str, m: &Matrix) -> Result<()> {
    m.check_len(what)?;
    if m.rows == 0 || m.cols == 0 {
        return Err(Error::invalid(
            what,
            format!("{}×{} matrix", m.rows, m.cols),
            "at least one row and one column",
        ));
    }
    match m.data.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(p) => Err(Error::NonFinite {
            what: what.into(),
            row: p / m.cols,
            col: p % m.cols,
            value: m.data[p],
        }),
    }
}

/// `m` has `expected` rows; `meaning` says where that number comes from.
pub(crate) fn rows(what: &str, m: &Matrix, expected: usize, meaning: &str) -> Result<()> {
    if m.rows != expected {
        return Err(Error::DimensionMismatch {
            what: format!("{what}: number of rows (must equal {meaning})"),
            expected,
            got: m.rows,
        });
    }
    Ok(())
}

/// `m` has `expected` columns; `meaning` says where that number comes from.
pub(crate) fn cols(what: &str, m: &Matrix, expected: usize, meaning: &str) -> Result<()> {
    if m.cols != expected {
        return Err(Error::DimensionMismatch {
            what: format!("{what}: number of columns (must equal {meaning})"),
            expected,
            got: m.cols,
        });
    }
    Ok(())
}

/// A finite, square, non-empty kernel matrix; returns its size.
pub(crate) fn square(what: &str, m: &Matrix) -> Result<usize> {
    finite(what, m)?;
    cols(
        what,
        m,
        m.rows,
        "its number of rows: a kernel must be square",
    )?;
    Ok(m.rows)
}

/// Every time is `≥ 0` or `+∞` (never NaN).
pub(crate) fn times(times: &[f64]) -> Result<()> {
    match times.iter().find(|t| t.is_nan() || **t < 0.0) {
        None => Ok(()),
        Some(t) => Err(Error::invalid(
            "time",
            t,
            "a number ≥ 0 or infinity (kernel regression)",
        )),
    }
}

/// A finite scalar in `[lo, ∞)` (or `(lo, ∞)` when `open`).
pub(crate) fn scalar(name: &str, v: f64, lo: f64, open: bool) -> Result<()> {
    let ok = v.is_finite() && if open { v > lo } else { v >= lo };
    if !ok {
        let relation = if open { ">" } else { "≥" };
        return Err(Error::invalid(
            name,
            v,
            format!("a finite number {relation} {lo}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_argument() {
        let m = Matrix::new(2, 2, vec![1.0, f64::NAN, 0.0, 1.0]).unwrap();
        let e = finite("k_train_train", &m).unwrap_err().to_string();
        assert!(
            e.contains("k_train_train") && e.contains("row 0, column 1"),
            "{e}"
        );
        let r = Matrix::zeros(2, 3);
        let e = square("k_train_train", &r).unwrap_err().to_string();
        assert!(e.contains("k_train_train") && e.contains("square"), "{e}");
        assert!(times(&[0.0, 1.0, f64::INFINITY]).is_ok());
        assert!(times(&[-1.0]).is_err());
        assert!(times(&[f64::NAN]).is_err());
        assert!(times(&[f64::NEG_INFINITY]).is_err());
        assert!(scalar("learning_rate", 0.0, 0.0, true).is_err());
        assert!(scalar("diag_reg", 0.0, 0.0, false).is_ok());
    }
}
