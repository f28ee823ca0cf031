//! How close two results are, and how often a classifier is right: the measures every tier
//! (engine, CLI, notebook) reports, defined once.
//!
//! The comparisons take anything that is a row of `f64` values in a fixed order
//! (`AsRef<[f64]>`): a [`Kernel`](crate::Kernel), a [`Matrix`], a `Vec<f64>` or a slice.
//! They compare entry by entry, so both sides must hold the same layout; two inputs of
//! different lengths give `NaN` (never a silent truncation to the shorter one).
//!
//! # The single-output rule
//! A classifier with `k ≥ 2` outputs predicts the class of its largest output (the first
//! one on a tie). A single output (`k = 1`) is read as a **sign**: class `1` when
//! `f(x) > 0`, class `0` otherwise. This fits binary targets coded symmetrically about 0
//! (`±1`, `±1/2`); for targets coded `0/1` subtract `0.5` from the outputs first.
//!
//! Power laws over widths are fitted by [`loglog_fit`], and the spread over seeds is a
//! [`Stat`].
//!
//! # Example
//! ```
//! use ntk_engine::Matrix;
//! use ntk_engine::metrics::{accuracy, argmax, rel_frobenius, rms};
//!
//! let out = Matrix::new(3, 2, vec![0.9, 0.1, 0.2, 0.7, 0.5, 0.5])?;
//! assert_eq!(argmax(&out), vec![0, 1, 0]); // a tie goes to the first class
//! assert_eq!(accuracy(&out, &[0, 1, 1]), 2.0 / 3.0);
//! assert_eq!(rms(&[1.0, 1.0], &[0.0, 0.0]), 1.0);
//! assert_eq!(rel_frobenius(&[0.5, 1.0], &[0.0, 1.0]), 0.5);
//! # Ok::<(), ntk_engine::Error>(())
//! ```

mod fit;

pub use fit::{LogLogFit, Stat, loglog_fit};

use crate::predict::Matrix;

/// `f(a, b)` on the values of two equally long inputs; `NaN` when the lengths differ (never
/// a silent truncation to the shorter one).
fn paired<A, B>(a: &A, b: &B, f: impl FnOnce(&[f64], &[f64]) -> f64) -> f64
where
    A: AsRef<[f64]> + ?Sized,
    B: AsRef<[f64]> + ?Sized,
{
    let (a, b) = (a.as_ref(), b.as_ref());
    if a.len() == b.len() {
        f(a, b)
    } else {
        f64::NAN
    }
}

/// `Σ (a_i − b_i)²`, summed in index order.
fn squared_distance(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// The relative Frobenius error `‖a − b‖_F / ‖b‖_F` of `a` against the reference `b`
/// (`NaN` when the lengths differ; `0/0 = NaN` when both are zero, `∞` when only `b` is).
pub fn rel_frobenius<A, B>(a: &A, b: &B) -> f64
where
    A: AsRef<[f64]> + ?Sized,
    B: AsRef<[f64]> + ?Sized,
{
    paired(a, b, |a, b| {
        let den: f64 = b.iter().map(|y| y * y).sum();
        (squared_distance(a, b) / den).sqrt()
    })
}

/// The root mean square difference `√(Σ (a_i − b_i)² / n)` over the `n` entries (`0` for
/// empty inputs, `NaN` when the lengths differ).
pub fn rms<A, B>(a: &A, b: &B) -> f64
where
    A: AsRef<[f64]> + ?Sized,
    B: AsRef<[f64]> + ?Sized,
{
    mse(a, b).sqrt()
}

/// The mean squared difference `Σ (a_i − b_i)² / n` over the `n` entries (`0` for empty
/// inputs, `NaN` when the lengths differ): the square of [`rms`] without its rounding.
pub fn mse<A, B>(a: &A, b: &B) -> f64
where
    A: AsRef<[f64]> + ?Sized,
    B: AsRef<[f64]> + ?Sized,
{
    paired(a, b, |a, b| squared_distance(a, b) / a.len().max(1) as f64)
}

/// The largest absolute difference `max_i |a_i − b_i|` (`0` for empty inputs, `NaN` when
/// the lengths differ).
pub fn max_abs_diff<A, B>(a: &A, b: &B) -> f64
where
    A: AsRef<[f64]> + ?Sized,
    B: AsRef<[f64]> + ?Sized,
{
    paired(a, b, |a, b| {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f64::max)
    })
}

/// The predicted class of each row of `outputs` (`n × k`), by the
/// [single-output rule](self#the-single-output-rule): the index of the largest entry (the
/// first on a tie; `NaN` entries never win) for `k ≥ 2`, and `f > 0 → 1`, else `0` for
/// `k = 1`.
pub fn argmax(outputs: &Matrix) -> Vec<usize> {
    if outputs.cols == 0 {
        return vec![0; outputs.rows];
    }
    outputs
        .data
        .chunks(outputs.cols)
        .take(outputs.rows)
        .map(|r| {
            if r.len() == 1 {
                usize::from(r[0] > 0.0)
            } else {
                (0..r.len()).fold(0, |best, a| if r[a] > r[best] { a } else { best })
            }
        })
        .collect()
}

/// The fraction of rows of `outputs` whose [`argmax`] equals the label. `NaN` when there
/// are no rows or the number of labels is not the number of rows. A negative label never
/// matches.
pub fn accuracy(outputs: &Matrix, labels: &[i64]) -> f64 {
    if labels.len() != outputs.rows || labels.is_empty() {
        return f64::NAN;
    }
    let hits = argmax(outputs)
        .iter()
        .zip(labels)
        .filter(|&(&p, &l)| i64::try_from(p) == Ok(l))
        .count();
    hits as f64 / labels.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gram::Kernel;

    /// Each metric against its definition written out by hand on small inputs.
    #[test]
    fn metrics_match_their_definitions() {
        let a = [1.0, 2.0, 2.0];
        let b = [1.0, 0.0, 0.0];
        assert_eq!(rel_frobenius(&a, &b), 8f64.sqrt());
        assert_eq!(rms(&a, &b), (8.0f64 / 3.0).sqrt());
        assert_eq!(rms::<[f64], [f64]>(&[], &[]), 0.0);
        assert_eq!(max_abs_diff(&a, &b), 2.0);
        assert_eq!(mse(&a, &b), 8.0 / 3.0);
        assert!(max_abs_diff(&a, &b[..2]).is_nan());
        assert!(rel_frobenius(&a[..2], &b).is_nan());
        assert!(rms(&a, &b[..1]).is_nan());
        assert!(rel_frobenius(&[0.0], &[0.0]).is_nan());
        // Kernels and matrices compare by their values.
        let k = Kernel {
            n1: 1,
            n2: 3,
            k: 1,
            data: a.to_vec(),
        };
        let m = Matrix::new(1, 3, b.to_vec()).unwrap();
        assert_eq!(rel_frobenius(&k, &m), 8f64.sqrt());
        assert_eq!(rel_frobenius(&k, &k), 0.0);
    }

    #[test]
    fn argmax_and_accuracy_follow_the_single_output_rule() {
        let multi = Matrix::new(3, 3, vec![0., 2., 1., 5., 5., 0., -1., -2., f64::NAN]).unwrap();
        assert_eq!(argmax(&multi), vec![1, 0, 0]);
        assert_eq!(accuracy(&multi, &[1, 0, 2]), 2.0 / 3.0);
        assert_eq!(accuracy(&multi, &[-1, 0, 0]), 2.0 / 3.0);
        assert!(accuracy(&multi, &[1, 0]).is_nan());
        let single = Matrix::column(vec![-0.5, 0.0, 0.25]);
        assert_eq!(argmax(&single), vec![0, 0, 1]);
        assert_eq!(accuracy(&single, &[0, 0, 1]), 1.0);
        assert!(accuracy(&Matrix::zeros(0, 2), &[]).is_nan());
    }
}
