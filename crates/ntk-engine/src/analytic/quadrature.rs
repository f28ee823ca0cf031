//! Gauss–Hermite quadrature: the infinite-width transform of any activation.
//!
//! For `(u, v)` Gaussian with variances `q1, q2` and covariance `K`, write
//! `u = √q1·z₁`, `v = √q2·(ρ·z₁ + √(1 − ρ²)·z₂)` with `ρ = K/√(q1·q2)` and `z₁, z₂`
//! independent standard normals; then
//!
//! ```text
//! E[g(u, v)] ≈ Σ_i Σ_j p_i p_j · g(√q1·z_i, √q2·(ρ·z_i + √(1 − ρ²)·z_j))
//! ```
//!
//! over the `n` probabilists' Gauss–Hermite nodes `z_i` and weights `p_i` (`Σ p_i = 1`),
//! exact for polynomials of degree `2n − 1` in each variable. Smooth activations converge
//! geometrically in `n`; kinked ones (ReLU) only algebraically.
//!
//! The nodes are the roots of the Hermite polynomial `H_n`: the eigenvalues of its Jacobi
//! matrix (Golub & Welsch 1969), polished by Newton's method on the orthonormal three-term
//! recurrence (rescaled so it never overflows), which also gives the weights.

use crate::activation::Activation;

/// The Gauss–Hermite rule for the standard normal density: nodes `z_i` (descending) and
/// weights `p_i` summing to 1, so `E[g(z)] ≈ Σ_i p_i g(z_i)` for `z ~ N(0, 1)`.
#[derive(Clone, Debug, PartialEq)]
pub struct GaussHermite {
    /// Nodes `z_i = √2·x_i` with `x_i` the roots of the physicists' `H_n`.
    pub nodes: Vec<f64>,
    /// Weights `p_i = w_i/√π`.
    pub weights: Vec<f64>,
}

/// `π^{−1/4}`, the first orthonormal Hermite function's constant.
const PI_M4: f64 = 0.751_125_544_464_942_5;

impl GaussHermite {
    /// The `n`-point rule (`n ≥ 1`), in `f64`.
    ///
    /// # Panics
    /// If `n = 0`.
    pub fn new(n: usize) -> Self {
        assert!(n >= 1, "a Gauss–Hermite rule needs at least one node");
        let nf = n as f64;
        // Golub–Welsch: the roots of H_n are the eigenvalues of the Jacobi matrix with zero
        // diagonal and off-diagonal √(j/2).
        let mut roots = vec![0.0; n];
        let mut off: Vec<f64> = (1..=n).map(|j| (j as f64 / 2.0).sqrt()).collect();
        off[n - 1] = 0.0;
        tridiagonal_eigenvalues(&mut roots, &mut off);
        roots.sort_by(|a, b| b.total_cmp(a));
        let mut x = vec![0.0; n];
        let mut w = vec![0.0; n];
        for i in 0..n / 2 {
            // Polish with Newton on the recurrence (quadratic convergence from an eigenvalue
            // accurate to ~ε·√n), then w = 2/(2n·h̃_{n−1}(z)²), in logs so far nodes'
            // weights underflow to 0 instead of overflowing.
            let mut z = roots[i];
            let mut log_p2 = 0.0;
            for _ in 0..8 {
                let (p1, p2, log_scale) = orthonormal_hermite(n, z);
                let step = p1 / ((2.0 * nf).sqrt() * p2);
                log_p2 = p2.abs().ln() + log_scale;
                z -= step;
                if step.abs() <= 1e-15 * z.abs().max(1.0) {
                    break;
                }
            }
            x[i] = z;
            x[n - 1 - i] = -z;
            w[i] = (-nf.ln() - 2.0 * log_p2).exp();
            w[n - 1 - i] = w[i];
        }
        if n % 2 == 1 {
            let (_, p2, log_scale) = orthonormal_hermite(n, 0.0);
            w[n / 2] = (-nf.ln() - 2.0 * (p2.abs().ln() + log_scale)).exp();
        }
        let sqrt_pi = core::f64::consts::PI.sqrt();
        GaussHermite {
            nodes: x.iter().map(|v| v * core::f64::consts::SQRT_2).collect(),
            weights: w.iter().map(|v| v / sqrt_pi).collect(),
        }
    }

    /// The number of nodes.
    pub fn order(&self) -> usize {
        self.nodes.len()
    }
}

/// Eigenvalues of the symmetric tridiagonal matrix with diagonal `d` and off-diagonal
/// `e[0..n−1]` (`e[n−1]` unused), by the implicit QL iteration with Wilkinson shifts
/// (Numerical Recipes' `tqli`, eigenvalues only): `O(n²)`. They overwrite `d`.
fn tridiagonal_eigenvalues(d: &mut [f64], e: &mut [f64]) {
    let n = d.len();
    for l in 0..n {
        for _ in 0..64 {
            let mut m = l;
            while m + 1 < n {
                let dd = d[m].abs() + d[m + 1].abs();
                if e[m].abs() <= f64::EPSILON * dd {
                    break;
                }
                m += 1;
            }
            if m == l {
                break;
            }
            let mut g = (d[l + 1] - d[l]) / (2.0 * e[l]);
            let mut r = g.hypot(1.0);
            g = d[m] - d[l] + e[l] / (g + r.copysign(g));
            let (mut s, mut c, mut p) = (1.0f64, 1.0f64, 0.0f64);
            let mut i = m;
            let mut deflated = false;
            while i > l {
                i -= 1;
                let f = s * e[i];
                let b = c * e[i];
                r = f.hypot(g);
                e[i + 1] = r;
                if r == 0.0 {
                    d[i + 1] -= p;
                    e[m] = 0.0;
                    deflated = true;
                    break;
                }
                s = f / r;
                c = g / r;
                g = d[i + 1] - p;
                r = (d[i] - g) * s + 2.0 * c * b;
                p = s * r;
                d[i + 1] = g + p;
                g = c * r - b;
            }
            if !deflated {
                d[l] -= p;
                e[l] = g;
                e[m] = 0.0;
            }
        }
    }
}

/// `(h̃_n(z), h̃_{n−1}(z), ln c)` of the orthonormal Hermite polynomials (the physicists'
/// ones normalised against `e^{−z²}`), both divided by a common `c`, by the stable
/// recurrence `h̃_j = z·√(2/j)·h̃_{j−1} − √((j−1)/j)·h̃_{j−2}`; the pair is rescaled
/// whenever it grows past `1e150`, so far nodes (`e^{z²/2}` growth) never overflow.
fn orthonormal_hermite(n: usize, z: f64) -> (f64, f64, f64) {
    let (mut p1, mut p2, mut log_scale) = (PI_M4, 0.0, 0.0);
    for j in 1..=n {
        let jf = j as f64;
        let p3 = p2;
        p2 = p1;
        p1 = z * (2.0 / jf).sqrt() * p2 - ((jf - 1.0) / jf).sqrt() * p3;
        if p1.abs() > 1e150 {
            p1 *= 1e-150;
            p2 *= 1e-150;
            log_scale += 150.0 * core::f64::consts::LN_10;
        }
    }
    (p1, p2, log_scale)
}

/// An activation's infinite-width transform by two-dimensional Gauss–Hermite quadrature.
#[derive(Clone, Debug, PartialEq)]
pub struct Quadrature {
    /// The activation whose `φ` and `φ'` are integrated.
    pub activation: Activation,
    /// The rule, used in each of the two dimensions.
    pub rule: GaussHermite,
}

impl Quadrature {
    /// The transform of `activation` with an `order`-point rule per dimension.
    ///
    /// # Panics
    /// If `order = 0`.
    pub fn new(activation: Activation, order: usize) -> Self {
        Quadrature {
            activation,
            rule: GaussHermite::new(order),
        }
    }

    /// `(E[φ(u)φ(v)], E[φ'(u)φ'(v)])` for variances `q1, q2` and covariance `k`; the second
    /// is skipped (returned as 0) when `with_ntk` is false. The correlation is clamped to
    /// `[−1, 1]` and taken as 0 when a variance is 0; the smaller variance is integrated in
    /// the outer dimension, so the result is symmetric in `(q1, q2)` bitwise.
    pub fn nngp_ntk(&self, k: f64, q1: f64, q2: f64, with_ntk: bool) -> (f64, f64) {
        let act = &self.activation;
        // The tensor rule is not symmetric in (u, v); a canonical order makes the result
        // symmetric in (q1, q2) bitwise, so `x1 × x2` with `x2 = x1` matches `x1 × x1`.
        let (q1, q2) = if q1 <= q2 { (q1, q2) } else { (q2, q1) };
        let (s1, s2) = (q1.max(0.0).sqrt(), q2.max(0.0).sqrt());
        let rho = if s1 > 0.0 && s2 > 0.0 {
            (k / (s1 * s2)).clamp(-1.0, 1.0)
        } else {
            0.0
        };
        let c = (1.0 - rho * rho).max(0.0).sqrt();
        let GaussHermite { nodes, weights } = &self.rule;
        let (mut ef, mut ed) = (0.0, 0.0);
        for (&zi, &pi) in nodes.iter().zip(weights) {
            let u = s1 * zi;
            let (fu, du) = (act.value(u), if with_ntk { act.derivative(u) } else { 0.0 });
            let (mut inner_f, mut inner_d) = (0.0, 0.0);
            if c == 0.0 {
                let v = s2 * rho * zi;
                inner_f = act.value(v);
                if with_ntk {
                    inner_d = act.derivative(v);
                }
            } else {
                for (&zj, &pj) in nodes.iter().zip(weights) {
                    let v = s2 * (rho * zi + c * zj);
                    inner_f += pj * act.value(v);
                    if with_ntk {
                        inner_d += pj * act.derivative(v);
                    }
                }
            }
            ef += pi * fu * inner_f;
            ed += pi * du * inner_d;
        }
        (ef, ed)
    }

    /// `E[φ(u)²]` for `u ~ N(0, q)`, by the one-dimensional rule.
    pub fn variance(&self, q: f64) -> f64 {
        let s = q.max(0.0).sqrt();
        let GaussHermite { nodes, weights } = &self.rule;
        nodes
            .iter()
            .zip(weights)
            .map(|(&z, &p)| {
                let f = self.activation.value(s * z);
                p * f * f
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rule integrates the normal moments `E[z^{2m}] = (2m − 1)!!` exactly for
    /// `2m ≤ 2n − 1`: to 1e-13 relative (the weights are accurate to a few ulps, and the
    /// moments up to degree 10 add terms of one sign).
    #[test]
    fn moments_are_exact_up_to_the_degree() {
        for n in [1, 2, 3, 5, 8, 20, 64, 128, 300] {
            let r = GaussHermite::new(n);
            let moment = |p: i32| -> f64 {
                r.nodes
                    .iter()
                    .zip(&r.weights)
                    .map(|(z, w)| w * z.powi(p))
                    .sum()
            };
            let mut dfact = 1.0;
            for m in 0..=5.min(n as i32 - 1) {
                if m > 0 {
                    dfact *= (2 * m - 1) as f64;
                }
                let got = moment(2 * m);
                assert!(
                    (got - dfact).abs() <= 1e-13 * dfact,
                    "n={n} E[z^{}]={got} want {dfact}",
                    2 * m
                );
                assert!(moment(2 * m + 1).abs() <= 1e-13 * dfact.max(1.0) * 10.0);
            }
        }
    }

    /// Nodes are distinct, descending and symmetric.
    #[test]
    fn nodes_are_ordered_and_symmetric() {
        for n in [2, 7, 64, 200] {
            let r = GaussHermite::new(n);
            for i in 0..n {
                assert_eq!(r.nodes[i], -r.nodes[n - 1 - i]);
                if i + 1 < n {
                    assert!(r.nodes[i] > r.nodes[i + 1], "n={n} i={i}");
                }
                assert!(r.weights[i] >= 0.0);
            }
        }
    }

    /// The identity's transform is the covariance itself: exact for a rule with `n ≥ 2`.
    #[test]
    fn identity_gives_back_the_covariance() {
        let q = Quadrature::new(Activation::Identity, 8);
        let (k, d) = q.nngp_ntk(0.3, 1.2, 0.7, true);
        assert!((k - 0.3).abs() < 1e-14 && (d - 1.0).abs() < 1e-14);
        assert!((q.variance(1.7) - 1.7).abs() < 1e-14);
    }
}
