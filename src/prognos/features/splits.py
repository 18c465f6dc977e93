"""Splits by unit: a machine's whole history lands on one side, so nothing leaks across units."""

from __future__ import annotations

import numpy as np

from prognos.errors import InvalidInput


def by_unit(units: np.ndarray, validation: float = 0.2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks (train, validation) over rows, drawing whole units for validation.

    >>> train, val = by_unit(np.array([1, 1, 2, 2, 3, 3]), validation=1/3, seed=0)
    >>> bool((train & val).any()), bool((train | val).all())
    (False, True)
    """
    ids = np.unique(units)
    if len(ids) < 2:
        raise InvalidInput(f"need at least 2 units to split, got {len(ids)}", field="units", value=len(ids))
    n_val = min(len(ids) - 1, max(1, round(len(ids) * validation)))
    picked = np.random.default_rng(seed).choice(ids, size=n_val, replace=False)
    val = np.isin(units, picked)
    return ~val, val
