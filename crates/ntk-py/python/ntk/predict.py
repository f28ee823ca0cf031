r"""Predictions of wide networks trained by gradient descent on the MSE loss, in
neural-tangents' shape (``nt.predict``).

Gradient flow on ``L = ‖f(X) − Y‖²/(2N)``, ``N = n_train·k``, with a fixed kernel ``K``
(``K + diag_reg·(tr K/n)·I`` when regularised) has the closed form (Jacot et al. 2018;
Lee et al. 2019), with ``s = η t/N``:

    f_train(t) = y + e^{−s K} (f_train(0) − y)
    f_test(t)  = f_test(0) + K_test,train K⁻¹ (I − e^{−s K}) (y − f_train(0))

and at ``t = ∞`` kernel regression, ``f_test = f_test(0) + K_test,train K⁻¹ (y − f_train(0))``
(a Cholesky solve: the kernel must be positive definite after ``diag_reg``).
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from . import _ntk
from ._mlp import Kernel

#: Mean and covariance of the infinite ensemble's outputs (neural-tangents'
#: ``nt.predict.Gaussian``).
Gaussian = namedtuple("Gaussian", ["mean", "covariance"])



def _times(t):
    """``(flat times, leading shape)``: ``None`` is ``∞`` with no time axis."""
    if t is None:
        return [float("inf")], ()
    a = np.asarray(t, dtype=np.float64)
    return [float(v) for v in a.reshape(-1)], a.shape


def _unstack(stacked, shape):
    """``T × …`` results back to ``t.shape + …`` (no time axis for a scalar ``t``)."""
    return stacked.reshape(tuple(shape) + stacked.shape[1:])


def _initial(name, v, shape):
    """An initial output: ``None``/scalar 0 (the engine's zeros) or an ``n × k`` array (a
    nonzero scalar is broadcast)."""
    if v is None:
        return None
    a = v if isinstance(v, np.ndarray) else np.asarray(v)
    if a.ndim == 0:
        if a == 0:
            return None
        return np.full(shape, float(a))
    if a.ndim == 1 and len(shape) == 2 and shape[1] == 1:
        return a.reshape(-1, 1)
    return a


def _as2d(name, y):
    a = y if isinstance(y, np.ndarray) else np.asarray(y)
    if a.ndim == 1:
        return a.reshape(-1, 1), True
    return a, False


def gradient_descent_mse(k_train_train, y_train, learning_rate=1.0, diag_reg=0.0, *, threads=None):
    r"""neural-tangents' ``nt.predict.gradient_descent_mse``: returns
    ``predict_fn(t=None, fx_train_0=0., fx_test_0=None, k_test_train=None)``.

    ``k_train_train`` is ``(n, n)``, ``y_train`` ``(n, k)`` (or ``(n,)``). The returned
    function gives, at time(s) ``t`` (a scalar or an array of any shape; ``None`` or
    ``inf``: ``t = ∞``, kernel regression), ``fx_train_t`` when ``fx_test_0`` is ``None``,
    ``fx_test_t`` when ``fx_train_0`` is ``None``, else the tuple
    ``(fx_train_t, fx_test_t)``; each of shape ``t.shape + (n, k)``. ``fx_test_0`` needs
    ``k_test_train`` (``(n_test, n)``). The diagonal regulariser is relative, as
    neural-tangents' default: ``K + diag_reg·(tr K/n)·I``. The eigendecomposition
    (finite times) or Cholesky factor (``t = ∞``) is computed on first use and kept.

    Formulas: ``f_train(t) = y + V e^{−ηtΛ/N} Vᵀ (f_train(0) − y)`` and
    ``f_test(t) = f_test(0) + K_test,train V Λ⁻¹(1 − e^{−ηtΛ/N}) Vᵀ (y − f_train(0))``
    with ``K = V Λ Vᵀ``, ``N = n·k``.
    """
    y2, squeeze = _as2d("y_train", y_train)
    flow = _ntk._Flow(k_train_train, y2, float(learning_rate), float(diag_reg), threads)
    n, k = y2.shape

    def out(a):
        return a[..., 0] if squeeze else a

    def predict_fn(t=None, fx_train_0=0.0, fx_test_0=None, k_test_train=None):
        if fx_train_0 is None and fx_test_0 is None:
            raise ValueError(
                "Both `fx_train_0` and `fx_test_0` are `None`, i.e. no predictions will be "
                "computed."
            )
        if fx_test_0 is not None and k_test_train is None:
            raise ValueError("`k_test_train` must be given when `fx_test_0` is given.")
        times, shape = _times(t)
        f0 = _initial("fx_train_0", fx_train_0, (n, k))
        train = test = None
        if fx_train_0 is not None:
            train = out(_unstack(flow.train(times, f0), shape))
        if fx_test_0 is not None:
            m = np.shape(k_test_train)[0] if np.ndim(k_test_train) >= 1 else 0
            g0 = _initial("fx_test_0", fx_test_0, (m, k))
            test = out(_unstack(flow.test(times, k_test_train, f0, g0), shape))
        if train is not None and test is not None:
            return train, test
        return train if test is None else test

    return predict_fn


def gradient_descent_mse_ensemble(
    kernel_fn, x_train, y_train, learning_rate=1.0, diag_reg=0.0, *, threads=None
):
    r"""neural-tangents' ``nt.predict.gradient_descent_mse_ensemble``: the outputs of an
    infinite ensemble of infinitely wide networks, initialised from the NNGP prior
    ``f(0) ~ GP(0, K)`` and trained by gradient flow on the MSE loss, are Gaussian with
    closed-form moments (Lee et al. 2019). Returns
    ``predict_fn(t=None, x_test=None, get=None, compute_cov=False)``.

    ``kernel_fn(x1, x2, get)`` is an analytic kernel function such as
    ``ntk.Mlp(...).kernel``. With ``s = ηt/N`` and ``K_g`` the training kernel (``Θ`` for
    ``get="ntk"``, ``K`` for ``"nngp"``, after ``diag_reg``), ``A(t) = K_g⁻¹(I − e^{−s K_g})``:
    ``mean_test = K_g,test,train A(t) y``, ``mean_train = (I − e^{−s K_g}) y``; the NNGP
    covariance ``K_test,test − K_test,train K_g⁻¹(I − e^{−2s K_g}) K_train,test``; the NTK
    one ``T1ᵀ K T1 + K_test,test − T2 − T2ᵀ`` with ``T1 = A(t)Θ_train,test``,
    ``T2 = Θ_test,train A(t) K_train,test``. At ``t = ∞`` (``None``) the NNGP prediction
    is the Gaussian-process posterior.

    ``predict_fn`` returns, for ``get`` a string, the mean (``t.shape + (n, k)``) or, with
    ``compute_cov=True``, ``Gaussian(mean, covariance)`` (covariance
    ``t.shape + (n, n)``); for ``get=None`` or a tuple, a ``Kernel(nngp, ntk)``
    namedtuple (or a tuple in the order asked) of those. ``x_test=None`` predicts on the
    training points.
    """
    y2, squeeze = _as2d("y_train", y_train)
    x_train = x_train if isinstance(x_train, np.ndarray) else np.asarray(x_train)
    nngp_tt, ntk_tt = kernel_fn(x_train, None, ("nngp", "ntk"))
    opts = (float(learning_rate), float(diag_reg), threads)
    fitted = {}

    def ensemble(g):
        if g not in fitted:
            theta = ntk_tt if g == "ntk" else None
            fitted[g] = _ntk._Ensemble(nngp_tt, theta, y2, *opts)
        return fitted[g]

    def predict_fn(t=None, x_test=None, get=None, compute_cov=False):
        gets = ("nngp", "ntk") if get is None else ((get,) if isinstance(get, str) else tuple(get))
        if not gets or any(g not in ("nngp", "ntk") for g in gets):
            raise ValueError(f"get: expected 'ntk', 'nngp', a tuple of them or None, got {get!r}")
        times, shape = _times(t)
        if x_test is not None:
            x_test = x_test if isinstance(x_test, np.ndarray) else np.asarray(x_test)
            nngp_st, ntk_st = kernel_fn(x_test, x_train, ("nngp", "ntk"))
            nngp_ss = kernel_fn(x_test, None, "nngp") if compute_cov else None
        results = []
        for g in gets:
            ens = ensemble(g)
            if x_test is None:
                mean, cov = ens.train(times)
            else:
                # The covariance needs K_test,test; without compute_cov a zero stand-in of
                # the right shape is passed and its covariance is dropped.
                kss = nngp_ss if compute_cov else np.zeros((nngp_st.shape[0],) * 2)
                mean, cov = ens.test(times, nngp_st, kss, ntk_st if g == "ntk" else None)
            mean = _unstack(mean, shape)
            if squeeze:
                mean = mean[..., 0]
            results.append(Gaussian(mean, _unstack(cov, shape)) if compute_cov else mean)
        if get is None:
            return Kernel(*results)
        if isinstance(get, str):
            return results[0]
        return tuple(results)

    return predict_fn
