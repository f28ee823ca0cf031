from typing import Literal, NamedTuple, Sequence, overload

import numpy as np
import numpy.typing as npt

from . import datasets as datasets
from . import predict as predict

__version__: str

ArrayLike = npt.ArrayLike
F64 = npt.NDArray[np.float64]
Get = Literal["ntk", "nngp"]

class Kernel(NamedTuple):
    nngp: F64
    ntk: F64

class Mlp:
    widths: list[int]
    activation: str
    w_std: float
    b_std: float
    parameterization: str
    outputs: int
    def __init__(
        self,
        widths: Sequence[int] = ...,
        activation: str = "relu",
        w_std: float = 1.0,
        b_std: float = 0.0,
        parameterization: Literal["ntk", "standard", "mean_field"] = "ntk",
        outputs: int = 1,
    ) -> None: ...
    @overload
    def kernel(
        self,
        x1: ArrayLike,
        x2: ArrayLike | None = None,
        get: Get = "ntk",
        *,
        full: bool = False,
        threads: int | None = None,
    ) -> F64: ...
    @overload
    def kernel(
        self,
        x1: ArrayLike,
        x2: ArrayLike | None,
        get: tuple[Get, ...],
        *,
        full: bool = False,
        threads: int | None = None,
    ) -> tuple[F64, ...]: ...
    @overload
    def kernel(
        self,
        x1: ArrayLike,
        x2: ArrayLike | None,
        get: None,
        *,
        full: bool = False,
        threads: int | None = None,
    ) -> Kernel: ...
    def empirical(
        self,
        x1: ArrayLike,
        x2: ArrayLike | None = None,
        kind: Get = "ntk",
        seed: int = 0,
        params: Sequence[tuple[ArrayLike, ArrayLike] | tuple[()]] | None = None,
        full: bool = False,
        dtype: Literal["float32", "float64"] = "float32",
        *,
        threads: int | None = None,
    ) -> F64: ...
    def init(self, seed: int = 0, d: int | Sequence[int] | None = None) -> list[tuple[F64, F64]]: ...

def study(
    dataset: str = "digits",
    n_train: int = 256,
    n_test: int = 256,
    widths: Sequence[int] = ...,
    seeds: Sequence[int] = ...,
    steps: int = 100,
    learning_rate: float = 10.0,
    batch_size: int | None = None,
    depth: int = 1,
    activation: str = "relu",
    parameterization: str = "ntk",
    w_std: float = 1.0,
    b_std: float = 0.0,
    alpha: float = 1.0,
    centre: bool = True,
    two_layer: str | None = "tanh",
    *,
    threads: int | None = None,
) -> dict[str, np.ndarray]: ...
