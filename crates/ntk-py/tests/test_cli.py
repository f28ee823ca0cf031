"""The Python module and the ``ntk kernel`` command give the same bits for the same flags.

The CLI is ``$NTK_CLI`` when set (.ci/run builds it), else built here with
``cargo build --release -p ntk-cli``."""

import functools
import json
import os
import subprocess

import numpy as np
import pytest

import ntk
from conftest import ROOT


@functools.lru_cache(1)
def cli():
    if os.environ.get("NTK_CLI"):
        return os.environ["NTK_CLI"]
    out = subprocess.run(
        ["cargo", "build", "--release", "-p", "ntk-cli", "--message-format=json"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    for line in out.splitlines():
        msg = json.loads(line)
        if msg.get("reason") == "compiler-artifact" and msg.get("executable"):
            if msg["target"]["name"] == "ntk":
                return msg["executable"]
    raise RuntimeError("cargo built no `ntk` executable")


RNG = np.random.default_rng(11)
X1 = RNG.standard_normal((45, 7))
X2 = RNG.standard_normal((13, 7))

CASES = [
    # (CLI flags, Mlp keyword arguments, method, kernel keyword arguments, with x2)
    ([], {}, "analytic", {}, False),
    (["--kind", "nngp", "--full", "--outputs", "2", "--activation", "erf", "--b-std", "0.2"],
     dict(activation="erf", b_std=0.2, outputs=2), "analytic", dict(get="nngp", full=True), True),
    (["--widths", "64,32", "--activation", "tanh", "--b-std", "0.1", "--seed", "5"],
     dict(widths=[64, 32], activation="tanh", b_std=0.1), "empirical", dict(seed=5), False),
    (["--widths", "300", "--activation", "leaky_relu:0.1", "--parameterization", "standard",
      "--w-std", "1.3", "--outputs", "3", "--full", "--seed", "2"],
     dict(widths=[300], activation="leaky_relu:0.1", parameterization="standard", w_std=1.3,
          outputs=3), "empirical", dict(seed=2, full=True), True),
    (["--kind", "nngp", "--widths", "50,40,30", "--activation", "gelu", "--seed", "9"],
     dict(widths=[50, 40, 30], activation="gelu"), "empirical", dict(kind="nngp", seed=9), True),
]


@pytest.mark.parametrize("dtype", ["f64", "f32"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: " ".join(c[0]) or "defaults")
def test_same_bits_as_the_cli(tmp_path, case, dtype):
    flags, mlp_kw, method, kw, with_x2 = case
    np.save(tmp_path / "x1.npy", X1)
    np.save(tmp_path / "x2.npy", X2)
    out = tmp_path / "K.npy"
    cmd = [cli(), "kernel", "--x1", str(tmp_path / "x1.npy"), "--out", str(out),
           "--method", method, "--dtype", dtype, "--threads", "2", *flags]
    if with_x2:
        cmd += ["--x2", str(tmp_path / "x2.npy")]
    subprocess.run(cmd, check=True, capture_output=True)
    want = np.load(out)
    m = ntk.Mlp(**mlp_kw)
    x2 = X2 if with_x2 else None
    if method == "analytic":
        got = m.kernel(X1, x2, **kw)
    else:
        got = m.empirical(X1, x2, dtype="float64" if dtype == "f64" else "float32", **kw)
    # The CLI writes f32 files for --dtype f32: the f64 result rounded once.
    got = got.astype(want.dtype)
    assert got.shape == want.shape
    assert got.tobytes() == want.tobytes()


def test_explicit_weights_same_bits_as_the_cli(tmp_path):
    m = ntk.Mlp(widths=[40, 20], activation="relu", b_std=0.3, outputs=2)
    params = m.init(4, d=X1.shape[1])
    params = [(w * 1.1, b + 0.05) for w, b in params]  # not the seeded ones
    wdir = tmp_path / "weights"
    wdir.mkdir()
    for i, (w, b) in enumerate(params):
        np.save(wdir / f"W{i}.npy", w)
        np.save(wdir / f"b{i}.npy", b)
    np.save(tmp_path / "x1.npy", X1)
    out = tmp_path / "K.npy"
    subprocess.run(
        [cli(), "kernel", "--x1", str(tmp_path / "x1.npy"), "--out", str(out), "--method",
         "empirical", "--dtype", "f64", "--widths", "40,20", "--b-std", "0.3", "--outputs", "2",
         "--weights", str(wdir), "--full"],
        check=True,
        capture_output=True,
    )
    got = m.empirical(X1, params=params, full=True, dtype="float64")
    assert got.tobytes() == np.load(out).tobytes()
