//! Elementwise kernels with the instruction set chosen at run time (STYLE §5).
//!
//! Each kernel is a plain loop run through [`pulp::Arch::dispatch`], which compiles it once
//! per instruction set (AVX-512, AVX2+FMA, scalar) with those target features enabled and
//! picks the best the CPU has when called; the loops vectorise under them. No `unsafe`
//! here, no `target-cpu=native` anywhere: one binary runs on any x86-64. The results are
//! the same bits whichever instruction set runs (the loops do the same IEEE operations
//! element by element, with no reassociation and no fused multiply-add unless written).

pub mod atan2;
pub mod gemm;
pub(crate) mod micro_avx2;
pub mod popcount;
pub mod rowdot;

use pulp::Arch;

use crate::activation::Activation;
use crate::scalar::Real;

/// `h ← φ(z + s_b·b)` in place and `dh ← φ'(z + s_b·b)`, for one column whose bias term is
/// `bias`.
pub fn bias_activation<T: Real>(act: &Activation, bias: T, z: &mut [T], dz: &mut [T]) {
    /// The loop as a `WithSimd` whose body is generic over the instruction set, so that each
    /// dispatched copy is compiled with its target features (a closure's body is compiled
    /// once without them: seen as an outlined SSE2 `call_once` in profiles).
    struct Run<'a, T> {
        act: Activation,
        bias: T,
        z: &'a mut [T],
        dz: &'a mut [T],
    }
    impl<T: Real> pulp::WithSimd for Run<'_, T> {
        type Output = ();
        #[inline(always)]
        fn with_simd<S: pulp::Simd>(self, _: S) {
            let Run { act, bias, z, dz } = self;
            match act {
                Activation::Relu => {
                    for (x, d) in z.iter_mut().zip(dz.iter_mut()) {
                        let v = *x + bias;
                        let pos = v > T::ZERO;
                        *d = if pos { T::ONE } else { T::ZERO };
                        *x = if pos { v } else { T::ZERO };
                    }
                }
                Activation::Identity => {
                    for (x, d) in z.iter_mut().zip(dz.iter_mut()) {
                        *x += bias;
                        *d = T::ONE;
                    }
                }
                _ => {
                    for x in z.iter_mut() {
                        *x += bias;
                    }
                    act.forward_in_place(z, dz);
                }
            }
        }
    }
    Arch::new().dispatch(Run {
        act: *act,
        bias,
        z,
        dz,
    })
}

/// `acc += alpha·src`, `src` promoted to `f64`.
pub fn promote_add<T: Real>(acc: &mut [f64], src: &[T], alpha: f64) {
    Arch::new().dispatch(
        #[inline(always)]
        || {
            for (a, s) in acc.iter_mut().zip(src) {
                *a += alpha * s.f64();
            }
        },
    )
}

/// `out += (sw2·a + sb2)·d`: one layer's term of the NTK, Hadamard-accumulated.
pub fn layer_term(out: &mut [f64], a: &[f64], d: &[f64], sw2: f64, sb2: f64) {
    Arch::new().dispatch(
        #[inline(always)]
        || {
            for ((o, x), y) in out.iter_mut().zip(a).zip(d) {
                *o += (sw2 * *x + sb2) * *y;
            }
        },
    )
}

/// `d = 0 + (sw2·a + sb2)·d`: [`layer_term`] onto a zero output written over its own `d`, the
/// same operations (the `0 +` included, so a `-0` product still comes out `+0`).
pub fn layer_term_onto(d: &mut [f64], a: &[f64], sw2: f64, sb2: f64) {
    Arch::new().dispatch(
        #[inline(always)]
        || {
            for (y, x) in d.iter_mut().zip(a) {
                *y = 0.0 + (sw2 * *x + sb2) * *y;
            }
        },
    )
}

/// `out += sw2·a + sb2`: the readout's term (its `δ` is the identity).
pub fn readout_term(out: &mut [f64], a: &[f64], sw2: f64, sb2: f64) {
    Arch::new().dispatch(
        #[inline(always)]
        || {
            for (o, x) in out.iter_mut().zip(a) {
                *o += sw2 * *x + sb2;
            }
        },
    )
}

/// `out = s·g` (a column of `δ`: the back-propagated scale times `φ'`).
pub fn scaled_copy<T: Real>(out: &mut [T], g: &[T], s: T) {
    Arch::new().dispatch(
        #[inline(always)]
        || {
            for (o, x) in out.iter_mut().zip(g) {
                *o = s * *x;
            }
        },
    )
}

/// `out = s·out`: [`scaled_copy`] onto its own source, the same products.
pub fn scale_in_place<T: Real>(out: &mut [T], s: T) {
    Arch::new().dispatch(
        #[inline(always)]
        || {
            for o in out.iter_mut() {
                *o = s * *o;
            }
        },
    )
}

/// `out ⊙= g`.
pub fn hadamard_in_place<T: Real>(out: &mut [T], g: &[T]) {
    Arch::new().dispatch(
        #[inline(always)]
        || {
            for (o, x) in out.iter_mut().zip(g) {
                *o *= *x;
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The layer term written over its `d` gives the bits of adding it to a zero output,
    /// the sign of zero included (`−0` products, from a negative factor times `+0`, and `+0`
    /// times a negative `d`).
    #[test]
    fn layer_term_onto_its_d_equals_adding_to_zero() {
        let a: Vec<f64> = (0..257)
            .map(|i| ((i * 29) % 13) as f64 / 3.0 - 2.0)
            .collect();
        let d: Vec<f64> = (0..257)
            .map(|i| {
                if i % 5 == 0 {
                    0.0
                } else {
                    ((i * 7) % 11) as f64 - 5.0
                }
            })
            .collect();
        for (sw2, sb2) in [(2.0, 0.01), (1.0, 0.0), (0.5, 1e-300)] {
            let mut out = vec![0.0; a.len()];
            layer_term(&mut out, &a, &d, sw2, sb2);
            let mut onto = d.clone();
            layer_term_onto(&mut onto, &a, sw2, sb2);
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&onto), bits(&out), "sw2 {sw2}, sb2 {sb2}");
        }
    }

    /// The dispatched kernels against scalar loops, bit for bit (but for the sign of a zero:
    /// the ReLU kernel writes +0 where `0·x` gives −0 for negative `x`).
    #[test]
    fn kernels_match_scalar_loops() {
        let z0: Vec<f32> = (0..1001)
            .map(|i| ((i * 37) % 101) as f32 / 17.0 - 3.0)
            .collect();
        for act in [
            Activation::Relu,
            Activation::Identity,
            Activation::Tanh,
            Activation::Gelu,
        ] {
            let (mut z, mut dz) = (z0.clone(), vec![0.0f32; z0.len()]);
            bias_activation(&act, 0.25, &mut z, &mut dz);
            for i in 0..z0.len() {
                let v = z0[i] + 0.25;
                let want = act.value(v);
                assert!(
                    z[i].to_bits() == want.to_bits() || (z[i] == 0.0 && want == 0.0),
                    "{act}"
                );
                assert_eq!(dz[i].to_bits(), act.derivative(v).to_bits(), "{act}'");
            }
        }
        let a: Vec<f64> = (0..999).map(|i| i as f64 * 0.37 - 9.0).collect();
        let d: Vec<f64> = (0..999).map(|i| (i as f64).sin()).collect();
        let mut out = vec![1.0; 999];
        layer_term(&mut out, &a, &d, 0.3, 0.01);
        for i in 0..999 {
            assert_eq!(
                out[i].to_bits(),
                (1.0 + (0.3 * a[i] + 0.01) * d[i]).to_bits()
            );
        }
        // In place and copied, the same products (a zero times a negative scale is −0 in
        // both).
        let g: Vec<f32> = z0.iter().map(|&v| if v > 0.0 { v } else { 0.0 }).collect();
        let (mut copied, mut scaled) = (vec![0.0f32; g.len()], g.clone());
        scaled_copy(&mut copied, &g, -1.5);
        scale_in_place(&mut scaled, -1.5);
        for i in 0..g.len() {
            assert_eq!(copied[i].to_bits(), (-1.5 * g[i]).to_bits());
            assert_eq!(scaled[i].to_bits(), copied[i].to_bits());
        }
        let mut acc = vec![0.5; 999];
        promote_add(&mut acc, &z0[..999], 2.0);
        for i in 0..999 {
            assert_eq!(acc[i].to_bits(), (0.5 + 2.0 * z0[i] as f64).to_bits());
        }
    }
}
