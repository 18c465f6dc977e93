"""Offline and streaming windows agree: the property the serving path rests on."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from prognos.features import grid, sliding
from prognos.features.stream import Windower

readings = st.lists(
    st.tuples(st.integers(0, 30_000), st.integers(0, 2), st.floats(-1e3, 1e3, allow_nan=False)), min_size=1,
    max_size=120,
)  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(readings, st.integers(1, 6), st.integers(0, 3))
def test_streaming_windows_equal_offline_windows(rows, window, hold):
    rows = sorted(rows, key=lambda r: r[0])  # in time order; late data is a separate policy
    step = 1000
    ts, col, val = (np.array(c) for c in zip(*rows, strict=True))
    live = Windower(["a", "b", "c"], window, step, hold)
    got = [pair for t, c, v in rows for pair in live.push(int(t), {"abc"[c]: float(v)})]
    start = int(ts.min()) // step * step
    end = int(ts.max()) // step * step  # the last cell is still open in the stream: offline stops before it
    if end <= start:
        assert got == []
        return
    grid_ts, x = grid.align(ts, col, val.astype(float), 3, start, end, step, hold)
    want = sliding(x, window) if len(x) >= window else np.empty((0, window, 3))
    assert [e for e, _ in got] == grid_ts[window - 1 :].tolist()
    for (_, w), v in zip(got, want, strict=True):
        np.testing.assert_allclose(w, v, rtol=1e-9, atol=1e-9, equal_nan=True)


def test_late_readings_are_counted_not_applied():
    live = Windower(["a"], 2, 1000)
    live.push(0, {"a": 1.0})
    live.push(2500, {"a": 2.0})
    assert live.push(500, {"a": 9.0}) == [] and live.late == 1
