//! A branch-free `atan2` that vectorises.
//!
//! The analytic kernels take one angle per pair of points and layer (the arc-cosine, erf and
//! GELU closed forms all reduce to an `atan2`), and `libm`'s `atan2` is a branchy scalar
//! call that keeps the tile loops from vectorising. This one is straight-line IEEE
//! arithmetic (`+ − × ÷`, `min`, `max`, selects; no fused multiply-add), so a loop of it
//! vectorises under [`pulp::Arch::dispatch`] and gives the same bits on every instruction
//! set and in scalar code.
//!
//! Method (Cephes `atan`, Moshier 1989): with `t = min(|y|,|x|)/max(|y|,|x|) ∈ [0, 1]`,
//! reduce `t > 0.66` by `atan t = π/4 + atan((t − 1)/(t + 1))`, evaluate
//! `atan u = u + u·z·P(z)/Q(z)`, `z = u²`, with Cephes' degree-4/5 rational function, add
//! the low bits of `π/4`, then unfold the octant: `π/2 − r` when `|y| > |x|`, `π − r` when
//! `x < 0`, and the sign of `y`. Measured error against `libm` (the test below, 10⁶ random
//! pairs over 40 binades plus the special cases): at most 2 ulp of the result.

/// Cephes' numerator coefficients, highest degree first.
const P: [f64; 5] = [
    -8.750_608_600_031_904e-1,
    -1.615_753_718_733_365e1,
    -7.500_855_792_314_705e1,
    -1.228_866_684_490_136_2e2,
    -6.485_021_904_942_025e1,
];
/// Cephes' denominator coefficients (monic), highest degree first after the leading 1.
const Q: [f64; 5] = [
    2.485_846_490_142_306_3e1,
    1.650_270_098_316_988_5e2,
    4.328_810_604_912_903e2,
    4.853_903_996_359_137e2,
    1.945_506_571_482_614e2,
];
/// The low bits of `π/4` beyond its `f64` value, as Cephes adds them (`MOREBITS/2`).
const PIO4_LO: f64 = 3.061_616_997_868_383e-17;
/// The low bits of `π/2` beyond its `f64` value.
const PIO2_LO: f64 = 6.123_233_995_736_766e-17;

/// `atan2(y, x)` in `[−π, π]`, branch-free (see the module docs); `atan2(±0, ±0) = 0`.
/// NaN in, NaN out.
#[inline(always)]
pub fn atan2(y: f64, x: f64) -> f64 {
    use core::f64::consts::{FRAC_PI_2, FRAC_PI_4, PI};
    let (ax, ay) = (x.abs(), y.abs());
    let (lo, hi) = (ax.min(ay), ax.max(ay));
    let t = if hi > 0.0 { lo / hi } else { 0.0 };
    // t ∈ [0, 1]: reduce the upper part around π/4.
    let big = t > 0.66;
    let u = if big { (t - 1.0) / (t + 1.0) } else { t };
    let z = u * u;
    let p = (((P[0] * z + P[1]) * z + P[2]) * z + P[3]) * z + P[4];
    let q = ((((z + Q[0]) * z + Q[1]) * z + Q[2]) * z + Q[3]) * z + Q[4];
    let r = u * z * (p / q) + u;
    let r = if big { FRAC_PI_4 + (r + PIO4_LO) } else { r };
    // Unfold the octants: |y| > |x| mirrors about π/4, x < 0 about π/2.
    let r = if ay > ax { FRAC_PI_2 - r + PIO2_LO } else { r };
    let r = if x < 0.0 { PI - r + 2.0 * PIO2_LO } else { r };
    let r = if x.is_nan() || y.is_nan() {
        f64::NAN
    } else {
        r
    };
    if y < 0.0 { -r } else { r }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ulps(a: f64, b: f64) -> f64 {
        if a == b {
            return 0.0;
        }
        let spacing = f64::EPSILON * b.abs().max(f64::MIN_POSITIVE);
        (a - b).abs() / spacing
    }

    /// Within 2 ulp of `libm`'s `atan2` over a million random pairs spanning many binades
    /// and all four quadrants.
    #[test]
    fn within_two_ulp_of_libm() {
        // SplitMix64 (Steele, Lea & Flood 2014): a plain, reproducible stream of doubles.
        let mut state = 7u64;
        let mut unit = || {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut worst: f64 = 0.0;
        for _ in 0..1_000_000 {
            let ey = (unit() * 40.0 - 20.0).exp2();
            let ex = (unit() * 40.0 - 20.0).exp2();
            let sy = if unit() < 0.5 { -1.0 } else { 1.0 };
            let sx = if unit() < 0.5 { -1.0 } else { 1.0 };
            let (y, x) = (sy * unit() * ey, sx * unit() * ex);
            let e = ulps(atan2(y, x), y.atan2(x));
            worst = worst.max(e);
        }
        assert!(worst <= 2.0, "worst error {worst} ulp");
    }

    /// The values the closed forms rely on exactly: `θ = 0` for identical inputs, `θ = π`
    /// for antipodal ones, `π/2` on the axes.
    #[test]
    fn exact_special_cases() {
        use core::f64::consts::{FRAC_PI_2, FRAC_PI_4, PI};
        assert_eq!(atan2(0.0, 3.0), 0.0);
        assert_eq!(atan2(0.0, -3.0), PI);
        assert_eq!(atan2(2.0, 0.0), FRAC_PI_2);
        assert_eq!(atan2(-2.0, 0.0), -FRAC_PI_2);
        assert_eq!(atan2(0.0, 0.0), 0.0);
        assert_eq!(atan2(1.0, 1.0), FRAC_PI_4);
        assert_eq!(atan2(f64::INFINITY, 1.0), FRAC_PI_2);
        assert!(atan2(f64::NAN, 1.0).is_nan());
        assert!(atan2(1.0, f64::NAN).is_nan());
        for (y, x) in [
            (1e-300, 1.0),
            (1.0, 1e-300),
            (3.0, -4.0),
            (-3.0, -4.0),
            (1e300, 1e-10),
        ] {
            assert!(ulps(atan2(y, x), y.atan2(x)) <= 2.0, "{y} {x}");
        }
    }

    /// A dispatched (vectorised) loop of it gives the scalar bits.
    #[test]
    fn vectorised_loop_equals_scalar() {
        let ys: Vec<f64> = (0..1003)
            .map(|i| ((i * 31) % 97) as f64 / 13.0 - 3.0)
            .collect();
        let xs: Vec<f64> = (0..1003)
            .map(|i| ((i * 17) % 89) as f64 / 11.0 - 4.0)
            .collect();
        let mut out = vec![0.0; ys.len()];
        pulp::Arch::new().dispatch(
            #[inline(always)]
            || {
                for ((o, y), x) in out.iter_mut().zip(&ys).zip(&xs) {
                    *o = atan2(*y, *x);
                }
            },
        );
        for i in 0..ys.len() {
            assert_eq!(out[i].to_bits(), atan2(ys[i], xs[i]).to_bits());
        }
    }
}
