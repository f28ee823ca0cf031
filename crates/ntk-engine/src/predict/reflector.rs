//! One elementary reflector `H = I − τ·v·vᵀ` (`v₀ = 1`) and the vector loops the two-stage
//! tridiagonalisation is made of (Golub & Van Loan, *Matrix Computations*, 4th ed., §5.1.2;
//! LAPACK's `dlarfg` convention).
//!
//! The loops are plain element-by-element IEEE operations, compiled per instruction set by
//! [`pulp::Arch::dispatch`] at their callers; the dot product keeps eight partial sums in a
//! fixed order, so its bits are the same on every instruction set and thread count.

/// `Σ aᵢ·bᵢ` over eight fixed partial sums (lane `l` takes `i ≡ l mod 8`), added pairwise at
/// the end.
#[inline(always)]
pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f64; 8];
    let chunks = n / 8;
    for c in 0..chunks {
        let (x, y) = (&a[c * 8..c * 8 + 8], &b[c * 8..c * 8 + 8]);
        for l in 0..8 {
            acc[l] += x[l] * y[l];
        }
    }
    for i in chunks * 8..n {
        acc[i % 8] += a[i] * b[i];
    }
    ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]))
}

/// `y ← y + α·x`.
#[inline(always)]
pub(crate) fn axpy(alpha: f64, x: &[f64], y: &mut [f64]) {
    for (y, x) in y.iter_mut().zip(x) {
        *y += alpha * x;
    }
}

/// Turns `x` into the reflector that maps it to `β·e₀`: on return `x = [β, v₁, v₂, …]`
/// (`v₀ = 1` implied) and the result is `τ`. `τ = 0` (`H = I`) when `x₁.. = 0`.
///
/// `β = −sign(x₀)·‖x‖`, `τ = (β − x₀)/β`, `v = x/(x₀ − β)` below its first entry.
#[inline(always)]
pub(crate) fn make(x: &mut [f64]) -> f64 {
    if x.len() < 2 {
        return 0.0;
    }
    let alpha = x[0];
    let tail = dot(&x[1..], &x[1..]);
    if tail == 0.0 {
        return 0.0;
    }
    let norm = (alpha * alpha + tail).sqrt();
    let beta = if alpha >= 0.0 { -norm } else { norm };
    let tau = (beta - alpha) / beta;
    let scale = 1.0 / (alpha - beta);
    for v in &mut x[1..] {
        *v *= scale;
    }
    x[0] = beta;
    tau
}

/// `y ← H·y = y − τ·(vᵀy)·v`.
#[inline(always)]
pub(crate) fn apply(v: &[f64], tau: f64, y: &mut [f64]) {
    let s = tau * dot(v, y);
    axpy(-s, v, y);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `H·x = β·e₀` and `H` is orthogonal (`H·H = I`), to rounding (1e-15 relative).
    #[test]
    fn maps_to_a_multiple_of_the_first_axis() {
        for x0 in [
            vec![3.0, 4.0],
            vec![-1.0, 2.0, -2.0, 0.5, 7.0, 1e-3, 2.0, 3.0, -4.0, 9.0],
            vec![0.0, 1.0, 1.0],
        ] {
            let mut r = x0.clone();
            let tau = make(&mut r);
            let beta = r[0];
            let mut v = r.clone();
            v[0] = 1.0;
            let mut hx = x0.clone();
            apply(&v, tau, &mut hx);
            let norm = dot(&x0, &x0).sqrt();
            assert!((beta.abs() - norm).abs() < 1e-15 * norm);
            assert!((hx[0] - beta).abs() < 1e-15 * norm);
            assert!(hx[1..].iter().all(|e| e.abs() < 1e-15 * norm), "{hx:?}");
            let mut back = hx.clone();
            apply(&v, tau, &mut back);
            for (a, b) in back.iter().zip(&x0) {
                assert!((a - b).abs() < 1e-14 * norm);
            }
        }
        let mut z = vec![2.0, 0.0, 0.0];
        assert_eq!(make(&mut z), 0.0);
        assert_eq!(z, vec![2.0, 0.0, 0.0]);
    }

    /// The eight-lane dot product equals the sum in f64 of exactly representable products.
    #[test]
    fn dot_is_exact_on_small_integers() {
        let a: Vec<f64> = (0..37).map(|i| i as f64).collect();
        let b: Vec<f64> = (0..37).map(|i| (i % 5) as f64 - 2.0).collect();
        let exact: f64 = (0..37i64).map(|i| (i * (i % 5 - 2)) as f64).sum();
        assert_eq!(dot(&a, &b), exact);
    }
}
