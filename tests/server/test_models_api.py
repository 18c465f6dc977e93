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
