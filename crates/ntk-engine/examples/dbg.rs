use ntk_engine::analytic::{Dual, Recursion};
use ntk_engine::{Activation, Mlp};
fn main() {
    let m = Mlp::new(4, &vec![8; 50], Activation::Gelu).with_w_std(4.0);
    let r = Recursion::new(&m, Dual::new(Activation::Gelu, 8));
    let x = [0.3, -0.5, 0.9, 0.1];
    let mut q = vec![0.0; 50];
    r.variances(&x, true, &mut q);
    let mut k = r.input(&x, &x);
    for l in 0..50 {
        k = r.layers[l].variance(k);
        let (kn, d) = r.dual.nngp_ntk(k, q[l], q[l], true);
        println!("{l} q={:e} k={k:e} kn={kn:e} dot={d}", q[l]);
        k = kn;
    }
}
