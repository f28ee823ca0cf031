"""The analytic-kernel and prediction workloads of the side-by-side (nt_bench.py imports
this file; see benches/compare/README.md).

Analytic NTK (infinite width), x1 × x1, n = 5000 random unit-norm inputs of dimension 784:
3 hidden layers, W_std = √2, b_std = 0.1, NTK parameterization, ReLU (f64 and f32), erf and
GELU (f64). neural-tangents: `jax.jit(kernel_fn, static_argnames="get")(x, None, "ntk")
.block_until_ready()` on `stax.serial(Dense(512), act, ×3, Dense(1))`, compiled beforehand,
f64 under `jax.experimental.enable_x64()`. ntk: `ntk kernel --method analytic ... --dtype
f64|f32`, a fresh process each time; its printed kernel time (inputs mapped → kernel in its
output file).

Predictions: the analytic NTK (depth 3 ReLU, as above) of 4000 training and 1000 test points,
k = 10 random targets, times 0, 1, 10, 100, inf (and inf alone), diag_reg 1e-4, f64.
neural-tangents: `nt.predict.gradient_descent_mse(k_tt, y, learning_rate=1, diag_reg=1e-4)`
then `predict_fn(t, 0, 0, k_st)` (train and test outputs), both timed. ntk: `ntk predict
... --out P.npy --out-train PT.npy`; its printed time (kernels mapped → predictions computed).
"""

import os
import re
import statistics
import subprocess
import time

import numpy as np
import jax
import jax.numpy as jnp
from jax.experimental import enable_x64
import neural_tangents as nt
from neural_tangents import stax

W_STD, B_STD, WIDTH, DEPTH = 2 ** 0.5, 0.1, 512, 3
_KTIME = re.compile(r"^\s*time\s+([0-9.eE+-]+)\s*s\b", re.M)
_PTIME = re.compile(r"times in\s+([0-9.eE+-]+)\s*s", re.M)


def say(*a):
    print(*a, flush=True)


def pause():
    time.sleep(0.2)


def quartiles(xs):
    q = statistics.quantiles(xs, n=4) if len(xs) > 1 else [xs[0]] * 3
    return q[0], statistics.median(xs), q[2]


def stax_act(name):
    return {"relu": stax.Relu(), "erf": stax.Erf(), "gelu": stax.Gelu(approximate=False)}[name]


def kernel_fn(act):
    layers = []
    for _ in range(DEPTH):
        layers += [stax.Dense(WIDTH, W_std=W_STD, b_std=B_STD), stax_act(act)]
    layers += [stax.Dense(1, W_std=W_STD, b_std=B_STD)]
    _, _, kfn = stax.serial(*layers)
    return jax.jit(kfn, static_argnames="get")


def unit_rows(n, d, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def remove_outputs(cmd):
    """Deletes the files a command's `--out*` options name, before it runs: ntk renames each
    finished file over its path, and the system frees a replaced file's pages inside that
    rename, which would put the previous round's clean-up into this round's time."""
    for flag, path in zip(cmd, cmd[1:]):
        if flag.startswith("--out") and os.path.lexists(path):
            os.remove(path)


def run(cmd, pattern):
    remove_outputs(cmd)
    t = time.perf_counter()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wall = time.perf_counter() - t
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stdout}")
    m = pattern.search(p.stdout)
    if not m:
        raise RuntimeError(f"no time line in the output of {' '.join(cmd)}:\n{p.stdout}")
    return float(m.group(1)), wall


def alternate(nt_call, ntk_call, reps):
    nt_call()
    pause()
    ntk_call()
    pause()
    a, b = [], []
    for _ in range(reps):
        a.append(nt_call())
        pause()
        b.append(ntk_call()[0])
        pause()
    return a, b


def row(label, nt_ts, ntk_ts, note=""):
    ratios = [x / y for x, y in zip(nt_ts, ntk_ts)]
    q1, med, q3 = quartiles(ratios)
    return dict(workload=label, nt=statistics.median(nt_ts), ntk=statistics.median(ntk_ts),
                ratio=med, rmin=min(ratios), rmax=max(ratios), q1=q1, q3=q3, note=note)


def analytic_rows(ntk, work, reps, n=5000, d=784):
    """Analytic NTK rows: relu f64, relu f32, erf f64, gelu f64."""
    x = unit_rows(n, d, 1)
    x_path = os.path.join(work, f"X{n}_analytic.npy")
    np.save(x_path, x)
    out = os.path.join(work, "K_analytic.npy")
    rows = []
    for act, dtype in [("relu", "f64"), ("relu", "f32"), ("erf", "f64"), ("gelu", "f64")]:
        say(f"\n== analytic NTK, depth {DEPTH}, {act}, n = {n}, d = {d}, {dtype}: "
            f"{reps} rounds of (nt, ntk) after a warm-up")
        cmd = [ntk, "kernel", "--method", "analytic", "--x1", x_path,
               "--widths", ",".join([str(WIDTH)] * DEPTH), "--activation", act,
               "--w-std", repr(W_STD), "--b-std", repr(B_STD), "--dtype", dtype,
               "--out", out]
        ntk_call = lambda: run(cmd, _KTIME)

        def one(kfn, xj):
            t = time.perf_counter()
            kfn(xj, None, "ntk").block_until_ready()
            return time.perf_counter() - t

        if dtype == "f64":
            with enable_x64():
                kfn = kernel_fn(act)
                xj = jnp.asarray(x, dtype=jnp.float64)
                k_nt = np.asarray(kfn(xj, None, "ntk"))
                nt_ts, ntk_ts = alternate(lambda: one(kfn, xj), ntk_call, reps)
        else:
            kfn = kernel_fn(act)
            xj = jnp.asarray(x, dtype=jnp.float32)
            k_nt = np.asarray(kfn(xj, None, "ntk"))
            nt_ts, ntk_ts = alternate(lambda: one(kfn, xj), ntk_call, reps)
        k_ntk = np.load(out).astype(np.float64)
        err = np.max(np.abs(k_nt - k_ntk)) / np.max(np.abs(k_ntk))
        derr = np.max(np.abs(np.diag(k_nt) - np.diag(k_ntk)) / np.abs(np.diag(k_ntk)))
        if dtype == "f32":
            with enable_x64():
                k64 = np.asarray(kernel_fn(act)(jnp.asarray(x, dtype=jnp.float64), None, "ntk"))
            ours = np.max(np.abs(np.diag(k_ntk) - np.diag(k64)) / np.abs(np.diag(k64)))
            nts = np.max(np.abs(np.diag(k_nt) - np.diag(k64)) / np.abs(np.diag(k64)))
            note = (f"f32 diagonal vs nt f64: ntk {ours:.1e}, nt {nts:.1e} (max relative); "
                    f"max |K_nt − K_ntk|/max K {err:.1e}")
        else:
            note = f"max |K_nt − K_ntk|/max K {err:.1e}, diagonal {derr:.1e}"
        say(f"  agreement: {note}")
        for i, (a, b) in enumerate(zip(nt_ts, ntk_ts)):
            say(f"  round {i + 1}: nt {a:.3f} s, ntk {b:.3f} s, ratio {a / b:.2f}")
        rows.append(row(f"analytic NTK {act} L={DEPTH} n={n} {dtype}", nt_ts, ntk_ts, note))
        os.remove(out)
    return rows


def predict_rows(ntk, work, reps, n_train=4000, n_test=1000, k=10, d=784):
    """Gradient-flow predictions at 0, 1, 10, 100, inf, and at inf alone."""
    x = unit_rows(n_train + n_test, d, 2)
    with enable_x64():
        kfn = kernel_fn("relu")
        xj = jnp.asarray(x, dtype=jnp.float64)
        ktt = np.asarray(kfn(xj[:n_train], None, "ntk"))
        kst = np.asarray(kfn(xj[n_train:], xj[:n_train], "ntk"))
    y = np.random.default_rng(3).standard_normal((n_train, k))
    paths = {name: os.path.join(work, f"{name}.npy") for name in ["KTT", "KST", "Y"]}
    np.save(paths["KTT"], ktt)
    np.save(paths["KST"], kst)
    np.save(paths["Y"], y)
    out, out_train = os.path.join(work, "P.npy"), os.path.join(work, "PT.npy")
    rows = []
    for times in ["0,1,10,100,inf", "inf"]:
        ts = np.array([float(t) for t in times.split(",")])
        say(f"\n== predict, n_train = {n_train}, n_test = {n_test}, k = {k}, times {times}, "
            f"diag_reg 1e-4, f64: {reps} rounds of (nt, ntk) after a warm-up")
        cmd = [ntk, "predict", "--k-train-train", paths["KTT"], "--k-test-train", paths["KST"],
               "--y-train", paths["Y"], "--times", times, "--diag-reg", "1e-4",
               "--out", out, "--out-train", out_train]

        with enable_x64():
            ktt_j, kst_j, y_j = jnp.asarray(ktt), jnp.asarray(kst), jnp.asarray(y)

            def nt_call():
                t = time.perf_counter()
                fn = nt.predict.gradient_descent_mse(ktt_j, y_j, learning_rate=1.0, diag_reg=1e-4)
                tr, te = fn(ts, 0.0, 0.0, kst_j)
                jax.block_until_ready((tr, te))
                return time.perf_counter() - t

            nt_ts, ntk_ts = alternate(nt_call, lambda: run(cmd, _PTIME), reps)
            fn = nt.predict.gradient_descent_mse(ktt_j, y_j, learning_rate=1.0, diag_reg=1e-4)
            _, te = fn(ts, 0.0, 0.0, kst_j)
            te = np.asarray(te)
        ours = np.load(out)
        err = np.max(np.abs(te - ours)) / np.max(np.abs(te))
        note = f"max |f_nt − f_ntk|/max |f_nt| {err:.1e}"
        say(f"  agreement: {note}")
        for i, (a, b) in enumerate(zip(nt_ts, ntk_ts)):
            say(f"  round {i + 1}: nt {a:.3f} s, ntk {b:.3f} s, ratio {a / b:.2f}")
        rows.append(row(f"predict n_train={n_train} n_test={n_test} k={k} t={times}",
                        nt_ts, ntk_ts, note))
    for p in [out, out_train, *paths.values()]:
        os.remove(p)
    return rows


def print_rows(rows):
    say("")
    say("| workload | nt median s | ntk median s | nt/ntk median | min–max | IQR | agreement |")
    say("|---|---:|---:|---:|---:|---:|---|")
    for s in rows:
        say(f"| {s['workload']} | {s['nt']:.3f} | {s['ntk']:.3f} | **{s['ratio']:.2f}×** | "
            f"{s['rmin']:.2f}–{s['rmax']:.2f} | {s['q1']:.2f}–{s['q3']:.2f} | {s['note']} |")
