"""Telemetry → labelled windows: gaps are never bridged, labels follow the intervals, RUL follows failures;
and ``prognos train --source store`` learns from what ``prognos import`` stored."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from prognos.errors import InvalidInput
from prognos.sim.fleet import Fleet
from prognos.store import open_store
from prognos.train.labels import Interval, Labels
from prognos.train.telemetry import Series, from_store, label_windows, remaining, touches_label, windows
from prognos.types import Reading


def test_windows_skip_gaps_and_labels_follow_intervals():
    x = np.arange(20, dtype=float)[:, None].repeat(2, axis=1)
    x[8] = np.nan  # a silent second
    s = Series("d", "pump", np.arange(20) * 1000, x, ["a", "b"])
    w = windows([s], 4)
    assert not np.isnan(w.x).any()
    assert set(w.end.tolist()) == {3000, 4000, 5000, 6000, 7000, *range(12000, 20000, 1000)}
    labels = Labels([Interval("d", 13000, 15000, "stuck")], {"d": 25000})
    y = label_windows(w, labels)
    assert [int(e) for e in w.end[y == "stuck"]] == [13000, 14000]
    assert remaining(w, labels, 10_000)[w.end == 19000].tolist() == [6.0]
    assert remaining(w, labels, 10_000)[w.end == 3000].tolist() == [10.0]  # capped
    assert touches_label(w, labels, 4000)[w.end == 16000].tolist() == [True]  # ends after, overlaps


def test_a_window_longer_than_every_series_is_named():
    s = Series("d", None, np.arange(5) * 1000, np.zeros((5, 2)), ["a", "b"])
    with pytest.raises(InvalidInput, match="no complete window of 10"):
        windows([s], 10)


def test_labels_csv_is_read_and_a_missing_field_is_named(tmp_path):
    good = tmp_path / "labels.csv"
    good.write_text("device_id,start,end,label\npump-1,1000,5000,cavitation\npump-1,9000,,failure\n")
    labels = Labels.load(good)
    assert labels.intervals == [Interval("pump-1", 1000, 5000, "cavitation")] and labels.failures == {"pump-1": 9000}
    bad = tmp_path / "bad.csv"
    bad.write_text("device_id,start,end,label\npump-1,,5000,leak\n")
    with pytest.raises(InvalidInput, match=r"bad.csv:2: missing start"):
        Labels.load(bad)


def test_store_series_align_to_the_grid_and_missing_sensors_are_named():
    store = open_store("memory://")
    store.write([Reading("m", 1000 * i + 300, {"a": float(i), **({"b": 2.0 * i} if i % 2 else {})}) for i in range(10)])
    (s,) = from_store(store, ["m"], 0, 10_000, 1000)
    assert s.sensors == ["a", "b"] and s.x[:, 0].tolist() == list(range(10))
    assert s.x[2, 1] == 2.0  # b reported at 1 s and carried forward to 2 s
    with pytest.raises(InvalidInput, match=r"no readings for sensors \['c'\]"):
        from_store(store, ["m"], 0, 10_000, 1000, sensors=["a", "c"])


def test_store_series_are_cut_on_the_cells_the_stream_scores():
    """Training windows and the stream's windows of a device are the same windows, at the device's phase."""
    from prognos.features.grid import first_cell, phase
    from prognos.features.stream import Windower

    rng = np.random.default_rng(3)
    store = open_store("memory://")
    rs = [
        Reading(
            d,
            1_700_000_000_000 + 250 * i + int(rng.integers(0, 200)),
            {"a": float(rng.normal()), "b": float(rng.normal())},
        )
        for d in ("pump-1", "fan-2")
        for i in range(80)
    ]
    store.write(rs)
    for s in from_store(store, ["pump-1", "fan-2"], 1_700_000_000_000, 1_700_000_020_000, 1000):
        assert {int(t) % 1000 for t in s.ts} == {phase(s.device_id, 1000)}
        offline = windows([s], 5)
        live = Windower(["a", "b"], 5, 1000, offset=phase(s.device_id, 1000))
        first = first_cell(1_700_000_000_000, s.device_id, 1000)  # the first whole cell of the range
        streamed = [w for r in rs if r.device_id == s.device_id and r.ts >= first for w in live.push(r.ts, r.values)]
        assert len(streamed) >= 10 and [e for e, _ in streamed] == offline.end.tolist()[: len(streamed)]
        np.testing.assert_allclose(np.stack([w for _, w in streamed]), offline.x[: len(streamed)])


def test_train_from_the_store_with_simulator_truth(tmp_path):
    fleet = Fleet(devices=6, rate=1.0, duration=1800, seed=3, start=1_700_000_000_000)
    store = open_store(f"duckdb:///{tmp_path}/s.duckdb")
    for d in fleet.devices:
        store.update_device(d.device_id, {"type": d.type}, create=True)
        for i in range(fleet.chunks):
            c = fleet.chunk(d, i)
            store.write(
                [
                    Reading(d.device_id, int(t), dict(zip(c.names, map(float, v), strict=True)))
                    for t, v, m in zip(c.ts, c.values, c.modes, strict=True)
                    if m >= 0
                ]
            )
    store.close()
    (tmp_path / "truth.json").write_text(json.dumps(fleet.truth()))
    base = [
        sys.executable,
        "-m",
        "prognos.cli",
        "train",
        "--source",
        "store",
        "--store",
        f"duckdb:///{tmp_path}/s.duckdb",
        "--type",
        "pump",
        "--start",
        "1700000000000",
        "--end",
        "1700001800000",
        "--epochs",
        "2",
    ]
    out = subprocess.run(
        [*base, "--task", "classify", "--labels", str(tmp_path / "truth.json"), "--out", str(tmp_path / "cls")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    card = json.loads((tmp_path / "cls" / "card.json").read_text())
    assert card["data"]["devices"] == ["pump-000", "pump-003"] and "normal" in card["output"]["classes"]
    assert card["input"]["sensors"] == sorted(card["input"]["sensors"]) and len(card["input"]["sensors"]) == 12
    out = subprocess.run(
        [*base, "--task", "anomaly", "--out", str(tmp_path / "ad")], capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr
    output = json.loads((tmp_path / "ad" / "card.json").read_text())["output"]
    calibration = output["calibration"]  # how the cut was set, said even when it is not the method asked for
    assert output["threshold"] > 0 and calibration["asked"] == "pot" and calibration["windows"] > 0
    assert (calibration["method"] == "pot") == (calibration["fallback"] == "")  # anything else says why
    assert (
        f"alarm threshold {output['threshold']:.4g}: {calibration['method']} of {calibration['windows']}" in out.stdout
    )
    contest = json.loads((tmp_path / "ad" / "card.json").read_text())["metrics"]["contest"]
    assert contest["why"] in out.stdout and "conv-ae  event F1" in out.stdout and "pca      event F1" in out.stdout
    no_labels = subprocess.run([*base, "--task", "rul", "--out", str(tmp_path / "r")], capture_output=True, text=True)
    assert no_labels.returncode == 2 and "--labels is needed to train rul" in no_labels.stderr
    wrong = [*base, "--task", "anomaly", "--settings", "speed_set", "--out", str(tmp_path / "w")]
    no_setting = subprocess.run(wrong, capture_output=True, text=True, timeout=300)
    assert no_setting.returncode == 2 and "settings: 'speed_set' is not an input" in no_setting.stderr
    wrong = [*base, "--task", "anomaly", "--detectors", "lstm", "--out", str(tmp_path / "w")]
    no_detector = subprocess.run(wrong, capture_output=True, text=True, timeout=300)
    assert no_detector.returncode == 2 and "detectors: 'lstm' is not a detector" in no_detector.stderr


def test_fine_tuning_starts_from_a_pretrained_pump_model(tmp_path):
    from prognos.recipes import Order, simulated

    parent = tmp_path / "pump-anomaly"
    simulated(Order("anomaly", "simulator:pump", parent, epochs=2, progress=False), devices=3, hours=0.5)
    fleet = Fleet(devices=6, rate=1.0, duration=1200, seed=9, start=1_700_000_000_000)
    url = f"duckdb:///{tmp_path}/s.duckdb"
    store = open_store(url)
    for d in fleet.devices[:1]:  # the user's one pump
        for i in range(fleet.chunks):
            c = fleet.chunk(d, i)
            store.write(
                [
                    Reading(d.device_id, int(t), dict(zip(c.names, map(float, v), strict=True)))
                    for t, v in zip(c.ts, c.values, strict=True)
                ]
            )
    store.close()
    base = [
        sys.executable,
        "-m",
        "prognos.cli",
        "train",
        "--task",
        "anomaly",
        "--source",
        "store",
        "--store",
        url,
        "--devices",
        "pump-000",
        "--start",
        "1700000000000",
        "--end",
        "1700001200000",
        "--epochs",
        "1",
    ]
    out = subprocess.run(
        [*base, "--init-from", str(parent), "--out", str(tmp_path / "mine")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    mine, theirs = (json.loads((p / "card.json").read_text()) for p in (tmp_path / "mine", parent))
    assert mine["params"]["init_from"] == str(parent) and mine["params"]["channels"] == theirs["params"]["channels"]
    # one epoch from the parent's weights stays near them; a fresh start (another seed) is far away
    import torch

    def distance(a, b):
        sa, sb = (torch.load(p / "model.pt", weights_only=True) for p in (a, b))
        return sum(float((sa[k] - sb[k]).abs().sum()) for k in sa if k != "scale")

    fresh = subprocess.run(
        [*base, "--seed", "5", "--detectors", "conv-ae", "--out", str(tmp_path / "fresh")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert fresh.returncode == 0, fresh.stderr
    assert distance(tmp_path / "mine", parent) < distance(tmp_path / "fresh", parent) / 3
    wrong = subprocess.run(
        [*base, "--window", "30", "--init-from", str(parent), "--out", str(tmp_path / "x")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert wrong.returncode == 2 and "over 60 steps, this data has" in wrong.stderr
    (parent / "model.pt").write_bytes(b"tampered")
    tampered = subprocess.run(
        [*base, "--init-from", str(parent), "--out", str(tmp_path / "y")], capture_output=True, text=True, timeout=300
    )
    assert tampered.returncode == 2 and "does not match its checksum" in tampered.stderr


def test_stored_predictions_are_never_taken_for_sensors():
    from prognos.store import open_store
    from prognos.train.telemetry import from_store
    from prognos.types import Reading

    store = open_store("memory://")
    store.write([Reading("d", 1000 * i, {"a": 1.0, "b": 2.0, "pred.m.anomaly.score": 0.1}) for i in range(5)])
    (series,) = from_store(store, ["d"], 0, 5000, 1000)
    assert series.sensors == ["a", "b"]
