"""``prognos train`` end to end on a tiny C-MAPSS-format data set, and its errors."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

from tests.datasets.test_cmapss import write


def tiny_cmapss(tmp_path):
    rng = np.random.default_rng(0)
    for split, n in (("train", 12), ("test", 6)):
        write(tmp_path, f"{split}_FD001.txt", {u: int(rng.integers(40, 70)) for u in range(1, n + 1)})
    (tmp_path / "RUL_FD001.txt").write_text("\n".join(str(int(v)) for v in rng.integers(5, 100, 6)))
    return tmp_path


def test_train_writes_an_artifact_with_its_card(tmp_path):
    (tmp_path / "data").mkdir()
    data = tiny_cmapss(tmp_path / "data")
    out = subprocess.run([sys.executable, "-m", "prognos.cli", "train", "--task", "rul", "--source", "cmapss:FD001",
                          "--data", str(data), "--out", str(tmp_path / "model"), "--epochs", "3"],
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "cmapss-fd001-rul: RMSE" in out.stdout
    card = json.loads((tmp_path / "model" / "card.json").read_text())
    assert card["task"] == "rul" and card["data"]["source"] == "cmapss:FD001" and card["window"] == 30
    assert {"model.onnx", "model.int8.onnx"} == set(card["files"])


def test_unknown_task_and_benchmark_are_named(tmp_path):
    base = [sys.executable, "-m", "prognos.cli", "train", "--out", str(tmp_path / "m"), "--data", str(tmp_path)]
    bad_task = subprocess.run([*base, "--task", "forecast", "--source", "cmapss:FD001"], capture_output=True, text=True)
    assert bad_task.returncode == 2 and "unknown or not yet available task 'forecast'" in bad_task.stderr
    bad_source = subprocess.run([*base, "--task", "rul", "--source", "kaggle:x"], capture_output=True, text=True)
    assert bad_source.returncode == 2 and "unknown benchmark 'kaggle:x'" in bad_source.stderr
    missing = subprocess.run([*base, "--task", "rul", "--source", "cmapss:FD002"], capture_output=True, text=True)
    assert missing.returncode == 2 and "not found" in missing.stderr


def test_evaluate_prints_the_table_and_writes_json_and_markdown(tmp_path):
    (tmp_path / "data").mkdir()
    data = tiny_cmapss(tmp_path / "data")
    out = subprocess.run([sys.executable, "-m", "prognos.cli", "evaluate", "--subsets", "fd001", "--seeds", "1",
                          "--epochs", "2", "--data", str(data), "--report", str(tmp_path / "r")],
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "| FD001 | 1D-CNN quantile (deep) |" in out.stdout and "10.61 / 169.0" in out.stdout
    report = json.loads((tmp_path / "r" / "cmapss.json").read_text())
    assert {r["model"] for r in report["rows"]} == {"1D-CNN quantile (deep)", "gradient boosting (classic)"}
    assert "best published" in (tmp_path / "r" / "cmapss.md").read_text()
    bad = subprocess.run([sys.executable, "-m", "prognos.cli", "evaluate", "--benchmark", "nope"], capture_output=True,
                         text=True)  # fmt: skip
    assert bad.returncode == 2 and "unknown or not yet available benchmark 'nope'" in bad.stderr
