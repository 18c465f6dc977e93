"""The C-MAPSS reader on tiny files in the original format (the real data is read by the benchmarks)."""

from __future__ import annotations

import numpy as np
import pytest

from prognos.datasets import cmapss
from prognos.errors import InvalidInput


def write(tmp_path, name: str, units: dict[int, int]) -> None:
    rows = []
    for u, n in units.items():
        for c in range(1, n + 1):
            rows.append([u, c, 0.1 * c, 0.0, 100.0] + [float(u * 100 + c + s) for s in range(21)])
    np.random.default_rng(0).shuffle(rows)  # the reader orders by unit and cycle itself
    np.savetxt(tmp_path / name, np.array(rows), fmt="%.4f")


def test_reads_units_in_order_with_their_rul(tmp_path):
    write(tmp_path, "train_FD001.txt", {1: 5, 2: 3})
    write(tmp_path, "test_FD001.txt", {1: 2, 2: 4})
    (tmp_path / "RUL_FD001.txt").write_text("10\n20\n")
    s = cmapss.load(tmp_path, "fd001")
    assert s.train.ids().tolist() == [1, 2] and s.train.cycle[s.train.of(1)].tolist() == [1, 2, 3, 4, 5]
    assert s.test_rul.tolist() == [10, 20] and s.train.columns(["s2"])[0, 0] == 101 + 1


def test_errors_name_what_is_wrong(tmp_path):
    with pytest.raises(InvalidInput, match="unknown C-MAPSS subset 'FD009'"):
        cmapss.load(tmp_path, "FD009")
    with pytest.raises(InvalidInput, match="not found"):
        cmapss.load(tmp_path, "FD002")
    write(tmp_path, "train_FD003.txt", {1: 3})
    write(tmp_path, "test_FD003.txt", {1: 2, 2: 2})
    (tmp_path / "RUL_FD003.txt").write_text("5\n")
    with pytest.raises(InvalidInput, match="1 lines for 2 test units"):
        cmapss.load(tmp_path, "FD003")
