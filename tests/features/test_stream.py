"""Offline and streaming windows agree: the property the serving path rests on."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
from hypothesis import given, note, settings
from hypothesis import strategies as st

from prognos.features import grid, sliding
from prognos.features.stream import Windower

readings = st.lists(
    st.tuples(st.integers(0, 30_000), st.integers(0, 2), st.floats(-1e3, 1e3, allow_nan=False)),
    min_size=1,
    max_size=120,
)


@settings(max_examples=150, deadline=None)
@given(readings, st.integers(1, 6), st.integers(0, 3), st.sampled_from([0, 1, 370, 999]))
def test_streaming_windows_equal_offline_windows(rows, window, hold, offset):
    rows = sorted(rows, key=lambda r: r[0])  # in time order; late data is a separate policy
    rows = list({(t, c): (t, c, v) for t, c, v in reversed(rows)}.values())[::-1]  # a repeat: the first stays
    rows.sort(key=lambda r: r[0])
    step = 1000
    ts, col, val = (np.array(c) for c in zip(*rows, strict=True))
    live = Windower(["a", "b", "c"], window, step, hold, offset)
    got = [pair for t, c, v in rows for pair in live.push(int(t), {"abc"[c]: float(v)})]
    start = (int(ts.min()) - offset) // step * step + offset  # the phased grid: cells start `offset` past the step
    end = (int(ts.max()) - offset) // step * step + offset  # the last cell is still open in the stream: offline stops
    # before it
    if end <= start:
        assert got == []
        return
    grid_ts, x = grid.align((ts, col, val.astype(float)), 3, start, end, step, hold)
    want = sliding(x, window) if len(x) >= window else np.empty((0, window, 3))
    whole = ~np.isnan(want).any(axis=(1, 2))  # a window touching a gap is skipped, in both
    want, ends = want[whole], grid_ts[window - 1 :][whole]
    assert [e for e, _ in got] == ends.tolist()
    for (_, w), v in zip(got, want, strict=True):
        np.testing.assert_allclose(w, v, rtol=1e-9, atol=1e-9)


def test_late_readings_are_counted_not_applied():
    live = Windower(["a"], 2, 1000)
    live.push(0, {"a": 1.0})
    live.push(2500, {"a": 2.0})
    assert live.push(500, {"a": 9.0}) == [] and live.late == 1


def test_a_repeated_value_counts_once_as_in_the_store():
    live = Windower(["a", "b"], 1, 1000)
    live.push(0, {"a": 1.0})
    live.push(500, {"a": 3.0, "b": 2.0})
    live.push(500, {"a": 99.0, "b": 99.0})  # redelivered with other values: the first stays
    live.push(0, {"a": 50.0, "b": 4.0})  # only b is new at ts 0
    ((end, w),) = live.push(1000, {"a": 0.0})
    assert end == 0 and w.tolist() == [[2.0, 3.0]]


def test_advance_closes_cells_without_readings():
    live = Windower(["a"], 2, 1000, hold=5)
    live.push(0, {"a": 1.0})
    assert [e for e, _ in live.advance(3)] == [1000, 2000] and live.closed == 2
    assert live.advance(2) == []


def test_a_long_silence_is_skipped_not_walked_cell_by_cell():
    live = Windower(["a"], 3, 1000, hold=2)
    for t in range(5):
        live.push(t * 1000, {"a": float(t)})
    ends = [e for e, _ in live.push(10**12, {"a": 9.0})]  # the last cells close, held 2 cells, then a gap
    assert ends == [4000, 5000, 6000] and live.closed == 10**9 - 1  # at once, not cell by cell
    got = [w for t in range(1, 4) for w in live.push(10**12 + t * 1000, {"a": float(t)})]
    assert [e for e, _ in got] == [10**12 + 2000] and got[0][1].ravel().tolist() == [9.0, 1.0, 2.0]


dense = st.lists(
    st.tuples(st.integers(0, 40_000), st.integers(0, 2), st.floats(-1e3, 1e3, allow_nan=False)),
    min_size=60,
    max_size=300,
)


@settings(max_examples=200, deadline=None)
@given(dense, st.integers(1, 6), st.integers(0, 3), st.integers(0, 40), st.sampled_from([0, 250, 999]))
def test_a_resumed_windower_carries_on_as_the_one_that_saw_everything(rows, window, hold, cut_cell, offset):
    """`resume` (arrays, at once) equals pushing reading by reading up to a cut, then both see the rest."""
    rows = sorted({(t, c): (t, c, v) for t, c, v in reversed(rows)}.values())  # one value per (ts, sensor), as stored
    rows = [(t + offset, c, v) for t, c, v in rows]  # whatever the phase, the same cells relative to it
    step = 1000
    closed = cut_cell - 1
    before = [r for r in rows if (r[0] - offset) // step <= closed + 1]
    after = [r for r in rows if (r[0] - offset) // step > closed + 1]
    pushed = Windower(["a", "b", "c"], window, step, hold, offset)
    for t, c, v in before:
        pushed.push(t, {"abc"[c]: v})
    pushed.advance(closed + 1)
    ts, col, val = (np.array([r[i] for r in before]) for i in range(3)) if before else (np.array([]),) * 3
    resumed = Windower.resume((["a", "b", "c"], window, step), closed, (ts, col, val), hold, offset)
    assert resumed.closed == pushed.closed == closed
    got = [[(e, w) for t, c, v in after for e, w in x.push(t, {"abc"[c]: v})] for x in (pushed, resumed)]
    note(f"{len(got[0])} windows after the cut")
    assert [e for e, _ in got[0]] == [e for e, _ in got[1]]
    for (_, a), (_, b) in zip(*got, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_a_fleets_grids_are_phased_so_its_windows_close_spread_over_the_step():
    """A thousand devices reporting at 10 Hz in step: with one grid for all, every window would close within the
    same 100 ms after each second; phased, each 100 ms of the second closes about a tenth of them."""
    devices = [f"pump-{i:04d}" for i in range(1000)]
    lives = {d: Windower(["a"], 1, 1000, hold=0, offset=grid.phase(d, 1000)) for d in devices}
    closing = np.zeros(10, int)
    for t in range(0, 3000, 100):
        for live in lives.values():
            if live.push(t, {"a": 1.0}) and t >= 1000:
                closing[(t % 1000) // 100] += 1
    assert closing.sum() == 2000 and closing.min() >= 120 and closing.max() <= 280, closing  # unphased: 2000 in one
    elsewhere = subprocess.run(
        [
            sys.executable,
            "-c",
            f"from prognos.features.grid import phase; print([phase(d, 1000) for d in {devices[:50]!r}])",
        ],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONHASHSEED": "7"},
    ).stdout
    assert elsewhere.strip() == str([grid.phase(d, 1000) for d in devices[:50]])  # every worker, every restart
    assert grid.first_cell(1_700_000_000_123, "pump-0001", 1000) % 1000 == grid.phase("pump-0001", 1000)
