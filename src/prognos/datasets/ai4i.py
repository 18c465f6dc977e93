"""AI4I 2020 predictive maintenance (Matzka, 2020): 10,000 synthetic machining rows, 3.4 % failures.

Tabular, not a time series: each row is one observation, so it enters the window models as windows
of length 1. ``UDI`` and ``Product ID`` are identifiers and are dropped; ``Type`` (L/M/H) is one-hot.
The label is ``Machine failure`` as published (9 failures with no mode flag and 18 RNF rows without
a failure are kept as they are).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from prognos.errors import InvalidInput

NUMERIC = ["Air temperature [K]", "Process temperature [K]", "Rotational speed [rpm]", "Torque [Nm]", "Tool wear [min]"]
TYPES = ["L", "M", "H"]
FEATURES = NUMERIC + [f"Type={t}" for t in TYPES]


@dataclass(frozen=True)
class Table:
    x: np.ndarray  # (rows, 8), columns FEATURES
    failure: np.ndarray  # (rows,) int 0/1


def load(root: str | Path) -> Table:
    from pyarrow import csv

    root = Path(root)
    path = root / "ai4i2020" / "ai4i2020.csv" if (root / "ai4i2020").is_dir() else root / "ai4i2020.csv"
    if not path.is_file():
        raise InvalidInput(f"no AI4I 2020 file at {path}", field="root", value=str(root))
    t = csv.read_csv(path)
    kinds = np.asarray(t["Type"].to_pylist())
    x = np.column_stack(
        [*(t[c].to_numpy().astype(np.float64) for c in NUMERIC), *((kinds == k).astype(np.float64) for k in TYPES)]
    )
    return Table(x, t["Machine failure"].to_numpy().astype(np.int64))
