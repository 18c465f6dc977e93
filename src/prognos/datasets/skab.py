"""SKAB, the Skoltech Anomaly Benchmark (Katser & Kozitsin, 2020): a pump testbed at 1 Hz.

34 files with one collective anomaly each (``valve1/``, ``valve2/``, ``other/``), 8 sensors, and the
point labels ``anomaly`` and ``changepoint``. The anomaly-free file is not part of the protocol.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from prognos.errors import InvalidInput

SENSORS = [
    "Accelerometer1RMS",
    "Accelerometer2RMS",
    "Current",
    "Pressure",
    "Temperature",
    "Thermocouple",
    "Voltage",
    "Volume Flow RateRMS",
]
FOLDERS = ("valve1", "valve2", "other")
TRAIN_ROWS = 400  # the protocol's per-file training part: train_test_split(train_size=400, shuffle=False)


@dataclass(frozen=True)
class Recording:
    name: str  # e.g. "valve1/3"
    values: np.ndarray  # (rows, 8), columns SENSORS
    anomaly: np.ndarray  # (rows,) bool
    changepoint: np.ndarray  # (rows,) bool


def load(root: str | Path) -> list[Recording]:
    """All 34 anomalous recordings, in a fixed order (folder, then file number)."""
    root = folder(root)
    files = [f for folder in FOLDERS for f in sorted((root / folder).glob("*.csv"), key=lambda p: int(p.stem))]
    if not files:
        raise InvalidInput(
            f"no SKAB files under {root} (expected {', '.join(FOLDERS)} folders)", field="root", value=str(root)
        )
    return [read(f, f"{f.parent.name}/{f.stem}") for f in files]


def folder(root: str | Path) -> Path:
    """The SKAB folder itself, given it or the folder of all benchmarks that holds ``skab/``."""
    root = Path(root)
    return root / "skab" if (root / "skab").is_dir() else root


def read(path: Path, name: str) -> Recording:
    from pyarrow import csv

    table = csv.read_csv(path, parse_options=csv.ParseOptions(delimiter=";"))
    missing = [c for c in SENSORS if c not in table.column_names]
    if missing:
        raise InvalidInput(f"{path}: missing columns {missing}", field="columns", value=missing)
    values = np.column_stack([table[c].to_numpy().astype(np.float64) for c in SENSORS])

    def label(column: str) -> np.ndarray:  # the anomaly-free file has no label columns: all normal
        if column not in table.column_names:
            return np.zeros(len(values), dtype=bool)
        return table[column].to_numpy() > 0

    return Recording(name, values, label("anomaly"), label("changepoint"))
