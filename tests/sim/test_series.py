"""The univariate series generator: known events after probation, any scale, gaps, the same series for a seed."""

from __future__ import annotations

import numpy as np
import pytest

from prognos.sim.series import KINDS, PROBATION, STEP_MS, _event, generate


def test_a_seed_gives_the_same_series_and_another_seed_another():
    a, b, c = generate(4), generate(4), generate(5)
    np.testing.assert_array_equal(a.values, b.values)
    assert a.events == b.events and not np.array_equal(a.values[:100], c.values[:100])


def test_events_come_after_probation_in_order_and_every_kind_appears():
    seen = set()
    for seed in range(40):
        s = generate(seed)
        begin, end = int(s.ts[0]), int(s.ts[-1])
        assert 2 <= len(s.events) <= 3
        for e in s.events:
            assert begin + PROBATION * (end - begin) < e.start < e.end <= end
            seen.add(e.kind)
        assert [e.start for e in s.events] == sorted(e.start for e in s.events)
    assert seen == set(KINDS)


def test_levels_span_decades_and_gaps_leave_readings_out():
    levels = [float(np.median(generate(seed).values)) for seed in range(30)]
    assert min(levels) < 1.0 and max(levels) > 1000.0  # a detector cannot lean on one unit
    steps = [np.diff(generate(seed).ts) for seed in range(30)]
    assert all((d >= STEP_MS).all() and (d % STEP_MS == 0).all() for d in steps)
    assert any((d > STEP_MS).any() for d in steps)  # some series have gaps


@pytest.mark.parametrize("kind", KINDS)
def test_each_event_changes_the_series_as_its_kind_says(kind):
    x = np.ones(2_000)
    _, start, end = _event(kind, 500, x, 0.05, np.random.default_rng(1))
    assert start == 500 and end > start and (x[:500] == 1.0).all()  # nothing before it
    size = 6 * 0.05
    if kind == "level_shift":  # stays: the new level is the normal from then on
        assert abs(x[500:] - 1.0).min() >= size * 0.99 and np.ptp(x[500:]) == 0
    elif kind == "spike":  # a few points, then back
        assert 1 <= (x != 1.0).sum() <= 3 and (x[end:] == 1.0).all()
    elif kind == "drift":  # grows over its window, then holds
        grown = abs(x - 1.0)
        assert (np.diff(grown[500:end]) >= 0).all() and grown[end - 1] >= size and np.ptp(x[end:]) == 0
    elif kind == "noise_burst":
        assert np.std(x[500:end]) > 0.1 and (x[end:] == 1.0).all()
    else:  # flatline: the last value repeated
        assert np.ptp(x[500:end]) == 0
