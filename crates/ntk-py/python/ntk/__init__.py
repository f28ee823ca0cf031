"""Neural tangent kernels of MLPs from NumPy, with neural-tangents' conventions, no JAX.

The numerics are the Rust engine ``ntk-engine`` (this package is a thin layer over it):

* ``Mlp(...).kernel(x1, x2, get)``: the analytic (infinite-width) NNGP ``K`` and NTK ``Θ``,
  neural-tangents' ``kernel_fn``;
* ``Mlp(...).empirical(x1, x2, kind, ...)``: the empirical NTK
  ``Θ̂(x, x') = Σ_l (s_W(l)²·h_l(x)·h_l(x') + s_b(l)²)·δ_l(x)·δ_l(x')ᵀ`` (Novak et al.
  2022) or NNGP ``K̂ = W_std²·h_L(x)·h_L(x')/m_L + b_std²`` of a finite network;
* ``predict.gradient_descent_mse`` and ``predict.gradient_descent_mse_ensemble``
  (Lee et al. 2019), ``study`` (width-scaling study), ``datasets.load``.

Arrays are read in place when they are C-contiguous float64/float32 (copied otherwise);
results are float64. The engine runs with the GIL released; Ctrl-C stops an empirical
kernel between tiles. Threads: the ``threads=`` keyword, else ``$NTK_NUM_THREADS``, else
one per core; results never depend on the thread count.
"""

from . import datasets, predict
from ._mlp import Kernel, Mlp
from ._study import study

__all__ = ["Kernel", "Mlp", "datasets", "predict", "study"]
__version__ = "0.1.0"
