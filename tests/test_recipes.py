"""The recipes behind ``prognos train`` and ``prognos evaluate``, end to end on tiny data sets in the benchmarks'
formats, and their errors."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from prognos.evaluate.cmapss import DEEP
from tests.datasets.test_cmapss import write


def prognos(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "prognos.cli", *args], capture_output=True, text=True, timeout=300)


def tiny_cmapss(tmp_path):
    rng = np.random.default_rng(0)
    for split, n in (("train", 12), ("test", 6)):
        write(tmp_path, f"{split}_FD001.txt", {u: int(rng.integers(40, 70)) for u in range(1, n + 1)})
    truth = [*rng.integers(5, 100, 5), 160]  # one engine with more life left than the training target's cap
    (tmp_path / "RUL_FD001.txt").write_text("\n".join(str(int(v)) for v in truth))
    return tmp_path


def test_train_writes_an_artifact_with_its_card(tmp_path):
    (tmp_path / "data").mkdir()
    data = tiny_cmapss(tmp_path / "data")
    out = prognos(
        "train",
        "--task",
        "rul",
        "--source",
        "cmapss:FD001",
        "--data",
        str(data),
        "--out",
        str(tmp_path / "model"),
        "--epochs",
        "3",
    )
    assert out.returncode == 0, out.stderr
    assert "cmapss-fd001-rul: RMSE" in out.stdout
    card = json.loads((tmp_path / "model" / "card.json").read_text())
    assert card["task"] == "rul" and card["data"]["source"] == "cmapss:FD001" and card["window"] == 100
    assert {"model.onnx", "model.int8.onnx", "model.pt"} == set(card["files"])


def test_unknown_task_and_benchmark_are_named(tmp_path):
    base = [sys.executable, "-m", "prognos.cli", "train", "--out", str(tmp_path / "m"), "--data", str(tmp_path)]
    bad_task = subprocess.run([*base, "--task", "forecast", "--source", "cmapss:FD001"], capture_output=True, text=True)
    assert bad_task.returncode == 2 and "unknown task 'forecast'" in bad_task.stderr
    bad_source = subprocess.run([*base, "--task", "rul", "--source", "kaggle:x"], capture_output=True, text=True)
    assert bad_source.returncode == 2 and "unknown source 'kaggle:x' for task rul" in bad_source.stderr
    assert "available: store, cmapss:FD001|FD002|FD003|FD004" in bad_source.stderr
    wrong_pair = subprocess.run([*base, "--task", "anomaly", "--source", "ai4i"], capture_output=True, text=True)
    assert wrong_pair.returncode == 2 and "available: store, skab, simulator:pump|motor|fan" in wrong_pair.stderr
    no_subset = subprocess.run([*base, "--task", "rul", "--source", "cmapss:FD009"], capture_output=True, text=True)
    assert no_subset.returncode == 2 and "unknown source 'cmapss:FD009'" in no_subset.stderr
    missing = subprocess.run([*base, "--task", "rul", "--source", "cmapss:FD002"], capture_output=True, text=True)
    assert missing.returncode == 2 and "not found" in missing.stderr


def test_evaluate_prints_the_table_and_writes_json_and_markdown(tmp_path):
    (tmp_path / "data").mkdir()
    data = tiny_cmapss(tmp_path / "data")
    out = prognos(
        "evaluate",
        "--subsets",
        "fd001",
        "--seeds",
        "1",
        "--epochs",
        "2",
        "--data",
        str(data),
        "--report",
        str(tmp_path / "r"),
    )
    assert out.returncode == 0, out.stderr
    assert f"| FD001 | {DEEP} |" in out.stdout and "10.61 / 169.0" in out.stdout
    report = json.loads((tmp_path / "r" / "cmapss.json").read_text())
    assert {r["model"] for r in report["rows"]} == {DEEP, "gradient boosting (classic)"}
    assert "best published" in (tmp_path / "r" / "cmapss.md").read_text()
    floor = (160 - 125) / np.sqrt(6)  # what a perfect prediction of the capped target misses against the raw file
    assert all(abs(r["floor"] - floor) < 1e-9 and r["rmse"] >= floor - 1e-9 for r in report["rows"])
    deep = next(r for r in report["rows"] if r["model"] == DEEP)
    assert 0.0 <= deep["coverage_80_capped"] <= 1.0 and deep["coverage_80_capped"] >= deep["coverage_80"] - 1 / 6
    bad = subprocess.run(
        [sys.executable, "-m", "prognos.cli", "evaluate", "--benchmark", "nope"], capture_output=True, text=True
    )
    assert bad.returncode == 2 and "unknown benchmark 'nope'" in bad.stderr


SKAB_HEADER = (
    "datetime;Accelerometer1RMS;Accelerometer2RMS;Current;Pressure;Temperature;Thermocouple;Voltage;Volume Flow RateRMS"
)


def write_skab(root, rows: int = 520, anomaly: tuple[int, int] | None = (440, 500), labelled: bool = True, seed=0):
    """A recording in SKAB's format: 8 sensors that share a slow cycle, and one collective anomaly."""
    rng = np.random.default_rng(seed)
    t = np.arange(rows)
    base = np.sin(t / 10.0)
    x = np.stack([base * (1 + 0.1 * i) for i in range(8)], axis=1) + rng.normal(0, 0.05, (rows, 8))
    label = np.zeros(rows)
    if anomaly:
        label[anomaly[0] : anomaly[1]] = 1
        x[anomaly[0] : anomaly[1], 2] += 3.0  # the current jumps
    lines = [SKAB_HEADER + (";anomaly;changepoint" if labelled else "")]
    for i in range(rows):
        cells = [f"2020-03-09 10:{i // 60 % 60:02d}:{i % 60:02d}", *(f"{v:.5f}" for v in x[i])]
        lines.append(";".join(cells + ([f"{label[i]:.1f}", "0.0"] if labelled else [])))
    root.parent.mkdir(parents=True, exist_ok=True)
    root.write_text("\n".join(lines) + "\n")


def tiny_skab(tmp_path):
    write_skab(tmp_path / "skab" / "anomaly-free" / "anomaly-free.csv", 900, None, labelled=False)
    write_skab(tmp_path / "skab" / "valve1" / "0.csv", seed=1)
    write_skab(tmp_path / "skab" / "other" / "1.csv", seed=2)
    return tmp_path


def tiny_ai4i(tmp_path):
    """AI4I's columns; failures follow a rule (overstrain when torque × wear is high), as the real data's do."""
    rng = np.random.default_rng(0)
    (tmp_path / "ai4i2020").mkdir(parents=True)
    lines = [
        "UDI,Product ID,Type,Air temperature [K],Process temperature [K],Rotational speed [rpm],Torque [Nm],"
        "Tool wear [min],Machine failure,TWF,HDF,PWF,OSF,RNF"
    ]
    for i in range(600):
        torque, wear = rng.normal(40, 10), rng.uniform(0, 250)
        fail = int(torque * wear > 9000)
        lines.append(
            f"{i + 1},M{i},{'LMH'[i % 3]},{rng.normal(300, 2):.1f},{rng.normal(310, 1):.1f},"
            f"{int(rng.normal(1500, 100))},{torque:.1f},{wear:.0f},{fail},0,0,0,{fail},0"
        )
    (tmp_path / "ai4i2020" / "ai4i2020.csv").write_text("\n".join(lines) + "\n")
    return tmp_path


def test_train_anomaly_on_skab_writes_a_detector_with_threshold_and_contributions(tmp_path):
    data = tiny_skab(tmp_path / "data")
    out = prognos(
        "train",
        "--task",
        "anomaly",
        "--source",
        "skab",
        "--data",
        str(data),
        "--out",
        str(tmp_path / "m"),
        "--epochs",
        "3",
    )
    assert out.returncode == 0, out.stderr
    assert "skab-pump-anomaly: F1" in out.stdout
    card = json.loads((tmp_path / "m" / "card.json").read_text())
    assert card["task"] == "anomaly" and card["window"] == 60 and card["output"]["threshold"] > 0
    calibration = card["output"]["calibration"]
    assert calibration["method"] == "quantile" and calibration["fallback"] == "" and calibration["margin"] == 1.5
    assert card["output"]["threshold"] == pytest.approx(1.5 * calibration["value"])
    assert card["input"]["shape"] == [None, 60, 8] and card["onnx_parity_max_abs_diff"] <= 1e-4


def test_train_classify_on_ai4i_learns_the_failure_rule(tmp_path):
    data = tiny_ai4i(tmp_path / "data")
    out = prognos(
        "train",
        "--task",
        "classify",
        "--source",
        "ai4i",
        "--data",
        str(data),
        "--out",
        str(tmp_path / "m"),
        "--epochs",
        "60",
    )
    assert out.returncode == 0, out.stderr
    card = json.loads((tmp_path / "m" / "card.json").read_text())
    assert card["task"] == "classify" and card["output"]["classes"] == [0, 1]
    assert card["metrics"]["roc_auc"] > 0.9


def test_evaluate_skab_pools_the_test_parts_beside_the_leaderboard(tmp_path):
    data = tmp_path / "data"
    for i in range(2):  # long test parts: the leaderboard rule cannot flag a window's length at either end
        write_skab(data / "skab" / "valve1" / f"{i}.csv", rows=700, anomaly=(480, 580), seed=i)
    out = prognos(
        "evaluate", "--benchmark", "skab", "--seeds", "1", "--data", str(data), "--report", str(tmp_path / "r")
    )
    assert out.returncode == 0, out.stderr
    report = json.loads((tmp_path / "r" / "skab.json").read_text())
    rows = {(r["model"], r["rule"]): r for r in report["rows"]}
    assert {m for m, _ in rows} == {"conv-ae", "pca-t2q"} and {r for _, r in rows} == {"leaderboard", "streaming"}
    assert rows["conv-ae", "streaming"]["published"]["f1"] == 0.78
    assert rows["conv-ae", "streaming"]["f1"] > 0.5 and rows["conv-ae", "leaderboard"]["f1"] > 0.5  # the jump is found
    assert "0.78" in (tmp_path / "r" / "skab.md").read_text()


def test_train_with_trials_searches_then_trains_the_best(tmp_path):
    (tmp_path / "data").mkdir()
    data = tiny_cmapss(tmp_path / "data")
    storage = f"sqlite:///{tmp_path}/optuna.db"  # a database storage, as several searching machines would share
    base = [
        "train",
        "--task",
        "rul",
        "--source",
        "cmapss:FD001",
        "--data",
        str(data),
        "--storage",
        storage,
        "--study",
        "fd001",
    ]
    out = prognos(*base, "--out", str(tmp_path / "m"), "--epochs", "4", "--trials", "4")
    assert out.returncode == 0, out.stderr
    card = json.loads((tmp_path / "m" / "card.json").read_text())
    search = card["metrics"]["search"]
    assert search["trials"] == 4 and search["study"] == "fd001"
    assert {k: card["params"][k] for k in search["params"]} == search["params"]  # the final model uses the best
    again = prognos(*base, "--out", str(tmp_path / "m2"), "--epochs", "2", "--trials", "2")
    assert again.returncode == 0, again.stderr
    assert json.loads((tmp_path / "m2" / "card.json").read_text())["metrics"]["search"]["trials"] == 6  # joined


def test_trials_search_the_classifier_too(tmp_path):
    data = tiny_ai4i(tmp_path / "data")
    out = prognos(
        "train",
        "--task",
        "classify",
        "--source",
        "ai4i",
        "--data",
        str(data),
        "--out",
        str(tmp_path / "m"),
        "--epochs",
        "5",
        "--trials",
        "3",
    )
    assert out.returncode == 0, out.stderr
    card = json.loads((tmp_path / "m" / "card.json").read_text())
    assert card["metrics"]["search"]["trials"] == 3
    assert card["params"]["hidden"] == card["metrics"]["search"]["params"]["hidden"]
