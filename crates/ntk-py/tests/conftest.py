"""Shared helpers: the engine's golden files and the Rust tests' tolerance measure."""

import json
import pathlib

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[3]
GOLDEN = ROOT / "crates" / "ntk-engine" / "tests" / "golden"

# The Rust tests' tolerances (crates/ntk-engine/tests/common/mod.rs, golden_predict.rs).
F64_GOLDEN = 1e-9
F32_GOLDEN = 1e-4
F64_ANALYTIC = 1e-10
PREDICT = 1e-8


def golden(name):
    return json.loads((GOLDEN / name).read_text())


def array(v):
    """``{"shape": [...], "data": nested}`` → a float64 array of that shape."""
    return np.asarray(v["data"], dtype=np.float64).reshape(v["shape"])


def assert_close(got, want, tol, what):
    """``|got − want| ≤ tol·max(|want|, 1e-3·max|want|)`` entry by entry (refs/README.md),
    as the Rust tests' ``assert_close``."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    scale = np.abs(want).max() if want.size else 0.0
    bound = tol * np.maximum(np.abs(want), 1e-3 * scale)
    bad = np.abs(got - want) > bound
    assert not bad.any(), (
        f"{what}: {bad.sum()} entries off, first at {np.argwhere(bad)[0]}: "
        f"got {got[bad][0]}, want {want[bad][0]}"
    )


def activation(arch):
    """The CLI name of a golden case's activation."""
    name = arch["activation"]
    if name == "LeakyRelu":
        return f"leaky_relu:{arch.get('activation_params', {}).get('alpha', 0.1)}"
    return name.lower()


def mlp(case):
    import ntk

    a = case["arch"]
    return ntk.Mlp(
        widths=a["hidden_widths"],
        activation=activation(a),
        w_std=a["W_std"],
        b_std=a["b_std"],
        parameterization=a["parameterization"],
        outputs=a.get("readout_width", 1),
    )
