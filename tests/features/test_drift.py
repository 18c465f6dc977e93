from __future__ import annotations

import numpy as np
import pytest

from prognos.features.drift import Drift, ks, psi, reference

NAMES = ["a", "b"]


def training(n=5000, seed=0):
    return np.random.default_rng(seed).normal(size=(n, 2)) * [1.0, 3.0] + [0.0, 10.0]


def stream(shift=(0.0, 0.0), scale=(1.0, 1.0), n=600, seed=1):
    return np.random.default_rng(seed).normal(size=(n, 2)) * np.multiply([1.0, 3.0], scale) + np.add([0.0, 10.0], shift)


def monitor(rows):
    d = Drift(reference(training(), NAMES), NAMES, size=500, every=50)
    out = {}
    for i in range(0, len(rows), 25):
        out = d.add(rows[i : i + 25])
    return out


def test_an_unshifted_stream_shows_no_drift():
    out = monitor(stream())
    assert out["drift.psi"] < 0.1 and out["drift.ks"] < 0.08


@pytest.mark.parametrize(("shift", "scale", "sensor"), [((1.0, 0.0), (1, 1), "a"), ((0.0, 0.0), (1, 2.5), "b")])
def test_a_shifted_or_widened_sensor_drifts_and_is_named(shift, scale, sensor):
    out = monitor(stream(shift, scale))
    assert out["drift.psi"] > 0.25 and out[f"drift.psi.{sensor}"] == out["drift.psi"]
    other = "b" if sensor == "a" else "a"
    assert out[f"drift.psi.{other}"] < 0.1
    assert out[f"drift.ks.{sensor}"] > 0.15


def test_the_statistics_themselves():
    e = np.full(10, 0.1)
    assert psi(e, e) == 0.0 and psi(e, np.r_[np.full(5, 0.2), np.zeros(5)]) > 1.0
    q = np.quantile(np.random.default_rng(0).normal(size=100_000), np.linspace(0, 1, 101))
    assert ks(q, np.random.default_rng(1).normal(size=2000)) < 0.04
    assert ks(q, np.random.default_rng(1).normal(size=2000) + 1) == pytest.approx(0.38, abs=0.04)  # Φ(0.5)−Φ(−0.5)


def test_nothing_is_said_before_enough_rows():
    d = Drift(reference(training(), NAMES), NAMES, size=500, every=50)
    assert d.add(stream(n=60)) == {}


def test_the_recent_rows_are_the_last_size_whatever_the_batches():
    """Batches smaller and larger than the window, wrapping the buffer: the figures are those of the last 500
    rows measured directly (infinite values are left out)."""
    rows = stream(shift=(0.5, 0.0), n=2000, seed=3)
    rows[::97, 1] = np.inf
    ref = reference(training(), NAMES)
    d = Drift(ref, NAMES, size=500, every=1)
    at = 0
    for k in (30, 170, 600, 7, 333, 412, 1, 447):
        out = d.add(rows[at : at + k])
        at += k
    last = rows[at - 500 : at]
    for j, name in enumerate(NAMES):
        f = ref["features"][name]
        v = last[:, j][np.isfinite(last[:, j])]
        counts = np.bincount(np.searchsorted(f["edges"], v, side="right"), minlength=len(f["edges"]) + 1)
        assert out[f"drift.psi.{name}"] == pytest.approx(psi(np.asarray(f["expected"]), counts / len(v)))
        assert out[f"drift.ks.{name}"] == pytest.approx(ks(np.asarray(f["quantiles"]), v))
