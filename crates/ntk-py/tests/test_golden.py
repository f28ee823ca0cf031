"""Every golden case of crates/ntk-engine/tests/golden (neural-tangents 0.6.5) through the
Python API, at the Rust golden tests' tolerances."""

import numpy as np
import pytest

import ntk
from conftest import (
    F32_GOLDEN,
    F64_ANALYTIC,
    F64_GOLDEN,
    PREDICT,
    array,
    assert_close,
    golden,
    mlp,
)

ANALYTIC = golden("analytic_kernels.json")["cases"]
EMPIRICAL = golden("empirical_ntk.json")["cases"]
PREDICTS = golden("predict.json")["cases"]


def test_case_counts():
    assert len(ANALYTIC) == 149 and len(EMPIRICAL) >= 5 and len(PREDICTS) == 2


@pytest.mark.parametrize("case", ANALYTIC, ids=lambda c: c["id"])
def test_analytic(case):
    m = mlp(case)
    x1, x2 = array(case["x1"]), array(case["x2"])
    out = case["out"]
    nngp11, ntk11 = m.kernel(x1, None, ("nngp", "ntk"))
    assert_close(nngp11, array(out["nngp_x1x1"]), F64_ANALYTIC, "nngp_x1x1")
    assert_close(ntk11, array(out["ntk_x1x1"]), F64_ANALYTIC, "ntk_x1x1")
    assert_close(m.kernel(x1, x2, "nngp"), array(out["nngp_x1x2"]), F64_ANALYTIC, "nngp_x1x2")
    assert_close(m.kernel(x1, x2, get="ntk"), array(out["ntk_x1x2"]), F64_ANALYTIC, "ntk_x1x2")


def stax_params(case):
    """The case's weights as stax stores them: [(W, b), (), (W, b), (), …, (W, b)]."""
    pairs = [(array(p["W"]), array(p["b"])) for p in case["params"]]
    out = []
    for i, p in enumerate(pairs):
        out.append(p)
        if i + 1 < len(pairs):
            out.append(())
    return out


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", EMPIRICAL, ids=lambda c: c["id"])
def test_empirical(case, dtype):
    m = mlp(case)
    tol = F64_GOLDEN if dtype == "float64" else F32_GOLDEN
    x1, x2 = array(case["x1"]), array(case["x2"])
    params = stax_params(case)
    out = case["out"]
    a = case["arch"]
    w2, b2 = a["W_std"] ** 2, a["b_std"] ** 2

    def emp(x2, kind, full):
        return m.empirical(x1, x2, kind=kind, params=params, full=full, dtype=dtype)

    k = m.outputs
    full12 = emp(x2, "ntk", True)
    assert_close(full12, array(out["ntk_x1x2"]).reshape(full12.shape), tol, "ntk_x1x2")
    full11 = emp(None, "ntk", True)
    assert_close(full11, array(out["ntk_x1x1"]).reshape(full11.shape), tol, "ntk_x1x1")
    assert_close(emp(x2, "ntk", False), array(out["ntk_traced_x1x2"]), tol, "ntk_traced")
    nngp = lambda name: w2 * array(out[name]) + b2  # noqa: E731
    assert_close(emp(x2, "nngp", False), nngp("nngp_features_x1x2"), tol, "nngp_x1x2")
    assert_close(emp(None, "nngp", False), nngp("nngp_features_x1x1"), tol, "nngp_x1x1")
    assert full12.ndim == (4 if k > 1 else 2)


def times(case):
    return np.array([np.inf if t == "inf" else t for t in case["times"]])


@pytest.mark.parametrize("init", ["zero_init", "nonzero_init"])
@pytest.mark.parametrize("kind", ["ntk", "nngp"])
@pytest.mark.parametrize("case", PREDICTS, ids=lambda c: c["id"])
def test_gradient_descent_mse(case, kind, init):
    assert case["diag_reg_absolute_scale"] is False
    kern = case["kernels"]
    y = array(case["y_train"])
    fn = ntk.predict.gradient_descent_mse(
        array(kern[f"{kind}_train_train"]),
        y,
        learning_rate=case["learning_rate"],
        diag_reg=case["diag_reg"],
    )
    if init == "zero_init":
        f0, g0 = 0.0, 0.0
    else:
        f0, g0 = array(case["fx_train_0"]), array(case["fx_test_0"])
    out = case["out"][f"gd_mse/{kind}/{init}"]
    ts = times(case)
    train, test = fn(ts, f0, g0, array(kern[f"{kind}_test_train"]))
    assert_close(train, array(out["fx_train_t"]), PREDICT, "fx_train_t")
    assert_close(test, array(out["fx_test_t"]), PREDICT, "fx_test_t")
    # t = None is t = ∞ without a time axis; the last golden time is ∞.
    train_inf, test_inf = fn(None, f0, g0, array(kern[f"{kind}_test_train"]))
    assert_close(train_inf, array(out["fx_train_t"])[-1], PREDICT, "fx_train_inf")
    assert_close(test_inf, array(out["fx_test_t"])[-1], PREDICT, "fx_test_inf")


class GoldenKernelFn:
    """A ``kernel_fn(x1, x2, get)`` that returns the case's neural-tangents kernels, so the
    ensemble is checked on exactly the golden inputs."""

    def __init__(self, case):
        self.k = {name: array(v) for name, v in case["kernels"].items()}
        self.x_train, self.x_test = array(case["x_train"]), array(case["x_test"])

    def _one(self, x1, x2, g):
        a = "train" if x1 is self.x_train else "test"
        b = a if x2 is None else ("train" if x2 is self.x_train else "test")
        return self.k[f"{g}_{a}_{b}"]

    def __call__(self, x1, x2=None, get="ntk"):
        if isinstance(get, str):
            return self._one(x1, x2, get)
        return tuple(self._one(x1, x2, g) for g in get)


@pytest.mark.parametrize("kind", ["ntk", "nngp"])
@pytest.mark.parametrize("case", PREDICTS, ids=lambda c: c["id"])
def test_ensemble(case, kind):
    kf = GoldenKernelFn(case)
    fn = ntk.predict.gradient_descent_mse_ensemble(
        kf,
        kf.x_train,
        array(case["y_train"]),
        learning_rate=case["learning_rate"],
        diag_reg=case["diag_reg"],
    )
    out = case["out"][f"ensemble/{kind}"]
    ts = times(case)
    test = fn(ts, kf.x_test, kind, compute_cov=True)
    assert_close(test.mean, array(out["mean_test_t"]), PREDICT, "mean_test_t")
    assert_close(test.covariance, array(out["cov_test_t"]), PREDICT, "cov_test_t")
    train = fn(ts, None, kind, compute_cov=True)
    assert_close(train.mean, array(out["mean_train_t"]), PREDICT, "mean_train_t")
    assert_close(train.covariance, array(out["cov_train_t"]), PREDICT, "cov_train_t")
    # Without compute_cov: the mean alone, the same values.
    mean = fn(ts, kf.x_test, kind)
    assert_close(mean, array(out["mean_test_t"]), PREDICT, "mean_test_t (mean only)")
    both = fn(ts, kf.x_test)
    assert_close(getattr(both, kind), array(out["mean_test_t"]), PREDICT, "get=None")
