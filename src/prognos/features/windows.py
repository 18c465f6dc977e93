"""Sliding windows over one unit's series: the same function for training, evaluation and streaming.

A *unit* is one device's (or one engine's) time-ordered samples, shape ``(time, sensors)``. Windows
never cross units, so nothing leaks from one machine into another's sample.

>>> import numpy as np
>>> x = np.arange(10, dtype=float).reshape(5, 2)
>>> sliding(x, size=3, stride=1).shape
(3, 3, 2)
>>> window_ends(5, size=3, stride=2).tolist()
[2, 4]
"""

from __future__ import annotations

import numpy as np

from prognos.errors import InvalidInput


def window_ends(length: int, size: int, stride: int = 1, pad: bool = False) -> np.ndarray:
    """Index of the last sample of each window, aligned so the final sample always ends one.

    With ``pad`` every sample may end a window (see `sliding`); indices stay those of the unpadded series.
    """
    _check(size, stride)
    if pad:
        return window_ends(length + size - 1, size, stride) - (size - 1)
    if length < size:
        return np.empty(0, dtype=np.int64)
    last = length - 1
    return np.arange(last - ((last - (size - 1)) // stride) * stride, length, stride, dtype=np.int64)


def sliding(x: np.ndarray, size: int, stride: int = 1, pad: bool = False) -> np.ndarray:
    """All windows of ``x`` (time, sensors) as (windows, size, sensors); the last window ends at the last sample.

    With ``pad``, samples before the first ``size`` also end a window, padded as `last_window` pads,
    so a model that will see padded windows (short units at test time) has trained on them.
    """
    if pad and len(x):
        x = np.concatenate([np.repeat(x[:1], size - 1, axis=0), x])
    ends = window_ends(len(x), size, stride)
    if not len(ends):
        return np.empty((0, size, x.shape[1]), dtype=x.dtype)
    view = np.lib.stride_tricks.sliding_window_view(x, size, axis=0)  # (time - size + 1, sensors, size)
    return np.ascontiguousarray(view[ends - (size - 1)].transpose(0, 2, 1))


def last_window(x: np.ndarray, size: int) -> np.ndarray:
    """The window ending at the last sample; a unit shorter than ``size`` is padded with its first row.

    Padding by repeating the first sample (not zeros) keeps the padded part on the unit's own scale.
    """
    if len(x) == 0:
        raise InvalidInput("cannot take a window of an empty series", field="series", value=0)
    if len(x) >= size:
        return x[-size:].copy()
    return np.concatenate([np.repeat(x[:1], size - len(x), axis=0), x])


def _check(size: int, stride: int) -> None:
    if size < 1 or stride < 1:
        raise InvalidInput(
            f"window size and stride must be ≥ 1, got size={size}, stride={stride}",
            field="window",
            value=(size, stride),
        )
