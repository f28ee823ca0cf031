"""``ntk.study``: the CLI's width-scaling study, its table as NumPy columns."""

from __future__ import annotations

from . import _ntk


def study(
    dataset="digits",
    n_train=256,
    n_test=256,
    widths=(64, 128, 256, 512, 1024),
    seeds=(0, 1, 2),
    steps=100,
    learning_rate=10.0,
    batch_size=None,
    depth=1,
    activation="relu",
    parameterization="ntk",
    w_std=1.0,
    b_std=0.0,
    alpha=1.0,
    centre=True,
    two_layer="tanh",
    *,
    threads=None,
):
    r"""Trains the MLP (every hidden layer of width ``m``) for each width × seed on a
    bundled dataset and returns the table of ``ntk study`` as a dict of NumPy columns:
    ``width`` and, per metric, ``METRIC_mean`` and ``METRIC_std`` over seeds.

    Metrics (DESIGN §5): ``kernel_error = ‖Θ̂_0 − Θ‖_F/‖Θ‖_F`` (∝ m^{-1/2}, Jacot et al.
    2018), ``kernel_drift = ‖Θ̂_T − Θ̂_0‖_F/‖Θ̂_0‖_F`` (∝ m^{-1/2}, Lee et al. 2019),
    ``param_distance = ‖θ_T − θ_0‖₂``, ``lin_gap`` (RMS of ``g_nn − g_lin``), ``ntk_gap``
    (RMS of ``g_nn − g_ntk``), ``test_mse``, ``test_accuracy``, ``train_loss``,
    ``two_layer_error`` and ``two_layer_bound = β/(2√m)·‖W_T − W_0‖_F²``. Defaults are the
    CLI's; ``two_layer=None`` skips the two-layer net.
    """
    return _ntk._study(
        str(dataset),
        int(n_train),
        int(n_test),
        [int(w) for w in widths],
        [int(s) for s in seeds],
        int(steps),
        float(learning_rate),
        None if batch_size is None else int(batch_size),
        int(depth),
        str(activation),
        str(parameterization),
        float(w_std),
        float(b_std),
        float(alpha),
        bool(centre),
        None if two_layer in (None, "none") else str(two_layer),
        threads,
    )
