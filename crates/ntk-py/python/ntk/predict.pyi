from typing import Any, Callable, NamedTuple, Protocol, Sequence

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]

class Gaussian(NamedTuple):
    mean: F64
    covariance: F64

from . import Kernel as Kernel  # with get=None the ensemble's means or Gaussians, by name

class PredictFn(Protocol):
    def __call__(
        self,
        t: npt.ArrayLike | None = None,
        fx_train_0: npt.ArrayLike | None = 0.0,
        fx_test_0: npt.ArrayLike | None = None,
        k_test_train: npt.ArrayLike | None = None,
    ) -> F64 | tuple[F64, F64]: ...

class EnsemblePredictFn(Protocol):
    def __call__(
        self,
        t: npt.ArrayLike | None = None,
        x_test: npt.ArrayLike | None = None,
        get: str | Sequence[str] | None = None,
        compute_cov: bool = False,
    ) -> Any: ...

def gradient_descent_mse(
    k_train_train: npt.ArrayLike,
    y_train: npt.ArrayLike,
    learning_rate: float = 1.0,
    diag_reg: float = 0.0,
    *,
    threads: int | None = None,
) -> PredictFn: ...
def gradient_descent_mse_ensemble(
    kernel_fn: Callable[..., Any],
    x_train: npt.ArrayLike,
    y_train: npt.ArrayLike,
    learning_rate: float = 1.0,
    diag_reg: float = 0.0,
    *,
    threads: int | None = None,
) -> EnsemblePredictFn: ...
