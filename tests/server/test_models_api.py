from __future__ import annotations

from prognos.registry import Registry
from tests.test_registry import artifact


def test_the_registry_over_http(live, tmp_path):
    reg = Registry(live.store, tmp_path / "models")
    for i in range(2):
        reg.publish(artifact(tmp_path / f"a{i}"))
    http = live.http
    listed = http.get("/api/v1/models").json()["models"]
    assert [m["name"] for m in listed] == ["pump-anomaly"] and [v["version"] for v in listed[0]["versions"]] == [1, 2]
    assert http.put("/api/v1/models/pump-anomaly/aliases/champion", json={"version": 1}).json()["version"] == 1
    assert http.put("/api/v1/models/pump-anomaly/aliases/champion", json={"version": 2}).status_code == 200
    model = http.get("/api/v1/models/pump-anomaly").json()
    assert model["aliases"] == {"champion": 2} and model["versions"][1]["aliases"] == ["champion"]
    card = http.get("/api/v1/models/pump-anomaly/versions/champion").json()
    assert card["version"] == 2 and card["card"]["task"] == "anomaly" and "model.onnx" in card["files"]
    conflict = http.post("/api/v1/models/pump-anomaly/versions/2/archive")
    assert conflict.status_code == 409 and "carries champion" in conflict.json()["error"]["message"]
    assert http.post("/api/v1/models/pump-anomaly/aliases/champion/rollback").json()["version"] == 1
    assert http.post("/api/v1/models/pump-anomaly/versions/2/archive").json()["archived"] is True
    assert http.get("/api/v1/models/nope").status_code == 404
    assert http.get("/api/v1/models/pump-anomaly/versions/7").status_code == 404
    bad = http.put("/api/v1/models/pump-anomaly/aliases/champion", json={"version": "two"})
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "version"
    assert http.put("/api/v1/models/pump-anomaly/aliases/champion", content=b"{").status_code == 400


def test_an_onnx_file_published_over_http_is_served(live, tmp_path):
    from tests.test_registry import onnx_model

    data = onnx_model(tmp_path / "theirs.onnx", scale=4.0).read_bytes()
    r = live.http.post("/api/v1/models/vendor/versions?sensors=a,b,c&task=anomaly&promote=champion", content=data)
    assert r.status_code == 201, r.text
    published = r.json()
    assert published["version"] == 1 and published["deployed"] and published["serving"]["champion"] == 1
    card = live.http.get("/api/v1/models/vendor/versions/1").json()["card"]
    assert card["task"] == "anomaly" and card["input"]["sensors"] == ["a", "b", "c"]
    tensor = {"name": "input", "shape": [1, 4, 3], "datatype": "FP32", "data": [1.0] * 12}
    answer = live.http.post("/v2/models/vendor/infer", json={"inputs": [tensor]})
    assert answer.json()["outputs"][0]["data"] == [4.0] * 12
    junk = live.http.post("/api/v1/models/vendor/versions", content=b"not a model")
    assert junk.status_code == 400 and "not a loadable ONNX model" in junk.json()["error"]["message"]
    assert live.http.get("/api/v1/models/vendor").json()["versions"][-1]["version"] == 1  # nothing half-published
