"""A packaged model: files checksummed, card complete, int8 close to float, loadable without torch."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

from prognos.features import RegimeScaler
from prognos.train.artifact import Fitted, Spec, data_hash, package, sha256
from prognos.train.estimators import RULRegressor
from tests.train.estimators.test_conformance import rul_data


def test_package_writes_onnx_int8_and_a_complete_card(tmp_path):
    x, y, xv, yv = rul_data(0)
    model = RULRegressor(scales=(3, 6), hidden=16, epochs=5).fit(x, y, xv, yv)
    scaler = RegimeScaler().fit(x.reshape(-1, x.shape[2]))
    spec = Spec("rul", ["a", "b", "c", "d"], x.shape[1], scaler.to_dict(), {"quantiles": [0.1, 0.5, 0.9], "scale": 125})
    data = {"source": "generated", "hash": data_hash(x, y)}
    card_path = package(Fitted(model, spec, x, xv, 1.5), tmp_path / "m", name="tiny", metrics={"rmse": 1.0}, data=data)
    card = json.loads(card_path.read_text())
    for key in (
        "task",
        "input",
        "output",
        "window",
        "scaler",
        "metrics",
        "params",
        "data",
        "versions",
        "files",
        "training_seconds",
        "int8",
        "onnx_parity_max_abs_diff",
    ):
        assert key in card, key
    assert card["input"]["shape"] == [None, 12, 4] and card["input"]["sensors"] == ["a", "b", "c", "d"]
    assert card["onnx_parity_max_abs_diff"] <= 1e-4
    assert set(card["reference"]["features"]) == {"a", "b", "c", "d"}  # what drift is measured against
    assert card["int8"]["max_abs_diff"] < 0.5  # outputs are in units of the cap (~1): int8 stays close
    for name, digest in card["files"].items():
        assert sha256(tmp_path / "m" / name) == digest
    assert "torch" in card["versions"] and card["params"]["hidden"] == 16
    # the server side reads it with onnxruntime and numpy alone: no torch import
    code = (
        "import json, sys, numpy as np, onnxruntime as ort\n"
        f"d = {str(tmp_path / 'm')!r}\n"
        "card = json.load(open(d + '/card.json'))\n"
        "s = ort.InferenceSession(d + '/model.int8.onnx', providers=['CPUExecutionProvider'])\n"
        "y = s.run(None, {'x': np.zeros((3, *card['input']['shape'][1:]), np.float32)})[0]\n"
        "assert y.shape == (3, 3) and 'torch' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    np.testing.assert_array_equal(x, rul_data(0)[0])  # packaging leaves the data alone
