"""Arrays in: zero-copy where dtype and layout allow, copies (same results) otherwise, and
clean TypeError/ValueError for bad inputs; threads from the keyword or NTK_NUM_THREADS."""

import numpy as np
import pytest

import ntk
from ntk import _ntk

RNG = np.random.default_rng(7)
X = RNG.standard_normal((40, 6))
MLP = ntk.Mlp(widths=[64, 48], activation="erf", b_std=0.1, outputs=2)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_contiguous_inputs_are_read_in_place(dtype):
    x = np.ascontiguousarray(X, dtype=dtype)
    addr, borrowed = _ntk._input_address(x)
    assert borrowed and addr == x.ctypes.data
    # A C-contiguous row slice is still in place, at its own offset.
    part = x[5:9]
    addr, borrowed = _ntk._input_address(part)
    assert borrowed and addr == part.ctypes.data


def test_non_contiguous_inputs_are_copied_with_the_same_results():
    f = np.asfortranarray(X)
    strided = np.ascontiguousarray(np.repeat(X, 2, axis=0))[::2]
    for view in (f, strided, X.T.copy().T):
        addr, borrowed = _ntk._input_address(view)
        assert not borrowed and addr != view.ctypes.data
        np.testing.assert_array_equal(MLP.kernel(view), MLP.kernel(X))
        np.testing.assert_array_equal(MLP.empirical(view, X[:3]), MLP.empirical(X, X[:3]))


def test_lists_and_float32_are_accepted():
    np.testing.assert_array_equal(MLP.kernel(X.tolist()), MLP.kernel(X))
    k32 = MLP.kernel(X.astype(np.float32))
    assert k32.dtype == np.float64
    np.testing.assert_array_equal(k32, MLP.kernel(X.astype(np.float32).astype(np.float64)))


def test_wrong_dtype_is_a_type_error():
    with pytest.raises(TypeError, match=r"x1: expected a float32 or float64 array, got dtype int64"):
        MLP.kernel(np.ones((3, 6), dtype=np.int64))
    with pytest.raises(TypeError, match=r"x2: .*complex128"):
        MLP.empirical(X, np.ones((3, 6), dtype=complex))
    with pytest.raises(TypeError, match=r"expected a NumPy array"):
        _ntk._input_address("not an array")


def test_wrong_rank_is_a_value_error():
    with pytest.raises(ValueError, match=r"x1: expected a 2-D array \(n, d\), got shape \(6,\)"):
        MLP.kernel(X[0])
    with pytest.raises(ValueError, match=r"x2: expected a 2-D array"):
        MLP.kernel(X, X[None])


def test_nan_is_a_value_error_naming_the_entry():
    x = X.copy()
    x[3, 2] = np.nan
    with pytest.raises(ValueError, match=r"x1: .*non-finite value NaN at row 3, column 2"):
        MLP.kernel(x)
    with pytest.raises(ValueError, match=r"x2: .*non-finite value inf"):
        x[3, 2] = np.inf
        MLP.empirical(X, x)


def test_mismatched_dimension_is_a_value_error():
    with pytest.raises(ValueError, match=r"x2 .*expected 6, got 5"):
        MLP.kernel(X, X[:, :5])
    with pytest.raises(ValueError, match=r"params"):
        MLP.empirical(X, params=MLP.init(0, d=5))


def test_bad_settings_are_value_errors_with_the_engine_message():
    with pytest.raises(ValueError, match=r"invalid activation `swish`"):
        ntk.Mlp(activation="swish")
    with pytest.raises(ValueError, match=r"invalid parameterization"):
        ntk.Mlp(parameterization="muP")
    with pytest.raises(ValueError, match=r"widths"):
        ntk.Mlp(widths=[8, 0])
    with pytest.raises(ValueError, match=r"invalid kind `jacobian`"):
        MLP.empirical(X, kind="jacobian")
    with pytest.raises(ValueError, match=r"invalid dtype `float16`"):
        MLP.empirical(X, dtype="float16")
    with pytest.raises(ValueError, match=r"get"):
        MLP.kernel(X, None, ("ntk", "cov"))


def test_leaky_relu_names_are_the_clis():
    assert ntk.Mlp(activation="leaky_relu:0.1").activation == "leaky_relu:0.1"
    with pytest.raises(ValueError, match=r"leaky_relu"):
        ntk.Mlp(activation="leaky_relu:abc")


def test_positional_get_and_tuple():
    nngp, theta = MLP.kernel(X, None, ("nngp", "ntk"))
    np.testing.assert_array_equal(nngp, MLP.kernel(X, None, "nngp"))
    np.testing.assert_array_equal(theta, MLP.kernel(X))
    assert MLP.kernel(X, X[:4], "ntk", full=True).shape == (40, 4, 2, 2)
    both = MLP.kernel(X, None, None)  # neural-tangents' get=None: both, by name
    np.testing.assert_array_equal(both.nngp, nngp)
    np.testing.assert_array_equal(both.ntk, theta)


def test_init_is_the_seeded_empirical_weights():
    params = MLP.init(3, d=X.shape)
    assert [(w.shape, b.shape) for w, b in params] == [
        ((6, 64), (64,)),
        ((64, 48), (48,)),
        ((48, 2), (2,)),
    ]
    for dtype in ("float32", "float64"):
        np.testing.assert_array_equal(
            MLP.empirical(X, params=params, dtype=dtype), MLP.empirical(X, seed=3, dtype=dtype)
        )
    assert not np.array_equal(MLP.empirical(X, seed=4), MLP.empirical(X, seed=3))
    with pytest.raises(TypeError, match="input dimension"):
        MLP.init(0)


def test_threads_do_not_change_a_bit(monkeypatch):
    one = MLP.empirical(X, threads=1, full=True)
    two = MLP.empirical(X, threads=2, full=True)
    np.testing.assert_array_equal(one, two)
    monkeypatch.setenv("NTK_NUM_THREADS", "2")
    np.testing.assert_array_equal(MLP.empirical(X, full=True), one)
    monkeypatch.setenv("NTK_NUM_THREADS", "many")
    with pytest.raises(ValueError, match="NTK_NUM_THREADS"):
        MLP.kernel(X)
