from __future__ import annotations

import json

import numpy as np
import pytest

from prognos.errors import IntegrityError, InvalidInput
from prognos.inference.runtime import load
from prognos.train.estimators import thresholds
from tests.inference.conftest import tamper
from tests.test_registry import artifact


def tensors(x, datatype="FP32", name="input", **params):
    return {name: (datatype, x, params)}


def test_contract_comes_from_the_graph_and_sensors_from_the_card(registry):
    model = load(registry, registry.get("pump-anomaly", 1))
    meta = model.metadata()
    assert meta["inputs"] == [{"name": "input", "datatype": "FP32", "shape": [-1, 4, 3]}]
    assert meta["outputs"][0]["name"] == "score" and meta["parameters"]["sensors"] == ["a", "b", "c"]
    assert model.batchable and model.load_seconds > 0
    x = np.ones((2, 4, 3), np.float32)
    (y,) = model.run(model.validate(tensors(x, sensors=["a", "b", "c"])))
    np.testing.assert_allclose(y, 2 * x)
    model.warm(64)


def test_metadata_carries_the_threshold_and_how_it_was_set(registry, tmp_path):
    folder = artifact(tmp_path / "cut")
    card = json.loads((folder / "card.json").read_text())
    calibration = {"value": 4.0, "method": "max", "windows": 80, "risk": 1e-4, "asked": "pot", "fallback": "too few"}
    normal = thresholds.normal(np.random.default_rng(0).exponential(size=500)).to_dict()
    card["output"] = {"threshold": 4.0, "calibration": calibration, "normal": normal, "step_ms": 1000}
    (folder / "card.json").write_text(json.dumps(card))
    params = load(registry, registry.publish(folder)).metadata()["parameters"]
    assert params["threshold"] == 4.0 and params["calibration"] == calibration and "step_ms" not in params
    assert params["normal"] == normal  # a client reads any score as a tail probability, as the stream does
    assert "threshold" not in load(registry, registry.get("pump-anomaly", 1)).metadata()["parameters"]


@pytest.mark.parametrize(
    ("request_tensors", "field", "match"),
    [
        ({}, "inputs", "missing input 'input'"),
        (
            {"input": ("FP32", np.ones((1, 4, 3), np.float32), {}), "extra": ("FP32", np.ones(1), {})},
            "inputs",
            "unknown input 'extra'",
        ),
        (tensors(np.ones((1, 4, 3)), "FP64"), "inputs.input.datatype", "datatype FP64, expected FP32"),
        (tensors(np.ones((1, 4, 2), np.float32)), "inputs.input.shape", r"shape \[1, 4, 2\], expected \[-1, 4, 3\]"),
        (tensors(np.ones((4, 3), np.float32)), "inputs.input.shape", r"shape \[4, 3\]"),
        (
            tensors(np.ones((1, 4, 3), np.float32), sensors=["c", "b", "a"]),
            "parameters.sensors",
            r"do not match the model's order \['a', 'b', 'c'\]",
        ),
    ],
)
def test_bad_input_is_refused_by_name(registry, request_tensors, field, match):
    model = load(registry, registry.get("pump-anomaly", 1))
    with pytest.raises(InvalidInput, match=match) as err:
        model.validate(request_tensors)
    assert err.value.field == field


def test_a_tampered_artifact_is_never_loaded(registry):
    tamper(registry, 2)
    with pytest.raises(IntegrityError, match="does not match its checksum"):
        load(registry, registry.get("pump-anomaly", 2))
