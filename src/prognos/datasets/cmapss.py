"""NASA C-MAPSS turbofan run-to-failure data (Saxena et al., PHM08), read from its original text files.

``train_FD00x.txt`` / ``test_FD00x.txt``: 26 space-separated columns (unit, cycle, 3 operating
settings, 21 sensors); ``RUL_FD00x.txt``: the true remaining cycles after each test unit's last row.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from prognos.errors import InvalidInput

SUBSETS = ("FD001", "FD002", "FD003", "FD004")
SETTINGS = ["setting1", "setting2", "setting3"]
SENSORS = [f"s{i}" for i in range(1, 22)]
# Near-constant in every subset once regimes are removed (Saxena et al.; most papers drop them).
INFORMATIVE = ["s2", "s3", "s4", "s7", "s8", "s9", "s11", "s12", "s13", "s14", "s15", "s17", "s20", "s21"]


@dataclass(frozen=True)
class Units:
    """Rows of several units, ordered by unit then cycle."""

    unit: np.ndarray  # (rows,)
    cycle: np.ndarray  # (rows,)
    settings: np.ndarray  # (rows, 3)
    sensors: np.ndarray  # (rows, 21), columns SENSORS

    def ids(self) -> np.ndarray:
        return np.unique(self.unit)

    def of(self, unit: int) -> slice:
        idx = np.flatnonzero(self.unit == unit)
        return slice(int(idx[0]), int(idx[-1]) + 1)

    def columns(self, names: list[str]) -> np.ndarray:
        return self.sensors[:, [SENSORS.index(n) for n in names]]


@dataclass(frozen=True)
class Subset:
    name: str
    train: Units
    test: Units
    test_rul: np.ndarray  # (test units,), true RUL after each test unit's last cycle


def load(root: str | Path, subset: str) -> Subset:
    """Read one subset from the folder holding the NASA files (or the folder that holds ``cmapss/``)."""
    subset = subset.upper()
    if subset not in SUBSETS:
        raise InvalidInput(
            f"unknown C-MAPSS subset {subset!r}: expected one of {', '.join(SUBSETS)}", field="subset", value=subset
        )
    root = Path(root)
    if (root / "cmapss").is_dir():  # the folder of all benchmarks, as ../shared/data is laid out
        root = root / "cmapss"
    paths = {k: root / f"{k}_{subset}.txt" for k in ("train", "test", "RUL")}
    for p in paths.values():
        if not p.exists():
            raise InvalidInput(
                f"{p} not found: point --data at the folder with the C-MAPSS files", field="data", value=str(p)
            )
    train, test = _units(paths["train"]), _units(paths["test"])
    rul = np.loadtxt(paths["RUL"], ndmin=1)
    if len(rul) != len(test.ids()):
        raise InvalidInput(f"{paths['RUL']}: {len(rul)} lines for {len(test.ids())} test units", field="RUL")
    return Subset(subset, train, test, rul)


def _units(path: Path) -> Units:
    a = np.loadtxt(path, ndmin=2)
    if a.shape[1] != 26:
        raise InvalidInput(f"{path}: expected 26 columns, got {a.shape[1]}", field="columns", value=a.shape[1])
    order = np.lexsort((a[:, 1], a[:, 0]))
    a = a[order]
    return Units(a[:, 0].astype(np.int64), a[:, 1].astype(np.int64), a[:, 2:5], a[:, 5:26])
