"""Windows, targets, scaling and splits: the invariants training and serving rely on."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from prognos.errors import InvalidInput
from prognos.features import RegimeScaler, by_unit, last_window, rul, sliding, window_ends


@given(length=st.integers(0, 60), size=st.integers(1, 12), stride=st.integers(1, 12))
def test_windows_end_at_the_last_sample_and_step_by_stride(length, size, stride):
    ends = window_ends(length, size, stride)
    if length < size:
        assert len(ends) == 0
        return
    assert ends[-1] == length - 1 and ends[0] >= size - 1 and ends[0] - stride < size - 1
    assert (np.diff(ends) == stride).all()


@given(length=st.integers(1, 40), size=st.integers(1, 8))
def test_stride_equal_to_size_covers_each_covered_sample_exactly_once(length, size):
    x = np.arange(length, dtype=float)[:, None]
    w = sliding(x, size, stride=size)
    seen = w.ravel().tolist()
    assert len(seen) == len(set(seen)) and (not seen or seen[-1] == length - 1)


def test_streaming_windows_equal_offline_windows():
    """A stream that appends one sample at a time and takes the last window sees the offline windows."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 3))
    offline = sliding(x, 10, 1)
    online = np.stack([last_window(x[: t + 1], 10) for t in range(9, 50)])
    assert np.array_equal(offline, online)


@given(length=st.integers(1, 40), size=st.integers(1, 8), stride=st.integers(1, 4))
def test_padded_windows_are_what_a_short_unit_shows_at_test_time(length, size, stride):
    """Training with pad=True sees every sample end a window, padded exactly as `last_window` pads."""
    x = np.random.default_rng(length).normal(size=(length, 2))
    ends = window_ends(length, size, stride, pad=True)
    w = sliding(x, size, stride, pad=True)
    assert ends[-1] == length - 1 and len(w) == len(ends) and (np.diff(ends) == stride).all() and ends[0] < stride
    for e, win in zip(ends, w, strict=True):
        assert np.array_equal(win, last_window(x[: e + 1], size))


def test_the_input_is_not_mutated_and_windows_do_not_alias_it():
    x = np.arange(12, dtype=float).reshape(6, 2)
    before = x.copy()
    w = sliding(x, 3)
    w[0, 0, 0] = 99.0
    assert np.array_equal(x, before)


def test_short_units_are_padded_with_their_first_sample():
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    assert last_window(x, 4).tolist() == [[1, 2], [1, 2], [1, 2], [3, 4]]
    with pytest.raises(InvalidInput, match="empty"):
        last_window(np.empty((0, 2)), 3)
    with pytest.raises(InvalidInput, match="size"):
        sliding(x, 0)


def test_rul_is_piecewise_linear():
    assert rul(4, cap=None).tolist() == [3, 2, 1, 0]
    assert rul(4, cap=2, remaining_after=1).tolist() == [2, 2, 2, 1]


def test_regime_scaler_removes_regime_offsets_and_round_trips():
    rng = np.random.default_rng(1)
    settings = np.repeat(np.array([[0.0, 0.0], [10.0, 0.5], [20.0, 0.8]]), 200, axis=0) + rng.normal(0, 0.01, (600, 2))
    regime = np.repeat(np.arange(3), 200)
    x = np.stack([regime * 100.0, regime * -5.0], axis=1) + rng.normal(0, 1, (600, 2))
    s = RegimeScaler(regimes=3, seed=0).fit(x, settings)
    z = s.transform(x, settings)
    for r in range(3):
        assert np.allclose(z[regime == r].mean(axis=0), 0, atol=1e-9)
    again = RegimeScaler.from_dict(s.to_dict())
    assert np.array_equal(again.transform(x, settings), z)
    plain = RegimeScaler().fit(x)
    assert abs(plain.transform(x).mean()) < 1e-9 and plain.transform(x)[:, 0].std() == pytest.approx(1)


@pytest.mark.parametrize(
    "points, spread, expected",
    [
        ([[0.0, 0.0], [10.0, 0.5], [20.0, 0.8]], 0.01, 3),  # three flight conditions, a little noise
        ([[0.0, 100.0], [35.0, 60.0], [42.0, 100.0], [10.0, 100.0], [20.0, 60.0], [25.0, 80.0]], 0.05, 6),
        ([[0.0, 0.0]], 1.0, 1),  # settings that wander around one operating point are not regimes
        ([[0.0, 0.0], [1.0, 1.0]], 0.8, 1),  # two blurred points that overlap: not distinct
        ([[0.0, 0.0], [5.0, 5.0]], 0.0, 2),  # exact set points
    ],
)
def test_auto_regimes_are_found_from_the_settings_alone(points, spread, expected):
    rng = np.random.default_rng(2)
    settings = np.repeat(np.array(points), 300, axis=0)
    settings = settings + rng.normal(0, spread, settings.shape)
    x = rng.normal(size=(len(settings), 2)) + settings[:, :1] * 3  # sensors moved by the operating point
    s = RegimeScaler("auto", seed=0).fit(x, settings)
    assert s.regimes == expected and s.to_dict()["regimes"] == expected
    if expected > 1:
        fixed = RegimeScaler(expected, seed=0).fit(x, settings)
        assert np.array_equal(s.transform(x, settings), fixed.transform(x, settings))  # the same as if told
    assert RegimeScaler("auto").fit(x).regimes == 1  # no settings, one regime
    with pytest.raises(InvalidInput, match="regimes: expected a count"):
        RegimeScaler("six")


def test_scaler_errors_name_the_problem():
    s = RegimeScaler().fit(np.ones((5, 2)))
    assert np.array_equal(s.transform(np.ones((2, 2))), np.zeros((2, 2)))  # constant sensor: centred, not inf
    with pytest.raises(InvalidInput, match="expected 2 sensors"):
        s.transform(np.ones((2, 3)))
    with pytest.raises(InvalidInput, match="NaN"):
        s.transform(np.array([[1.0, np.nan]]))
    with pytest.raises(InvalidInput, match="settings"):
        RegimeScaler(regimes=2).fit(np.ones((4, 1)))


def test_unit_split_never_shares_a_unit():
    units = np.repeat(np.arange(10), 7)
    train, val = by_unit(units, 0.3, seed=3)
    assert set(units[train]).isdisjoint(units[val]) and (train | val).all() and len(set(units[val])) == 3
    with pytest.raises(InvalidInput):
        by_unit(np.ones(5))
