"""Checks on what a model is given, shared by every family: windows, finite values, matching lengths."""

from __future__ import annotations

from typing import Any

import numpy as np

from prognos.errors import InvalidInput


def windows(x: Any, field: str = "x", sensors: int | None = None) -> np.ndarray:
    """``x`` as windows (n, window, sensors) of finite numbers, or `InvalidInput` naming what is wrong."""
    if not isinstance(x, np.ndarray) or x.ndim != 3:
        raise InvalidInput(f"{field}: expected windows of shape (n, window, sensors), got {np.shape(x)}", field=field)
    if sensors is not None and x.shape[2] != sensors:
        raise InvalidInput(f"{field}: expected {sensors} sensors, got {x.shape[2]}", field=field, value=x.shape[2])
    if not np.isfinite(x).all():
        raise InvalidInput(f"{field}: {int((~np.isfinite(x)).sum())} values are NaN or infinite", field=field)
    return x


def same_length(x: np.ndarray, y: Any, field: str = "y") -> None:
    if y is not None and len(y) != len(x):
        raise InvalidInput(f"{field}: targets and windows differ in length", field=field, value=(len(x), len(y)))
