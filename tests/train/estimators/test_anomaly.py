"""The anomaly detectors find what breaks the normal pattern, point at the sensor that broke it, and
set their alarm threshold from normal data alone."""

from __future__ import annotations

import numpy as np
import pytest

from prognos.errors import InvalidInput
from prognos.features.calibration import Normal
from prognos.train.estimators import AutoencoderDetector, PCADetector, thresholds
from tests.train.estimators.test_conformance import normal_data


def broken(x: np.ndarray, sensor: int = 1, shift: float = 1.5) -> np.ndarray:
    """Windows where one sensor leaves the shared pattern (a stuck or drifting sensor)."""
    out = x.copy()
    out[:, -8:, sensor] += shift
    return out


@pytest.mark.parametrize(
    "make",
    [lambda: AutoencoderDetector(channels=16, kernel=5, epochs=40, seed=0), lambda: PCADetector(variance=0.9)],
    ids=["conv-ae", "pca-t2q"],
)
def test_detectors_alarm_on_broken_windows_blame_the_sensor_and_stay_quiet_on_normal(make):
    x, _, xv, _ = normal_data(0)
    model = make().fit(x)
    assert model.detect(xv).mean() <= 0.05  # normal data: few false alarms
    bad = broken(xv)
    assert model.detect(bad).mean() >= 0.9
    assert (model.predict(bad).argmax(axis=1) == 1).mean() >= 0.9  # the broken sensor leads the contributions
    assert np.allclose(model.score(bad), model.predict(bad).sum(axis=1))


def test_too_few_windows_to_hold_out_for_a_threshold_are_refused():
    x, *_ = normal_data(0)
    with pytest.raises(InvalidInput, match="too few"):
        AutoencoderDetector(epochs=1).fit(x[:3])


def test_pot_threshold_sits_in_the_tail_of_normal_scores():
    s = np.random.default_rng(0).exponential(1.0, 20_000)
    t = thresholds.pot(s, risk=1e-3)
    assert abs(t - np.log(1e3)) < 0.5  # exponential tail: P(S > t) = e^-t
    assert thresholds.pot(s[:5], risk=1e-3) == s[:5].max()  # too short a tail: the largest normal score


@pytest.mark.parametrize(
    "n, method, risk, used, why",
    [
        (20_000, "pot", 1e-3, "pot", ""),
        (500, "pot", 1e-4, "pot", ""),  # 25 peaks: enough for a fit that extrapolates past the largest score
        (100, "pot", 1e-4, "max", "cannot show a risk of 0.0001 per window (needs 10000)"),
        (100, "pot", 0.02, "quantile", "5 scores over the 95% quantile are too few for a tail fit"),
        (1000, "pot", 0.2, "quantile", "puts the cut below the tail"),
        (1000, "quantile", 0.01, "quantile", ""),
        (50, "quantile", 1e-3, "max", "50 normal windows cannot show a risk of 0.001"),
    ],
)
def test_a_threshold_says_how_it_was_set_and_never_falls_back_silently(n, method, risk, used, why):
    s = np.random.default_rng(1).exponential(1.0, n)
    cut = thresholds.fit(s, method, risk)
    assert (cut.method, cut.windows, cut.asked, cut.risk) == (used, n, method, risk)
    assert why in cut.fallback and (cut.fallback == "") == (why == "")
    if used == "max":
        assert cut.value == s.max()
    if used == "pot" and n == 500:
        assert cut.value > s.max()  # beyond what 500 windows have seen, as the risk asks


def test_a_detector_records_how_its_cut_was_set():
    x, *_ = normal_data(0)
    model = PCADetector(risk=1e-3).fit(x)
    assert model.calibration_["windows"] == round(len(x) * 0.2) and model.calibration_["margin"] == 1.0
    assert model.threshold_ == model.calibration_["value"]
    ref = Normal.from_dict(model.normal_)  # the whole normal distribution, on the same held-out windows
    assert ref.windows == model.calibration_["windows"] == 90
    # 5 scores over the tail's start: no fit, so an exponential tail from their mean excess, which reaches past the
    # largest normal score where the single cut had to stop at it
    assert ref.method == "exponential" and "too few for a tail fit" in ref.fallback
    assert ref.cut(1e-3) > model.threshold_ and ref.p(model.threshold_) > 1e-3


def test_thresholds_refuse_non_finite_scores():
    with pytest.raises(InvalidInput, match="finite"):
        thresholds.quantile(np.array([1.0, np.nan]))


def test_the_pca_monitor_is_a_graph_that_exports_and_agrees_with_itself(tmp_path):
    import onnxruntime as ort

    x = normal_data()[0]
    det = PCADetector().fit(x)
    broken = x[:50].copy()
    broken[:, -1, 1] += 8.0  # the latest row off the model plane
    want = det.predict(np.concatenate([x[:50], broken]))
    assert np.allclose(det.forward(np.concatenate([x[:50], broken])), want, atol=1e-4)
    path = det.to_onnx(tmp_path / "pca.onnx", x)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {"x": broken.astype(np.float32)})[0]
    assert np.allclose(got, want[50:], atol=1e-3) and (got.argmax(axis=1) == 1).mean() > 0.9
