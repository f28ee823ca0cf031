import numpy as np
import numpy.typing as npt

NAMES: tuple[str, ...]

def load(name: str) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]: ...
