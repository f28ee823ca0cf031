"""ntk vs neural-tangents, side by side, in one run.

Run it through `benches/compare/run.sh`, which makes the pinned environment, patches
neural-tangents for jax 0.4.30 and builds `ntk`; see benches/compare/README.md.

What is timed, per workload (the empirical NTK of a one-hidden-layer ReLU net, f(x) =
W1ᵀ relu(W0ᵀ x / √d) / √m, NTK parameterization, no biases, 1 output, traced, x1 × x1, f32,
n = 1024 random unit-norm inputs of dimension d = 784):

* neural-tangents: `jax.jit(nt.empirical_ntk_fn(apply_fn, trace_axes=(-1,), vmap_axes=0,
  implementation=...))(x, None, params).block_until_ready()`, compiled beforehand; only the
  call is timed.
* ntk: `ntk kernel --method empirical --x1 X.npy --widths M --out K.npy --dtype f32`, a fresh
  process each time. We report the `time X s` that ntk prints (from after the inputs are
  mapped to after the kernel is in its memory-mapped output file; it includes drawing the
  weights from the seed, which the neural-tangents timing does not) and, beside it, the wall
  time of the whole process (run under GNU `time -v`, which also gives its peak RSS).

After a warm-up of each, the two alternate (nt, ntk, nt, ntk, ...) so that both see the same
machine load; the ratio nt/ntk is taken per repetition and summarised by its median, min–max
and interquartile range.
"""

import argparse
from importlib import metadata
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import jax
import jax.numpy as jnp
import neural_tangents as nt
from neural_tangents import stax

import nt_workloads

N, D = 1024, 784
GEMM_N = 4096
IMPLS = {
    1: "JACOBIAN_CONTRACTION",
    2: "NTK_VECTOR_PRODUCTS",
    3: "STRUCTURED_DERIVATIVES",
}


# ---------------------------------------------------------------- small helpers


def say(*a):
    print(*a, flush=True)


def uptime():
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "load average: %.2f, %.2f, %.2f" % os.getloadavg()


def quartiles(xs):
    q = statistics.quantiles(xs, n=4, method="inclusive") if len(xs) > 1 else [xs[0]] * 3
    return q[0], q[1], q[2]


def mib(v):
    return "n/a (no /usr/bin/time)" if v is None else f"{v:.0f} MiB ({v / 1024:.2f} GiB)"


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def inputs(path, n=N, d=D, seed=0):
    """n random unit-norm f32 points in R^d, written once to `path` and reused."""
    if os.path.exists(path):
        x = np.load(path)
        if x.shape == (n, d) and x.dtype == np.float32:
            return x
    x = np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    np.save(path, x)
    return x


# ---------------------------------------------------------------- GEMM rate


def gemm_jax(reps):
    """f32 4096 × 4096 product through XLA (what neural-tangents runs on)."""
    k1, k2 = jax.random.split(jax.random.PRNGKey(1))
    a = jax.random.normal(k1, (GEMM_N, GEMM_N), jnp.float32)
    b = jax.random.normal(k2, (GEMM_N, GEMM_N), jnp.float32)
    mm = jax.jit(lambda a, b: a @ b)
    mm(a, b).block_until_ready()
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        mm(a, b).block_until_ready()
        ts.append(time.perf_counter() - t)
    return ts


_NUMPY_GEMM = """
import json, sys, time, numpy as np
n, reps = int(sys.argv[1]), int(sys.argv[2])
r = np.random.default_rng(1)
a = r.standard_normal((n, n), dtype=np.float32)
b = r.standard_normal((n, n), dtype=np.float32)
a @ b
ts = []
for _ in range(reps):
    t = time.perf_counter(); a @ b; ts.append(time.perf_counter() - t)
print(json.dumps(ts))
"""


def gemm_numpy(reps):
    """f32 4096 × 4096 product through numpy's OpenBLAS, in a child process without
    OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE (set on some machines for other programs; they
    would pin OpenBLAS to a kernel that is not the best for this CPU)."""
    env = dict(os.environ)
    env.pop("OPENBLAS_CORETYPE", None)
    env.pop("OPENBLAS_L2_SIZE", None)
    out = subprocess.run(
        [sys.executable, "-c", _NUMPY_GEMM, str(GEMM_N), str(reps)],
        env=env, capture_output=True, text=True, check=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def gemm_rates(reps):
    flop = 2.0 * GEMM_N**3
    res = {}
    for name, fn in (("numpy (OpenBLAS)", gemm_numpy), ("jax (XLA)", gemm_jax)):
        ts = fn(reps)
        res[name] = flop / statistics.median(ts) / 1e9
        say(f"  f32 GEMM {GEMM_N}×{GEMM_N}, {name:17s}: median {statistics.median(ts):.3f} s "
            f"-> {res[name]:6.1f} GFLOP/s (best {flop / min(ts) / 1e9:.1f})")
    return res


# ---------------------------------------------------------------- neural-tangents


def nt_net(m):
    """Dense(m) → ReLU → Dense(1), NTK parameterization, W_std = 1, no biases
    (b_std=None): the same model as `ntk --widths m` with its defaults (b_std = 0)."""
    init_fn, apply_fn, _ = stax.serial(
        stax.Dense(m, W_std=1.0, b_std=None, parameterization="ntk"),
        stax.Relu(),
        stax.Dense(1, W_std=1.0, b_std=None, parameterization="ntk"),
    )
    return init_fn, apply_fn


class NtKernel:
    """A compiled neural-tangents empirical NTK of x × x for one width and implementation."""

    def __init__(self, x, m, impl, seed=0):
        init_fn, apply_fn = nt_net(m)
        self.x = jax.device_put(jnp.asarray(x))
        _, self.params = init_fn(jax.random.PRNGKey(seed), self.x.shape)
        # vmap_axes=0: the outputs of the net are independent across the batch axis,
        # which lets neural-tangents vectorise per example (its documented fast path;
        # without it structured derivatives form n × n cross terms and run out of memory).
        fn = nt.empirical_ntk_fn(apply_fn, trace_axes=(-1,), vmap_axes=0,
                                 implementation=impl)
        self.fn = jax.jit(fn)
        t = time.perf_counter()
        self.fn(self.x, None, self.params).block_until_ready()  # compile + first run
        self.compile_s = time.perf_counter() - t

    def __call__(self):
        """Seconds for one kernel computation (the result is discarded)."""
        t = time.perf_counter()
        self.fn(self.x, None, self.params).block_until_ready()
        return time.perf_counter() - t

    def kernel(self):
        return np.asarray(self.fn(self.x, None, self.params))

    def save_weights(self, d):
        """neural-tangents' stax layout, which `ntk --weights` reads (zero biases)."""
        (w0, b0), _, (w1, b1) = self.params
        assert b0 is None and b1 is None
        os.makedirs(d, exist_ok=True)
        np.save(os.path.join(d, "W0.npy"), np.asarray(w0))
        np.save(os.path.join(d, "b0.npy"), np.zeros(w0.shape[1], np.float32))
        np.save(os.path.join(d, "W1.npy"), np.asarray(w1))
        np.save(os.path.join(d, "b1.npy"), np.zeros(w1.shape[1], np.float32))


# ---------------------------------------------------------------- ntk


_TIME = re.compile(r"^\s*time\s+([0-9.eE+-]+)\s*s\b.*?([0-9.eE+-]+)\s*GFLOP/s", re.M)
_RSS = re.compile(r"Maximum resident set size \(kbytes\):\s*(\d+)")


GNU_TIME = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None


def run_ntk(ntk, x_path, m, out_path, extra=()):
    """One `ntk kernel` process. Returns its printed kernel time and GFLOP/s, the wall time
    of the process and its peak RSS. The RSS comes from GNU time's `-v` (None without it):
    the rusage that wait4 gives for a child of this process is no use, since Linux carries
    the parent's peak RSS (here that of jax) over fork and exec into the child's."""
    cmd = [ntk, "kernel", "--method", "empirical", "--x1", x_path, "--widths", str(m),
           "--out", out_path, "--dtype", "f32", *extra]
    nt_workloads.remove_outputs(cmd)  # outside the timing: see there
    if GNU_TIME:
        cmd = [GNU_TIME, "-v", *cmd]
    t = time.perf_counter()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wall = time.perf_counter() - t
    out = p.stdout
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}):\n{out}")
    mt = _TIME.search(out)
    if not mt:
        raise RuntimeError(f"no 'time X s, ..., Y GFLOP/s' line in ntk's output:\n{out}")
    mr = _RSS.search(out)
    return dict(time=float(mt.group(1)), gflops=float(mt.group(2)), wall=wall,
                rss_mib=int(mr.group(1)) / 1024 if mr else None, out=out)


# ---------------------------------------------------------------- the runs


def pause():
    # Let the other side's threads go idle before the next timed run.
    time.sleep(0.2)


def alternate(nt_kernels, ntk_call, reps):
    """Warm-up of each, then `reps` rounds of (every nt kernel, ntk)."""
    for k in nt_kernels.values():
        k()
        pause()
    ntk_call()
    pause()
    nt_t = {impl: [] for impl in nt_kernels}
    ntk_r = []
    for _ in range(reps):
        for impl, k in nt_kernels.items():
            nt_t[impl].append(k())
            pause()
        ntk_r.append(ntk_call())
        pause()
    return nt_t, ntk_r


def summary(label, impl, nt_ts, ntk_rs, gemm):
    ntk_ts = [r["time"] for r in ntk_rs]
    ratios = [a / b for a, b in zip(nt_ts, ntk_ts)]
    q1, med, q3 = quartiles(ratios)
    gflop = statistics.median(r["gflops"] * r["time"] for r in ntk_rs)
    s = dict(
        workload=label, impl=IMPLS[impl], reps=len(ratios),
        nt=statistics.median(nt_ts), ntk=statistics.median(ntk_ts),
        ntk_wall=statistics.median(r["wall"] for r in ntk_rs),
        ratio=med, rmin=min(ratios), rmax=max(ratios), q1=q1, q3=q3,
        ntk_gflops=gflop / statistics.median(ntk_ts),
        nt_gflops=gflop / statistics.median(nt_ts),
        rss=None if ntk_rs[0]["rss_mib"] is None else max(r["rss_mib"] for r in ntk_rs),
    )
    s["ntk_frac"] = s["ntk_gflops"] / gemm
    return s


def print_rows(rows, gemm):
    say("")
    say(f"| workload | nt implementation | nt median s | ntk median s (kernel) | ntk wall s "
        f"| nt/ntk median | min–max | IQR | ntk GFLOP/s | of GEMM ({gemm:.0f}) | nt GFLOP/s* "
        f"| ntk peak RSS |")
    say("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for s in rows:
        say(f"| {s['workload']} | {s['impl']} | {s['nt']:.3f} | {s['ntk']:.3f} | "
            f"{s['ntk_wall']:.3f} | **{s['ratio']:.2f}×** | {s['rmin']:.2f}–{s['rmax']:.2f} | "
            f"{s['q1']:.2f}–{s['q3']:.2f} | {s['ntk_gflops']:.1f} | {100 * s['ntk_frac']:.0f}% | "
            f"{s['nt_gflops']:.1f} | {mib(s['rss'])} |")
    say("* nt GFLOP/s counts ntk's operations (the factorization's minimum), not the ones "
        "neural-tangents executes.")


# ---------------------------------------------------------------- deep nets (issue 10)
#
# Kept apart from the one-layer workloads above: `--deep` runs them after those (or alone,
# with `--no-shallow`). Same alternation, same GEMM rate, same ratio summary.

SQRT2 = 2.0 ** 0.5


def nt_deep_net(widths, k, w_std, b_std):
    """Dense(m) → ReLU per hidden width, then Dense(k); NTK parameterization, biases of
    scale b_std: the model of `ntk --widths m1,m2,… --w-std W --b-std B --outputs k`."""
    layers = []
    for m in widths:
        layers += [stax.Dense(m, W_std=w_std, b_std=b_std, parameterization="ntk"), stax.Relu()]
    layers.append(stax.Dense(k, W_std=w_std, b_std=b_std, parameterization="ntk"))
    init_fn, apply_fn, _ = stax.serial(*layers)
    return init_fn, apply_fn


class NtDeepKernel(NtKernel):
    """A compiled neural-tangents empirical NTK of x × x for a deep net: traced over the
    outputs (`trace_axes=(-1,)`) or the full k × k kernel (`trace_axes=()`)."""

    def __init__(self, x, widths, k, w_std, b_std, full, impl=3, seed=0):
        init_fn, apply_fn = nt_deep_net(widths, k, w_std, b_std)
        self.x = jax.device_put(jnp.asarray(x))
        _, self.params = init_fn(jax.random.PRNGKey(seed), self.x.shape)
        fn = nt.empirical_ntk_fn(apply_fn, trace_axes=() if full else (-1,), vmap_axes=0,
                                 implementation=impl)
        self.fn = jax.jit(fn)
        t = time.perf_counter()
        self.fn(self.x, None, self.params).block_until_ready()
        self.compile_s = time.perf_counter() - t

    def save_weights(self, d):
        """W0.npy, b0.npy, W1.npy, … in the order of the Dense layers (ReLU layers have no
        parameters)."""
        os.makedirs(d, exist_ok=True)
        dense = [p for p in self.params if len(p) == 2]
        for l, (w, b) in enumerate(dense):
            np.save(os.path.join(d, f"W{l}.npy"), np.asarray(w))
            np.save(os.path.join(d, f"b{l}.npy"), np.asarray(b))


def deep_flags(widths, k, w_std, b_std, full):
    f = ["--w-std", repr(w_std), "--b-std", repr(b_std), "--outputs", str(k)]
    return f + (["--full"] if full else [])


def deep_label(widths, k, full):
    depth, m = len(widths), widths[0]
    s = f"depth {depth} × {m}" if len(set(widths)) == 1 else "widths " + ",".join(map(str, widths))
    if k > 1:
        s += f", k = {k} " + ("full k×k" if full else "traced")
    return s


def deep_workloads(args, x, x_path, tmp, gemm):
    """The deep-net rows: the side-by-side workloads (alternated with neural-tangents'
    structured derivatives, after an agreement check on the same weights), then the depth
    sweep, ntk alone, for its fraction of the GEMM rate. Returns (rows, sweep)."""
    out = os.path.join(tmp, "K.npy")
    w_std, b_std = SQRT2, 0.1
    rows = []
    side = [([int(w) for w in spec.split(",")], 1, False) for spec in args.deep_nets.split(";") if spec]
    side += [([int(w) for w in spec.split(",")], args.full_k, True)
             for spec in args.full_nets.split(";") if spec]
    for widths, k, full in side:
        label = deep_label(widths, k, full)
        flags = deep_flags(widths, k, w_std, b_std, full)
        wspec = ",".join(map(str, widths))
        say(f"\n== deep: {label}, n = {N}, d = {D}, W_std = √2, b_std = {b_std}: "
            f"{args.reps} rounds of (nt, ntk) after a warm-up")
        kern = NtDeepKernel(x, widths, k, w_std, b_std, full)
        say(f"  nt compiled + first call {kern.compile_s:.2f} s "
            f"(trace_axes={'()' if full else '(-1,)'}, STRUCTURED_DERIVATIVES)")
        wdir = os.path.join(tmp, "weights-deep")
        shutil.rmtree(wdir, ignore_errors=True)
        kern.save_weights(wdir)
        run_ntk(args.ntk, x_path, wspec, out, extra=[*flags, "--weights", wdir])
        k_nt, k_ntk = kern.kernel(), np.load(out)
        err = np.max(np.abs(k_nt - k_ntk)) / np.max(np.abs(k_nt))
        frob = np.linalg.norm(k_nt - k_ntk) / np.linalg.norm(k_nt)
        say(f"  agreement on nt's weights: max |K_nt - K_ntk| / max |K_nt| = {err:.2e}, "
            f"‖K_nt - K_ntk‖_F / ‖K_nt‖_F = {frob:.2e} (shapes {k_nt.shape} / {k_ntk.shape})")
        # The check is on the Frobenius norm, not the largest entry: in f32 a pre-activation
        # within rounding of zero flips one ReLU derivative in one engine and not the other,
        # and moves that point's row by O(1/m) (nt's weights, depth 2 × 1024, k = 10: point
        # 997 has |z| = 2.3e-8 at one neuron of layer 2, typical |z| 0.12; ntk f32 then
        # differs from ntk f64 and from nt by 3.4e-3 of the largest entry, 6.9e-5 in norm).
        # A different workload (weights, scales, parameterization) is off by O(1) either way.
        if k_nt.shape != k_ntk.shape or frob > 1e-3:
            raise SystemExit("the two kernels disagree: not the same workload")
        del k_nt, k_ntk
        nt_t, ntk_r = alternate({3: kern}, lambda: run_ntk(args.ntk, x_path, wspec, out, extra=flags),
                                args.reps)
        for i, (a, r) in enumerate(zip(nt_t[3], ntk_r)):
            say(f"  round {i + 1}: nt {a:.4f} s, ntk {r['time']:.4f} s (wall {r['wall']:.3f} s), "
                f"ratio {a / r['time']:.2f}")
        rows.append(summary(label, 3, nt_t[3], ntk_r, gemm))
        say(f"  uptime: {uptime()}")
        del kern
    sweep = []
    for m in [int(w) for w in args.deep_widths.split(",") if w]:
        for depth in [int(v) for v in args.deep_depths.split(",") if v]:
            widths = [m] * depth
            label = deep_label(widths, 1, False)
            say(f"\n== depth sweep, ntk alone: {label}, n = {N}: {args.sweep_reps} rounds of "
                f"(numpy f32 GEMM {GEMM_N}², median of 3; ntk)")
            rs, fr = [], []
            try:
                for _ in range(args.sweep_reps):
                    # The GEMM rate right before each run: the fraction per round sees the
                    # load the run saw (the alternation of the side-by-side workloads). The
                    # median of three products: one alone swung from 133 to 200 GFLOP/s
                    # between adjacent rounds on a 2-core VM (2026-12-03), which put some
                    # rounds at "100%" of a slow sample.
                    g_rate = 2.0 * GEMM_N**3 / statistics.median(gemm_numpy(3)) / 1e9
                    pause()
                    r = run_ntk(args.ntk, x_path, ",".join(map(str, widths)), out,
                                extra=deep_flags(widths, 1, w_std, b_std, False))
                    rs.append(r)
                    fr.append(r["gflops"] / g_rate)
                    say(f"  round: GEMM {g_rate:.1f} GFLOP/s, ntk {r['time']:.3f} s "
                        f"{r['gflops']:.1f} GFLOP/s -> {100 * fr[-1]:.0f}% of GEMM")
                    pause()
            except RuntimeError as e:  # e.g. over the memory budget: report and go on
                say(f"  failed: {str(e).splitlines()[0]}")
                continue
            t = statistics.median(r["time"] for r in rs)
            g = statistics.median(r["gflops"] for r in rs)
            rss = None if rs[0]["rss_mib"] is None else max(r["rss_mib"] for r in rs)
            say(f"  median {t:.3f} s, {g:.1f} GFLOP/s, {100 * statistics.median(fr):.0f}% of the "
                f"adjacent GEMM (range {100 * min(fr):.0f}–{100 * max(fr):.0f}%), peak RSS {mib(rss)}; "
                f"uptime: {uptime()}")
            sweep.append(dict(workload=label, ntk=t, ntk_gflops=g, rss=rss,
                              frac=statistics.median(fr), fmin=min(fr), fmax=max(fr)))
    return rows, sweep


def print_deep(rows, sweep, gemm):
    if rows:
        print_rows(rows, gemm)
    if sweep:
        say("")
        say(f"| depth sweep (ntk alone, n = {N}, d = {D}, ReLU, W_std = √2, b_std = 0.1) "
            f"| ntk median s | GFLOP/s | of the adjacent GEMM (median, range) "
            f"| of the run's best GEMM ({gemm:.0f}) | peak RSS |")
        say("|---|---:|---:|---:|---:|---:|")
        for s in sweep:
            say(f"| {s['workload']} | {s['ntk']:.3f} | {s['ntk_gflops']:.1f} | "
                f"**{100 * s['frac']:.0f}%** ({100 * s['fmin']:.0f}–{100 * s['fmax']:.0f}%) | "
                f"{100 * s['ntk_gflops'] / gemm:.0f}% | {mib(s['rss'])} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ntk", required=True, help="path of the ntk binary")
    ap.add_argument("--work", required=True, help="directory for X.npy and the weights")
    ap.add_argument("--widths", default="4096,16384")
    ap.add_argument("--reps", type=int, default=9, help="timed rounds per workload")
    ap.add_argument("--probe-reps", type=int, default=3)
    ap.add_argument("--probe-n", type=int, default=128)
    ap.add_argument("--big", type=int, default=1_000_000, help="ntk-only width (0: skip)")
    ap.add_argument("--gemm-reps", type=int, default=7)
    ap.add_argument("--more", default="analytic,predict",
                    help="the other workloads of nt_workloads.py to run: analytic, predict "
                         "(comma-separated; empty: none)")
    ap.add_argument("--more-reps", type=int, default=5, help="timed rounds per other workload")
    ap.add_argument("--no-shallow", action="store_true",
                    help="skip the one-layer workloads (probe, agreement, widths, big)")
    ap.add_argument("--deep", action="store_true", help="also run the deep-net workloads")
    ap.add_argument("--deep-nets", default="4096,4096,4096",
                    help="';'-separated hidden widths run side by side, traced, 1 output")
    ap.add_argument("--full-nets", default="1024,1024",
                    help="';'-separated hidden widths run side by side with --full")
    ap.add_argument("--full-k", type=int, default=10, help="outputs of the full workloads")
    ap.add_argument("--deep-widths", default="4096,16384", help="widths of the depth sweep")
    ap.add_argument("--deep-depths", default="1,2,3,4", help="depths of the depth sweep")
    ap.add_argument("--sweep-reps", type=int, default=3)
    args = ap.parse_args()
    widths = [int(w) for w in args.widths.split(",")]
    t_start = time.perf_counter()

    os.makedirs(args.work, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="ntk-compare-")
    out = os.path.join(tmp, "K.npy")

    say("== machine")
    say(f"  {cpu_model()}, {os.cpu_count()} logical CPUs; python {platform.python_version()}, "
        f"jax {jax.__version__}, jaxlib {metadata.version('jaxlib')}, neural-tangents {nt.__version__}, "
        f"numpy {np.__version__}; jax devices {jax.devices()}")
    say(f"  ntk: {args.ntk}")
    say(f"  uptime: {uptime()}")

    x = inputs(os.path.join(args.work, "X.npy"))
    x_path = os.path.join(args.work, "X.npy")
    say(f"  inputs: {x_path}, {x.shape} f32, unit-norm rows")

    say("\n== f32 GEMM rate (before)")
    gemm_before = gemm_rates(args.gemm_reps)

    rows, big = [], None
    if not args.no_shallow:
        # -- which neural-tangents implementation is fastest? JACOBIAN_CONTRACTION stores the
        # full Jacobian (n × 3.2 M parameters at m = 4096: 13 GB at n = 1024) and
        # NTK_VECTOR_PRODUCTS is as slow, so all three run on the first probe_n points only.
        pn, pm = args.probe_n, widths[0]
        px_path = os.path.join(args.work, f"X{pn}.npy")
        np.save(px_path, x[:pn])
        say(f"\n== implementation probe: n = {pn}, m = {pm} (all three NtkImplementation values)")
        probe = {}
        for impl in IMPLS:
            probe[impl] = NtKernel(x[:pn], pm, impl)
            say(f"  nt {IMPLS[impl]:23s} compiled + first call {probe[impl].compile_s:.2f} s")
        nt_t, ntk_r = alternate(probe, lambda: run_ntk(args.ntk, px_path, pm, out), args.probe_reps)
        for impl in IMPLS:
            say(f"  nt {IMPLS[impl]:23s} median {statistics.median(nt_t[impl]):8.4f} s  "
                f"{[round(t, 4) for t in nt_t[impl]]}")
        say(f"  ntk (kernel time)          median {statistics.median(r['time'] for r in ntk_r):8.4f} s")
        best = min(IMPLS, key=lambda i: statistics.median(nt_t[i]))
        say(f"  fastest: {IMPLS[best]} -> used for the full workloads")
        del probe

        # -- the same kernel? neural-tangents' weights through `ntk --weights`.
        say(f"\n== agreement: nt {IMPLS[best]} vs ntk --weights (the same weights), "
            f"n = {N}, m = {widths[0]}")
        k = NtKernel(x, widths[0], best)
        wdir = os.path.join(tmp, "weights")
        k.save_weights(wdir)
        run_ntk(args.ntk, x_path, widths[0], out, extra=["--weights", wdir])
        k_nt, k_ntk = k.kernel(), np.load(out)
        err = np.max(np.abs(k_nt - k_ntk)) / np.max(np.abs(k_nt))
        say(f"  max |K_nt - K_ntk| / max |K_nt| = {err:.2e}  (diagonal mean {np.mean(np.diag(k_ntk)):.6f})")
        if err > 1e-4:
            raise SystemExit("the two kernels disagree: not the same workload")
        del k

        # -- the workloads, alternating.
        for m in widths:
            say(f"\n== n = {N}, d = {D}, m = {m}: {args.reps} rounds of (nt, ntk) after a warm-up")
            k = NtKernel(x, m, best)
            say(f"  nt compiled + first call {k.compile_s:.2f} s")
            nt_t, ntk_r = alternate({best: k}, lambda: run_ntk(args.ntk, x_path, m, out), args.reps)
            for i, (a, r) in enumerate(zip(nt_t[best], ntk_r)):
                say(f"  round {i + 1}: nt {a:.4f} s, ntk {r['time']:.4f} s (wall {r['wall']:.3f} s), "
                    f"ratio {a / r['time']:.2f}")
            rows.append(summary(f"m = {m}", best, nt_t[best], ntk_r,
                                max(gemm_before.values())))
            say(f"  uptime: {uptime()}")
            del k

        if args.big:
            say(f"\n== n = {N}, d = {D}, m = {args.big}: ntk only, one run"
                + (" under /usr/bin/time -v" if GNU_TIME else ""))
            say("  (not attempted with neural-tangents: W0 alone is 3.1 GB and each n × m "
                "activation array 4 GB in f32)")
            big = run_ntk(args.ntk, x_path, args.big, out)
            for line in big["out"].splitlines():
                if line.strip() and not line.startswith("\t"):  # /usr/bin/time's lines: tab
                    say("  ntk: " + line.rstrip())
            say(f"  uptime: {uptime()}")

    deep_rows, deep_sweep = [], []
    if args.deep:
        deep_rows, deep_sweep = deep_workloads(args, x, x_path, tmp, max(gemm_before.values()))

    more = [w for w in args.more.split(",") if w]
    more_rows = []
    if "analytic" in more:
        more_rows += nt_workloads.analytic_rows(args.ntk, args.work, args.more_reps)
    if "predict" in more:
        more_rows += nt_workloads.predict_rows(args.ntk, args.work, args.more_reps)

    say("\n== f32 GEMM rate (after)")
    gemm_after = gemm_rates(args.gemm_reps)
    gemm = max(list(gemm_before.values()) + list(gemm_after.values()))
    for s in rows + deep_rows:  # the fraction against the best GEMM rate seen in this run
        s["ntk_frac"] = s["ntk_gflops"] / gemm

    say("\n== results")
    say(f"  machine GEMM rate (f32 {GEMM_N}², best median of numpy and jax, before/after): "
        f"{gemm:.1f} GFLOP/s")
    if rows:
        print_rows(rows, gemm)
    if args.deep:
        print_deep(deep_rows, deep_sweep, gemm)
    if big:
        say(f"\n| m = {args.big} (ntk only) | kernel {big['time']:.2f} s | wall {big['wall']:.2f} s "
            f"| {big['gflops']:.1f} GFLOP/s ({100 * big['gflops'] / gemm:.0f}% of GEMM) "
            f"| peak RSS {mib(big['rss_mib'])} |")
    if more_rows:
        nt_workloads.print_rows(more_rows)
    say(f"\n  uptime: {uptime()}")
    say(f"  nt_bench.py took {time.perf_counter() - t_start:.0f} s")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
