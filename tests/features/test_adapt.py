"""Normal that keeps learning: a shift that stays is learned within the stated time, a spike or a short fault is
not, and the stream's tracker and the offline twins agree step for step."""

from __future__ import annotations

import math

import numpy as np
import pytest

from prognos.errors import InvalidInput
from prognos.features.adapt import SPAN_INPUT, Step, Tracker, levels, offsets

MINUTE = 60_000


def test_a_shift_that_stays_becomes_normal_within_the_absorb_time():
    steps = Step.parse("6h", MINUTE)
    rows = np.r_[np.zeros(600), np.full(900, 8.0)][:, None]  # 8 noise widths up from minute 600, and it stays
    seen = offsets(rows, steps)[:, 0]
    learned = np.argmax(seen >= 7.9) - 600
    assert 0 < learned <= 6 * 60  # within six hours of minutes
    assert learned == pytest.approx(8.0 / SPAN_INPUT * 360, abs=2)  # a smaller change sooner: 8 of 12 widths


def test_a_spike_is_forgotten_and_a_fault_shorter_than_the_absorb_time_only_partly_learned():
    steps = Step.parse("6h", MINUTE)
    spike = np.zeros(300)
    spike[100] = 50.0
    assert np.abs(offsets(spike[:, None], steps)).max() <= steps.input + 1e-12  # one step, whatever its height
    fault = np.zeros(300)
    fault[100:110] = 6.0  # ten minutes of a fault
    assert offsets(fault[:, None], steps).max() <= 10 * 12 / 360 + 1e-9  # a third of a noise width at most


def test_the_tracker_and_its_offline_twins_agree_step_for_step():
    rng = np.random.default_rng(0)
    rows = rng.normal(size=(500, 3)) + np.linspace(0, 5, 500)[:, None]
    scores = np.exp(rng.normal(size=500)) * np.linspace(1, 20, 500)
    steps = Step.parse("30m", MINUTE)
    tracker = Tracker.start(3, typical=1.0, steps=steps)
    seen_offsets, seen_levels = [], []
    for row, score in zip(rows, scores, strict=True):
        seen_offsets.append(tracker.offset.copy())
        seen_levels.append(tracker.typical())
        tracker.learn(row, float(score))
    np.testing.assert_allclose(np.array(seen_offsets), offsets(rows, steps), atol=1e-12)
    np.testing.assert_allclose(np.array(seen_levels), levels(scores, 1.0, steps), rtol=1e-12)
    again = Tracker.from_list(tracker.to_list(), steps)  # a checkpoint round trip
    assert again.to_list() == tracker.to_list()


def test_the_score_level_follows_a_thousandfold_change_within_the_absorb_time():
    steps = Step.parse("1h", MINUTE)
    seen = levels(np.full(120, 1000.0), 1.0, steps)
    assert seen[0] == 1.0 and math.isclose(seen[60], 1000.0, rel_tol=1e-6)


@pytest.mark.parametrize("text", ["", "soon", "-1h", "0"])
def test_an_absorb_time_that_does_not_read_is_refused_naming_the_field(text):
    with pytest.raises(InvalidInput) as err:
        Step.parse(text, MINUTE)
    assert err.value.field == "adapt" and "adapt" in str(err.value)
