"""The datasets bundled with the engine (compiled into it): ``load(name)``."""

from __future__ import annotations

from . import _ntk

#: The bundled datasets' names.
NAMES = tuple(_ntk._dataset_names())


def load(name):
    """``(x, labels)`` of a bundled dataset: ``x`` is ``(n, d)`` float64 in the file's row
    order (unscaled), ``labels`` ``(n,)`` int64. ``name`` is one of :data:`NAMES`
    (``digits``, ``iris``, ``wine``, ``breast-cancer``; UCI/scikit-learn sets)."""
    return _ntk._dataset(str(name))
