"""A recording scored offline: the stream's own windows and signals, with the decision, from Python and the CLI."""

from __future__ import annotations

import csv
import os
import random
import subprocess
import sys

import pytest

from prognos.errors import InvalidInput, ModelNotReady
from prognos.store import open_store
from prognos.stream import offline
from tests.stream.test_scorer import SENSORS, readings, setup
from tests.stream.test_scorer import offline as reference
from tests.test_registry import onnx_model


def test_a_recording_scores_as_the_training_pipeline_computes_it_whatever_its_order(tmp_path):
    store = open_store("memory://")
    reg, scaler = setup(tmp_path, store)
    data = readings()
    shuffled = random.Random(0).sample(data, len(data))  # a file in no particular order
    rows = offline.score(shuffled, reg, ["toy"]).to_pylist()
    expected = reference(data, scaler, tmp_path / "toy" / "model.onnx")
    assert len(rows) > 100 and {(r["device_id"], r["ts"]) for r in rows} <= set(expected)
    for r in rows:
        assert abs(r["anomaly.score"] - expected[r["device_id"], r["ts"]]) < 1e-4
        assert r["alarm"] == (r["anomaly.ratio"] >= 1.0) and r["model"] == "toy" and r["version"] == 1
    assert any(r["alarm"] for r in rows) and not all(r["alarm"] for r in rows)


def test_a_model_that_cannot_score_is_refused_with_the_reason(tmp_path):
    store = open_store("memory://")
    reg, _ = setup(tmp_path, store)
    reg.publish(onnx_model(tmp_path / "byo.onnx"), "byo")
    reg.promote("byo", 1)
    with pytest.raises(ModelNotReady, match="byo v1 cannot score the stream: its card names no sensors"):
        offline.score(readings(), reg, ["byo"])
    with pytest.raises(ModelNotReady, match="'nope' cannot score"):
        offline.score(readings(), reg, ["nope"])
    with pytest.raises(InvalidInput, match="at least one model"):
        offline.score(readings(), reg, [])


def test_prognos_score_writes_a_row_per_window_with_its_decision(tmp_path):
    store = open_store(f"duckdb:///{tmp_path}/s.duckdb")
    reg, _ = setup(tmp_path, store)
    store.close()
    data = readings(n=60)
    with (tmp_path / "recording.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["machine", "time", *SENSORS])
        for r in data:
            w.writerow([r.device_id, r.ts, *(r.values.get(s, "") for s in SENSORS)])
    env = {**os.environ, "PROGNOS_STORE": f"duckdb:///{tmp_path}/s.duckdb", "PROGNOS_REGISTRY": str(reg.root)}

    def prognos(*args: str) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "prognos.cli", "score", str(tmp_path / "recording.csv"), *args]
        return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)

    done = prognos(
        "--model", "toy", "--device-column", "machine", "--ts-column", "time", "--out", str(tmp_path / "s.csv")
    )
    assert done.returncode == 0, done.stderr
    with (tmp_path / "s.csv").open() as f:
        rows = list(csv.DictReader(f))
    alarms = sum(r["alarm"] == "true" for r in rows)
    assert rows and set(rows[0]) >= {"device_id", "ts", "time", "model", "version", "anomaly.score", "alarm"}
    assert {r["device_id"] for r in rows} == {"pump-1", "pump-2"}
    assert f"{len(rows)} windows scored (2 devices), {alarms} alarms" in done.stderr
    missing = prognos("--model", "nope", "--device-column", "machine", "--ts-column", "time")
    assert missing.returncode == 1 and "'nope' cannot score" in missing.stderr
    nowhere = prognos("--model", "toy", "--device-column", "machine", "--out", str(tmp_path / "no" / "s.csv"))
    assert nowhere.returncode == 2 and "--out" in nowhere.stderr and "no such folder" in nowhere.stderr
    both = prognos("--model", "toy", "--device", "x", "--device-column", "machine")
    assert both.returncode == 2 and "exactly one of a device column or a fixed device id" in both.stderr
    base = ("--model", "toy", "--device-column", "machine", "--ts-column", "time")
    budget = prognos(*base, "--alarm-budget", "3 per day")
    assert budget.returncode == 2 and "alarm budget: expected false alarms per period like 1/week" in budget.stderr
    absorb = prognos(*base, "--adapt", "soon")
    assert absorb.returncode == 2 and "adapt: expected a duration" in absorb.stderr
