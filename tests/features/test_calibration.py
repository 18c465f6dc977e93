"""Scores on one scale: the normal reference's tail probability, the alarm budget and the ratio to its cut."""

from __future__ import annotations

import json

import numpy as np
import pytest

from prognos.errors import InvalidInput
from prognos.features.calibration import Budget, Normal, ratio
from prognos.train.estimators.thresholds import normal


@pytest.mark.parametrize(
    ("text", "alarms", "per_ms"),
    [("1/week", 1.0, 604_800_000), ("2/days", 2.0, 86_400_000), ("0.5/h", 0.5, 3_600_000), (" 3 / min ", 3.0, 60_000)],
)
def test_a_budget_reads_alarms_per_period(text, alarms, per_ms):
    b = Budget.parse(text)
    assert (b.alarms, b.per_ms) == (alarms, per_ms)


@pytest.mark.parametrize("text", ["", "week", "1/fortnight", "0/day", "-1/day", "1 per day", "1/"])
def test_a_budget_that_does_not_read_is_refused_naming_the_field(text):
    with pytest.raises(InvalidInput) as err:
        Budget.parse(text)
    assert err.value.field == "alarm_budget" and repr(text) in str(err.value) and "1/week" in str(err.value)


def test_the_budget_is_spread_over_the_windows_of_its_period():
    week = Budget.parse("1/week")
    assert week.risk(1000) == pytest.approx(1 / 604_800)  # a window a second: 604,800 windows a week
    assert week.risk(60_000) == pytest.approx(60 * week.risk(1000))  # a window a minute: 60 times the chance each
    assert Budget.parse("100/h").risk(60_000) == 0.1  # never more than one window in ten


def test_the_tail_probability_of_unseen_normal_data_keeps_the_budget():
    """Set on 5,000 normal scores, the cut for a risk holds on 400,000 new ones of the same kind — also where the
    risk is far past what 5,000 windows can show, which is the extreme-value fit's job."""
    rng = np.random.default_rng(3)
    for draw in (lambda n: rng.gamma(2.0, 3.0, n), lambda n: rng.lognormal(0.0, 0.6, n)):
        ref = normal(draw(5_000))
        fresh = draw(400_000)
        for risk in (1e-2, 1e-3, 1e-4):
            seen = float(np.mean(ratio(ref.p(fresh), risk) >= 1.0))
            assert risk / 3 <= seen <= risk * 3, (risk, seen)


def test_probabilities_fall_as_scores_rise_and_stay_in_0_1():
    ref = normal(np.random.default_rng(0).exponential(size=3_000))
    p = ref.p(np.linspace(0, 60, 2_000))
    assert (np.diff(p) <= 1e-15).all()
    assert p[0] == 1.0 and p[-1] > 0.0 and (p <= 1.0).all()
    assert ref.p(np.nan) == 1.0  # a score that is not a number says nothing: no alarm


def test_the_scale_of_a_detector_does_not_matter():
    """One detector's normal is 0.4, another's 300,000: scores as rare read the same."""
    s = np.random.default_rng(1).gamma(3.0, size=4_000)
    small, large = normal(0.4 * s), normal(300_000 * s)
    probe = np.array([1.0, 3.0, 8.0, 15.0])
    np.testing.assert_allclose(small.p(0.4 * probe), large.p(300_000 * probe), rtol=1e-6)
    assert small.cut(1e-5) / 0.4 == pytest.approx(large.cut(1e-5) / 300_000)


def test_the_cut_is_the_score_at_the_risk_and_the_ratio_reads_1_there():
    ref = normal(np.random.default_rng(2).exponential(size=10_000))
    for risk in (0.2, 0.05, 1e-3, 1e-6):
        cut = ref.cut(risk)
        assert ref.p(cut) == pytest.approx(risk, rel=1e-3)
        assert ratio(ref.p(cut), risk) == pytest.approx(1.0, rel=1e-3)
        assert ratio(ref.p(0.9 * cut), risk) < 1.0 < ratio(ref.p(1.1 * cut), risk)
    assert ratio(1.0, 1e-5) == 0.0 and ratio(1e-10, 1e-5) == pytest.approx(2.0)


def test_a_tail_too_short_to_fit_falls_back_to_an_exponential_and_says_so():
    ref = normal(np.arange(1.0, 101.0))
    assert ref.method == "exponential"
    assert "5 scores over the 95% quantile are too few for a tail fit" in ref.fallback
    assert ref.cut(1e-6) > 100.0  # past the largest normal score: a small budget can still alarm
    assert ref.p(1e9) > 0.0


def test_the_reference_travels_in_a_model_card():
    ref = normal(np.random.default_rng(4).gamma(2.0, size=2_000))
    back = Normal.from_dict(json.loads(json.dumps(ref.to_dict())))
    probe = np.linspace(0, 30, 50)
    np.testing.assert_array_equal(back.p(probe), ref.p(probe))
    assert back.method == "pot" and back.windows == 2_000
