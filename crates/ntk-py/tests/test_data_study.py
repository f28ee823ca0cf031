"""ntk.datasets.load (the engine's bundled sets) and ntk.study (the CLI's table)."""

import numpy as np
import pytest

import ntk


@pytest.mark.parametrize("name,shape,classes", [
    ("iris", (150, 4), 3),
    ("wine", (178, 13), 3),
    ("breast-cancer", (569, 30), 2),
    ("digits", (1797, 64), 10),
])
def test_bundled_datasets(name, shape, classes):
    x, y = ntk.datasets.load(name)
    assert x.shape == shape and x.dtype == np.float64 and np.isfinite(x).all()
    assert y.shape == (shape[0],) and y.dtype == np.int64
    assert sorted(set(y.tolist())) == list(range(classes))
    assert name in ntk.datasets.NAMES


def test_unknown_dataset_is_a_value_error():
    with pytest.raises(ValueError, match="mnist"):
        ntk.datasets.load("mnist")


def test_study_returns_its_table_as_columns():
    t = ntk.study("iris", n_train=60, n_test=40, widths=[32, 128], seeds=[0, 1], steps=5,
                  learning_rate=1.0, threads=2)
    assert list(t["width"]) == [32, 128]
    for metric in ("kernel_error", "kernel_drift", "test_accuracy", "train_loss"):
        assert t[f"{metric}_mean"].shape == (2,) and t[f"{metric}_std"].shape == (2,)
    assert len(t) == 1 + 2 * 10
    # The empirical NTK is closer to the analytic one at the larger width (m^{-1/2}).
    assert t["kernel_error_mean"][1] < t["kernel_error_mean"][0]
    again = ntk.study("iris", n_train=60, n_test=40, widths=[32, 128], seeds=[0, 1], steps=5,
                      learning_rate=1.0, threads=1)
    for k in t:
        np.testing.assert_array_equal(t[k], again[k])
    with pytest.raises(ValueError, match="steps"):
        ntk.study("iris", steps=0)
