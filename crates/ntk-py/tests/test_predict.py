"""neural-tangents' semantics and shapes of ntk.predict, and its errors."""

import numpy as np
import pytest

import ntk

RNG = np.random.default_rng(1)
X = RNG.standard_normal((30, 4))
XT = RNG.standard_normal((7, 4))
Y = RNG.standard_normal((30, 3))
MLP = ntk.Mlp(widths=[32], outputs=3, b_std=0.1)
K = MLP.kernel(X)
KST = MLP.kernel(XT, X)


def test_return_forms_follow_neural_tangents():
    fn = ntk.predict.gradient_descent_mse(K, Y, diag_reg=1e-4)
    assert fn(1.0).shape == (30, 3)  # fx_train_0 = 0. by default: train only
    tr, te = fn(1.0, 0.0, 0.0, KST)
    assert tr.shape == (30, 3) and te.shape == (7, 3)
    only_test = fn(1.0, None, 0.0, KST)
    np.testing.assert_array_equal(only_test, te)
    # t of any shape: leading time axes.
    t = np.array([[0.0, 1.0], [10.0, np.inf]])
    tr4, te4 = fn(t, 0.0, 0.0, KST)
    assert tr4.shape == (2, 2, 30, 3) and te4.shape == (2, 2, 7, 3)
    np.testing.assert_array_equal(te4[0, 1], te)
    # t = None is t = ∞ (kernel regression); at t = 0 nothing has moved.
    np.testing.assert_array_equal(fn(None), Y)
    np.testing.assert_array_equal(tr4[0, 0], np.zeros_like(Y))
    np.testing.assert_allclose(fn(None, 0.0, 0.0, KST)[1], te4[1, 1], rtol=1e-8, atol=1e-10)
    with pytest.raises(ValueError, match="Both `fx_train_0` and `fx_test_0` are `None`"):
        fn(1.0, None, None)
    with pytest.raises(ValueError, match="k_test_train"):
        fn(1.0, 0.0, 0.0)


def test_nonzero_scalar_and_array_initial_outputs_agree():
    fn = ntk.predict.gradient_descent_mse(K, Y, learning_rate=2.0, diag_reg=1e-4)
    a = fn(3.0, 0.5, 0.25, KST)
    b = fn(3.0, np.full((30, 3), 0.5), np.full((7, 3), 0.25), KST)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def test_one_dimensional_targets():
    y = Y[:, 0]
    fn = ntk.predict.gradient_descent_mse(K, y, diag_reg=1e-4)
    tr, te = fn([1.0, 2.0], 0.0, 0.0, KST)
    assert tr.shape == (2, 30) and te.shape == (2, 7)
    fn3 = ntk.predict.gradient_descent_mse(K, Y[:, :1], diag_reg=1e-4)
    np.testing.assert_array_equal(te, fn3([1.0, 2.0], 0.0, 0.0, KST)[1][..., 0])


def test_non_psd_kernel_at_infinity_raises_value_error():
    k = np.array([[1.0, 2.0], [2.0, 1.0]])  # eigenvalues 3 and −1
    fn = ntk.predict.gradient_descent_mse(k, np.ones((2, 1)))
    with pytest.raises(ValueError, match="not positive definite"):
        fn(None, 0.0, 0.0, np.ones((1, 2)))


def test_bad_shapes_and_values_raise():
    with pytest.raises(ValueError, match="k_train_train"):
        ntk.predict.gradient_descent_mse(K[:, :5], Y)
    with pytest.raises(ValueError, match="y_train"):
        ntk.predict.gradient_descent_mse(K, Y[:4])
    with pytest.raises(ValueError, match="learning_rate"):
        ntk.predict.gradient_descent_mse(K, Y, learning_rate=0.0)
    bad = K.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        ntk.predict.gradient_descent_mse(bad, Y)
    fn = ntk.predict.gradient_descent_mse(K, Y)
    with pytest.raises(ValueError, match="k_test_train"):
        fn(1.0, 0.0, 0.0, KST[:, :4])
    with pytest.raises(ValueError):
        fn(-1.0)
    with pytest.raises(TypeError, match="dtype int64"):
        ntk.predict.gradient_descent_mse(np.eye(3, dtype=np.int64), Y[:3])


def test_ensemble_with_the_analytic_kernel():
    fn = ntk.predict.gradient_descent_mse_ensemble(MLP.kernel, X, Y, diag_reg=1e-4)
    both = fn(None, XT)
    assert both.nngp.shape == (7, 3) and both.ntk.shape == (7, 3)
    g = fn([1.0, np.inf], XT, "ntk", compute_cov=True)
    assert g.mean.shape == (2, 7, 3) and g.covariance.shape == (2, 7, 7)
    np.testing.assert_allclose(g.mean[1], both.ntk, rtol=1e-8, atol=1e-12)
    # The ensemble mean trained with the NTK is the gradient flow's test prediction from 0.
    flow = ntk.predict.gradient_descent_mse(MLP.kernel(X), Y, diag_reg=1e-4)
    np.testing.assert_allclose(fn(1.0, XT, "ntk"), flow(1.0, 0.0, 0.0, KST)[1], rtol=1e-8, atol=1e-12)
    # Training points: the mean reaches y at t = ∞.
    np.testing.assert_allclose(fn(None, None, "nngp"), Y, rtol=1e-12, atol=1e-12)
    # (nngp, ntk) in the order asked.
    a, b = fn(1.0, XT, ("ntk", "nngp"))
    np.testing.assert_array_equal(a, fn(1.0, XT, "ntk"))
    with pytest.raises(ValueError, match="get"):
        fn(1.0, XT, "cov")
