"""ntk's Python module vs neural-tangents, side by side in one Python process.

Run it through `benches/compare/run_py.sh` (the pinned neural-tangents venv of run.sh, with
the `ntk` wheel installed into it). Both libraries are called from this interpreter on the
same NumPy inputs; the calls alternate (nt, ntk, nt, ntk, …) so both see the same machine
load, and the ratio nt/ntk is taken per round and summarised by its median and range.

Workloads (the same models as nt_bench.py):

* empirical: the empirical NTK of Dense(m) → ReLU → Dense(1), NTK parameterization, no
  biases, traced, x × x, f32, n random unit-norm inputs of dimension 784.
  neural-tangents: `jax.jit(nt.empirical_ntk_fn(apply_fn, trace_axes=(-1,), vmap_axes=0,
  implementation=STRUCTURED_DERIVATIVES))(x, None, params).block_until_ready()`, compiled
  beforehand. ntk: `ntk.Mlp(widths=[m]).empirical(x, params=params, dtype="float32")` with
  neural-tangents' own weights (so the two kernels are compared too), result as NumPy.
* analytic: the infinite-width NTK of 3 × (Dense(512) → ReLU) → Dense(1), W_std = √2,
  b_std = 0.1, x × x, f64. neural-tangents: `jax.jit(kernel_fn, static_argnames="get")(x,
  None, "ntk")` under `enable_x64`, compiled beforehand. ntk: `Mlp(...).kernel(x, None,
  "ntk")`.
"""

import argparse
import os
import statistics
import time

import numpy as np
import jax
import jax.numpy as jnp
from jax.experimental import enable_x64
import neural_tangents as nt
from neural_tangents import stax

import ntk


def unit_rows(n, d, seed):
    x = np.random.default_rng(seed).standard_normal((n, d))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def timed(f):
    t = time.perf_counter()
    f()
    return time.perf_counter() - t


def alternate(nt_call, ntk_call, reps):
    nt_call(), ntk_call()  # warm-up
    nts, ntks = [], []
    for _ in range(reps):
        nts.append(timed(nt_call))
        ntks.append(timed(ntk_call))
    return nts, ntks


def row(label, nts, ntks, check):
    ratios = [a / b for a, b in zip(nts, ntks)]
    print(
        f"{label:38} nt {statistics.median(nts):8.3f} s   ntk {statistics.median(ntks):8.3f} s"
        f"   nt/ntk {statistics.median(ratios):6.2f} ({min(ratios):.2f}–{max(ratios):.2f})"
        f"   {check}",
        flush=True,
    )


def empirical(n, m, reps, threads):
    x = unit_rows(n, 784, 0).astype(np.float32)
    init_fn, apply_fn, _ = stax.serial(
        stax.Dense(m, W_std=1.0, b_std=None, parameterization="ntk"),
        stax.Relu(),
        stax.Dense(1, W_std=1.0, b_std=None, parameterization="ntk"),
    )
    xj = jax.device_put(jnp.asarray(x))
    _, params = init_fn(jax.random.PRNGKey(0), xj.shape)
    fn = jax.jit(
        nt.empirical_ntk_fn(
            apply_fn,
            trace_axes=(-1,),
            vmap_axes=0,
            implementation=nt.NtkImplementation.STRUCTURED_DERIVATIVES,
        )
    )
    (w0, _), _, (w1, _) = params
    ours = [(np.asarray(w0), np.zeros(m)), (np.asarray(w1), np.zeros(1))]
    mlp = ntk.Mlp(widths=[m])
    holder = {}

    def nt_call():
        holder["nt"] = np.asarray(fn(xj, None, params).block_until_ready())

    def ntk_call():
        holder["ntk"] = mlp.empirical(x, params=ours, dtype="float32", threads=threads)

    nts, ntks = alternate(nt_call, ntk_call, reps)
    diff = np.abs(holder["ntk"] - holder["nt"]).max() / np.abs(holder["nt"]).max()
    row(f"empirical NTK n={n} m={m} f32", nts, ntks, f"max rel diff {diff:.1e}")


def analytic(n, reps, threads):
    x = unit_rows(n, 784, 1)
    layers = []
    for _ in range(3):
        layers += [stax.Dense(512, W_std=2**0.5, b_std=0.1), stax.Relu()]
    layers += [stax.Dense(1, W_std=2**0.5, b_std=0.1)]
    _, _, kfn = stax.serial(*layers)
    kfn = jax.jit(kfn, static_argnames="get")
    mlp = ntk.Mlp(widths=[512] * 3, activation="relu", w_std=2**0.5, b_std=0.1)
    holder = {}
    with enable_x64():
        xj = jax.device_put(jnp.asarray(x, dtype=jnp.float64))

        def nt_call():
            holder["nt"] = np.asarray(kfn(xj, None, "ntk").block_until_ready())

        def ntk_call():
            holder["ntk"] = mlp.kernel(x, None, "ntk", threads=threads)

        nts, ntks = alternate(nt_call, ntk_call, reps)
    diff = np.abs(holder["ntk"] - holder["nt"]).max() / np.abs(holder["nt"]).max()
    row(f"analytic NTK n={n} depth 3 relu f64", nts, ntks, f"max rel diff {diff:.1e}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1024, help="points of the empirical workloads")
    ap.add_argument("--widths", default="4096,16384", help="widths of the empirical workloads")
    ap.add_argument("--analytic-n", type=int, default=2000)
    ap.add_argument("--reps", type=int, default=5, help="timed rounds per workload")
    ap.add_argument("--threads", type=int, default=None, help="ntk threads (default: all)")
    a = ap.parse_args()
    print(f"jax {jax.__version__}, neural-tangents {nt.__version__}, ntk {ntk.__version__}, "
          f"numpy {np.__version__}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}")
    for m in [int(w) for w in a.widths.split(",") if w]:
        empirical(a.n, m, a.reps, a.threads)
    if a.analytic_n:
        analytic(a.analytic_n, a.reps, a.threads)
    print(f"load {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
