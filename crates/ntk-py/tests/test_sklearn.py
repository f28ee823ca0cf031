"""scikit-learn's precomputed-kernel estimators on the NTK (examples/uci_precomputed.py),
and kernel ridge regression agreeing with ntk.predict at t = ∞."""

import pathlib
import sys

import numpy as np
import pytest

from sklearn.kernel_ridge import KernelRidge

import ntk  # noqa: E402

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "examples"))
import uci_precomputed  # noqa: E402

# Measured with this protocol (seed 0, scikit-learn 1.9): SVC / kernel ridge / forest =
# iris 0.827 / 0.880 / 0.853, wine 0.978 / 0.978 / 0.933, breast-cancer 0.982 / 0.975 /
# 0.968. Iris is lowest: scaling its 4-D points onto the sphere removes one of four degrees
# of freedom. The floors sit ~0.02-0.03 under the measured scores (room for another
# scikit-learn's solver); Arora et al.'s claim, the NTK within reach of the forest, is the
# second check.
FLOOR = {"iris": 0.8, "wine": 0.95, "breast-cancer": 0.95}


@pytest.mark.parametrize("name", uci_precomputed.SETS)
def test_ntk_svc_and_kernel_ridge_on_uci(name):
    r = uci_precomputed.run(name)
    assert r["ntk_svc"] >= FLOOR[name], r
    assert r["ntk_kernel_ridge"] >= FLOOR[name], r
    assert max(r["ntk_svc"], r["ntk_kernel_ridge"]) >= r["random_forest"] - 0.05, r


def test_kernel_ridge_is_ntk_kernel_regression():
    xtr, ytr, xte, _ = uci_precomputed.prepare("wine")
    mlp = ntk.Mlp(widths=[512, 512], b_std=0.1)
    k_tr, k_te = mlp.kernel(xtr), mlp.kernel(xte, xtr)
    y = np.eye(3)[ytr]
    alpha = 1e-2
    krr = KernelRidge(kernel="precomputed", alpha=alpha).fit(k_tr, y).predict(k_te)
    # ntk's diag_reg is relative to the mean diagonal: K + diag_reg·(tr K/n)·I.
    fn = ntk.predict.gradient_descent_mse(k_tr, y, diag_reg=alpha / np.mean(np.diag(k_tr)))
    _, ours = fn(None, 0.0, 0.0, k_te)
    np.testing.assert_allclose(ours, krr, rtol=1e-8, atol=1e-10)
