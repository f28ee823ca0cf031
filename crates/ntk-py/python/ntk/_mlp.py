"""``ntk.Mlp``: a fully connected network with neural-tangents' (stax) conventions."""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from . import _ntk

_GETS = ("nngp", "ntk")

#: Both kernels, as neural-tangents' ``kernel_fn(x1, x2)`` returns them with ``get=None``.
Kernel = namedtuple("Kernel", ["nngp", "ntk"])


def _as_array(name, x):
    """NumPy arrays pass as they are (dtype checked by the engine layer); other array-likes
    (lists, JAX arrays) are converted with ``np.asarray``."""
    if x is None or isinstance(x, np.ndarray):
        return x
    return np.asarray(x)


class Mlp:
    r"""A fully connected network ``stax.serial(Dense, act, …, Dense)``.

    ``widths`` are the hidden widths ``m_1..m_L`` (the depth ``L`` is their count); the
    readout has ``outputs`` units. Layer ``l`` computes, under the NTK parameterization,
    ``z_l = (W_std/√m_l)·h_l W_l + b_std·b_l`` with stored ``W, b ~ N(0, 1)``, and
    ``h_{l+1} = φ(z_l)``; under ``parameterization="standard"``,
    ``W ~ N(0, W_std²/m_l)``, ``b ~ N(0, b_std²)`` and ``z_l = h_l W_l + b_l``
    (Jacot et al. 2018; Novak et al. 2020).

    ``activation`` is one of the CLI's names: ``relu``, ``leaky_relu:ALPHA``, ``abs``,
    ``erf``, ``sigmoid_like``, ``gelu``, ``identity``, ``tanh``, ``softplus``, ``sin``.
    ``parameterization`` is ``ntk``, ``standard`` or ``mean_field``.
    """

    def __init__(
        self,
        widths=(512, 512),
        activation="relu",
        w_std=1.0,
        b_std=0.0,
        parameterization="ntk",
        outputs=1,
    ):
        self.widths = [int(w) for w in widths]
        self.w_std = float(w_std)
        self.b_std = float(b_std)
        self.outputs = int(outputs)
        self.activation, self.parameterization = _ntk._mlp_check(
            self.widths,
            str(activation),
            self.w_std,
            self.b_std,
            str(parameterization),
            self.outputs,
        )

    def __repr__(self):
        return (
            f"Mlp(widths={self.widths}, activation={self.activation!r}, "
            f"w_std={self.w_std}, b_std={self.b_std}, "
            f"parameterization={self.parameterization!r}, outputs={self.outputs})"
        )

    def _spec(self):
        return (
            self.widths,
            self.activation,
            self.w_std,
            self.b_std,
            self.parameterization,
            self.outputs,
        )

    def kernel(self, x1, x2=None, get="ntk", *, full=False, threads=None):
        r"""The analytic (infinite-width) kernel, neural-tangents' ``kernel_fn(x1, x2, get)``.

        The NNGP follows ``K_{l+1} = W_std²·E[φ(u)φ(v)] + b_std²`` over
        ``(u, v) ~ N(0, [[K_l(x,x), K_l(x,x')], [K_l(x,x'), K_l(x',x')]])`` from
        ``K_0 = W_std²·x·x'/d + b_std²``, and the NTK
        ``Θ_{l+1} = K_{l+1} + W_std²·E[φ'(u)φ'(v)]·Θ_l`` (Jacot et al. 2018; Lee et al.
        2019); closed forms for ReLU-like, erf-like and GELU activations, Gauss–Hermite
        quadrature for the rest.

        ``x1`` is ``(n1, d)``, ``x2`` ``(n2, d)`` or ``None`` (``x1`` against itself).
        ``get`` is ``"ntk"``, ``"nngp"`` or a tuple of them (then a tuple of arrays in that
        order); ``None`` gives both as ``Kernel(nngp, ntk)``. Returns ``(n1, n2)`` float64, or ``(n1, n2, k, k)`` (``Θ ⊗ I_k``) with
        ``full=True``.
        """
        x1, x2 = _as_array("x1", x1), _as_array("x2", x2)
        if isinstance(get, str):
            return _ntk._analytic(x1, x2, *self._spec(), get, full, threads)
        if get is None:
            return Kernel(*(_ntk._analytic(x1, x2, *self._spec(), g, full, threads) for g in _GETS))
        gets = tuple(get)
        if not gets or any(g not in _GETS for g in gets):
            raise ValueError(f"get: expected 'ntk', 'nngp' or a tuple of them, got {get!r}")
        return tuple(_ntk._analytic(x1, x2, *self._spec(), g, full, threads) for g in gets)

    def empirical(
        self,
        x1,
        x2=None,
        kind="ntk",
        seed=0,
        params=None,
        full=False,
        dtype="float32",
        *,
        threads=None,
    ):
        r"""The empirical (finite-width) NTK or NNGP of this network.

        NTK: ``Θ̂(x, x')[a, b] = Σ_{l=0..L} (s_W(l)²·h_l(x)·h_l(x') + s_b(l)²)·
        δ_l(x)[a]·δ_l(x')[b]`` with ``h_l`` the input of dense layer ``l``,
        ``δ_l = ∂f/∂z_l`` and ``(s_W, s_b)`` its forward scales (Novak, Sohl-Dickstein &
        Schoenholz 2022); never forms a Jacobian. NNGP:
        ``K̂(x, x') = W_std²·h_L(x)·h_L(x')/m_L + b_std²``.

        ``params``: a list of ``(W, b)`` pairs in stax layout (``W`` is
        ``fan_in × fan_out``, ``b`` ``(fan_out,)``; empty tuples of activation layers are
        skipped), as returned by :meth:`init`; ``None``: the seeded initialisation
        ``init(seed)``. ``dtype``: ``"float32"`` products with float64 accumulation, or
        ``"float64"``. Returns ``(n1, n2)`` (traced: the mean over the ``k`` outputs'
        diagonal) or ``(n1, n2, k, k)`` with ``full=True``; float64. Ctrl-C stops it
        between tiles (``KeyboardInterrupt``).
        """
        x1, x2 = _as_array("x1", x1), _as_array("x2", x2)
        return _ntk._empirical(
            x1,
            x2,
            *self._spec(),
            str(kind),
            int(seed),
            params,
            bool(full),
            str(dtype),
            threads,
        )

    def init(self, seed=0, d=None):
        r"""The seeded initial parameters as a list of ``(W, b)`` NumPy pairs (stax layout,
        readout last), the weights :meth:`empirical` uses for the same ``seed``: stored
        values ``N(0, 1)`` under the NTK parameterization, ``N(0, W_std²/fan_in)`` and
        ``N(0, b_std²)`` under the standard one.

        ``d`` is the input dimension, or an input shape such as ``x.shape`` (its last
        entry; stax's ``init_fn(key, input_shape)`` takes it the same way). It is
        required: the first layer is ``d × m_1``."""
        if d is None:
            raise TypeError(
                "init: the input dimension is required, e.g. mlp.init(0, d=x.shape[1])"
            )
        if not isinstance(d, (int, np.integer)):
            d = tuple(d)[-1]
        return _ntk._init(int(d), *self._spec(), int(seed))
