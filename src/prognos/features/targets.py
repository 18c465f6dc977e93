"""Training targets derived from the run-to-failure history."""

from __future__ import annotations

import numpy as np


def rul(length: int, cap: float | None = 125.0, remaining_after: float = 0.0) -> np.ndarray:
    """Piece-wise linear remaining useful life for a unit of ``length`` samples.

    RUL at sample t is ``remaining_after + (length - 1 - t)``, clipped at ``cap`` (the flat early part:
    a healthy machine's exact remaining life cannot be read from its sensors).

    >>> rul(5, cap=3).tolist()
    [3.0, 3.0, 2.0, 1.0, 0.0]
    """
    out = remaining_after + np.arange(length - 1, -1, -1, dtype=np.float64)
    return out if cap is None else np.minimum(out, cap)
