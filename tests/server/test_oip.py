"""Open Inference Protocol v2 conformance, traffic policy and observability, over real HTTP on loopback."""

from __future__ import annotations

import asyncio
import threading
import time

import httpx
import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from prognos.inference.deployments import Deployments
from prognos.registry import Registry
from tests.inference.conftest import tamper
from tests.server.conftest import serving
from tests.test_registry import artifact

X = np.arange(12, dtype=np.float32).reshape(1, 4, 3)


def body(x=X, **extra):
    tensor = {"name": "input", "shape": list(x.shape), "datatype": "FP32", "data": x.ravel().tolist()}
    return {"inputs": [tensor], **extra}


def two_versions(tmp_path):
    def prepare(store):
        reg = Registry(store, tmp_path / "models")
        reg.publish(artifact(tmp_path / "a1", scale=2.0))
        reg.publish(artifact(tmp_path / "a2", scale=3.0))
        reg.promote("pump-anomaly", 1)
        reg.promote("pump-anomaly", 2, alias="challenger")

    return prepare


@pytest.fixture
def oip(tmp_path):
    with serving(tmp_path, two_versions(tmp_path), payload_sample=1.0, model_poll=0.2) as server:
        yield server


def infer(http, path="/v2/models/pump-anomaly/infer", **extra):
    r = http.post(path, json=body(**extra))
    assert r.status_code == 200, r.text
    return r.json()


def scale_of(answer) -> float:
    return answer["outputs"][0]["data"][1] / X.ravel()[1]


def test_server_and_model_metadata_health_and_readiness(oip):
    http = oip.http
    meta = http.get("/v2").json()
    assert meta["name"] == "prognos" and "model_repository" in meta["extensions"]
    assert http.get("/v2/health/live").json() == {"live": True}
    assert http.get("/v2/health/ready").status_code == 200
    model = http.get("/v2/models/pump-anomaly").json()
    assert model["inputs"] == [{"name": "input", "datatype": "FP32", "shape": [-1, 4, 3]}]
    assert model["outputs"][0]["name"] == "score" and model["parameters"]["sensors"] == ["a", "b", "c"]
    assert model["parameters"]["serving"]["champion"] == 1
    assert http.get("/v2/models/pump-anomaly/versions/2").json()["inputs"][0]["shape"] == [-1, 4, 3]
    assert http.get("/v2/models/pump-anomaly/ready").json() == {"name": "pump-anomaly", "ready": True}
    assert http.get("/v2/models/pump-anomaly/versions/2/ready").status_code == 200
    assert http.get("/v2/models/pump-anomaly@challenger/ready").status_code == 200


def test_infer_by_name_version_and_alias(oip):
    http = oip.http
    answer = infer(http, id="req-1")
    assert answer["model_name"] == "pump-anomaly" and answer["model_version"] == "1" and answer["id"] == "req-1"
    out = answer["outputs"][0]
    assert out["name"] == "score" and out["shape"] == [1, 4, 3] and out["datatype"] == "FP32"
    np.testing.assert_allclose(out["data"], 2 * X.ravel())
    assert scale_of(infer(http, "/v2/models/pump-anomaly/versions/2/infer")) == 3.0
    assert scale_of(infer(http, "/v2/models/pump-anomaly@challenger/infer")) == 3.0
    assert scale_of(infer(http, "/v2/models/pump-anomaly/versions/champion/infer")) == 2.0
    batch = np.stack([X[0], X[0] + 1])
    r = http.post("/v2/models/pump-anomaly/infer", json=body(batch), headers={"x-request-id": "abc"})
    assert r.headers["x-request-id"] == "abc" and r.json()["outputs"][0]["shape"] == [2, 4, 3]
    nested = body()
    nested["inputs"][0]["data"] = X.tolist()  # nested row-major data is accepted too
    assert http.post("/v2/models/pump-anomaly/infer", json=nested).status_code == 200
    only = infer(http, outputs=[{"name": "score"}])
    assert [o["name"] for o in only["outputs"]] == ["score"]


def tensor(**changes):
    t = {"name": "input", "shape": [1, 4, 3], "datatype": "FP32", "data": X.ravel().tolist()} | changes
    return {"inputs": [t]}


@pytest.mark.parametrize(
    ("path", "content", "status", "match"),
    [
        ("/v2/models/nope/infer", tensor(), 404, "model 'nope' not found"),
        ("/v2/models/pump-anomaly/versions/9/infer", tensor(), 404, "no version 9"),
        ("/v2/models/pump-anomaly@staging/infer", tensor(), 404, "no alias 'staging'"),
        ("/v2/models/pump-anomaly/infer", tensor(shape=[1, 4, 2], data=[1.0] * 8), 400, r"shape \[1, 4, 2\]"),
        ("/v2/models/pump-anomaly/infer", tensor(datatype="FP64"), 400, "datatype FP64, expected FP32"),
        ("/v2/models/pump-anomaly/infer", tensor(datatype="FLOAT"), 400, "'FLOAT' is not one of"),
        ("/v2/models/pump-anomaly/infer", tensor(data=[1.0] * 5), 400, r"needs 12 values, got 5"),
        ("/v2/models/pump-anomaly/infer", tensor(data=["a"] * 12), 400, "not a FP32 array"),
        ("/v2/models/pump-anomaly/infer", tensor(name="x"), 400, "missing input 'input'"),
        ("/v2/models/pump-anomaly/infer", {"inputs": []}, 400, "non-empty list"),
        ("/v2/models/pump-anomaly/infer", {"outputs": []}, 400, "inputs: expected"),
        ("/v2/models/pump-anomaly/infer", b'{"inputs": [', 400, "malformed JSON"),
        ("/v2/models/pump-anomaly/infer", b"[1, 2]", 400, "expected a JSON object"),
        ("/v2/models/pump-anomaly/infer", tensor() | {"outputs": [{"name": "nope"}]}, 400, "unknown output 'nope'"),
        ("/v2/models/pump-anomaly/infer", {"inputs": [tensor()["inputs"][0]] * 2}, 400, "given twice"),
        ("/v2/models/pump-anomaly/infer", tensor(parameters={"sensors": ["b", "a", "c"]}), 400, "do not match"),
        ("/v2/models/a/b/c/infer", tensor(), 404, "no route"),
    ],
)
def test_every_error_class_has_its_status_and_the_standard_body(oip, path, content, status, match):
    r = oip.http.post(path, content=content) if isinstance(content, bytes) else oip.http.post(path, json=content)
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert isinstance(error, str)
    assert __import__("re").search(match, error), error


def test_control_endpoints_answer_errors_in_the_protocol_body(oip):
    for path in ("/v2/models/nope", "/v2/models/nope/ready", "/v2/models/pump-anomaly/versions/9", "/v2/nothing"):
        r = oip.http.get(path)
        assert r.status_code == 404 and isinstance(r.json()["error"], str), (path, r.text)


def test_promotion_and_rollback_over_the_api_swap_at_once(oip):
    http = oip.http
    moved = http.put("/api/v1/models/pump-anomaly/aliases/champion", json={"version": 2}).json()
    assert moved["deployed"] and moved["serving"]["champion"] == 2
    assert scale_of(infer(http)) == 3.0
    back = http.post("/api/v1/models/pump-anomaly/aliases/champion/rollback").json()
    assert back["serving"]["champion"] == 1 and scale_of(infer(http)) == 2.0


def test_a_promotion_made_elsewhere_is_picked_up_by_the_poll(oip, tmp_path):
    Registry(oip.store, tmp_path / "models").promote("pump-anomaly", 2)  # as another replica would
    deadline = time.monotonic() + 10
    while scale_of(infer(oip.http)) != 3.0:
        assert time.monotonic() < deadline, "the poll never swapped"
        time.sleep(0.1)


def test_a_tampered_version_is_refused_and_the_old_one_keeps_serving(oip, tmp_path):
    reg = Registry(oip.store, tmp_path / "models")
    reg.publish(artifact(tmp_path / "a3", scale=5.0))
    tamper(reg, 3)
    moved = oip.http.put("/api/v1/models/pump-anomaly/aliases/champion", json={"version": 3})
    assert moved.status_code == 409 and "cannot take alias 'champion'" in moved.json()["error"]["message"]
    assert "checksum" in moved.json()["error"]["message"]
    assert reg.aliases("pump-anomaly")["champion"] == 1  # what a restart, or another replica, reads: intact
    assert scale_of(infer(oip.http)) == 2.0
    r = oip.http.post("/v2/models/pump-anomaly/versions/3/infer", json=body())
    assert r.status_code == 503 and "checksum" in r.json()["error"]
    index = {m["name"]: m for m in oip.http.post("/v2/repository/index").json()}
    assert index["pump-anomaly"]["state"] == "READY"
    assert asyncio.run(_restarted(reg)) == {"champion": 1}


def test_an_alias_never_moves_to_a_version_that_cannot_load(oip, tmp_path):
    reg = Registry(oip.store, tmp_path / "models")
    http = oip.http
    reg.publish(artifact(tmp_path / "a3", scale=5.0))
    path = reg.root / "pump-anomaly" / "3" / "model.onnx"
    path.chmod(0o644)
    path.write_bytes(path.read_bytes()[:100])  # truncated
    for alias in ("champion", "staging"):
        r = http.put(f"/api/v1/models/pump-anomaly/aliases/{alias}", json={"version": 3})
        assert r.status_code == 409 and "v3 cannot take alias" in r.json()["error"]["message"], r.text
    assert "staging" not in reg.aliases("pump-anomaly")
    assert http.put("/api/v1/models/pump-anomaly/aliases/champion", json={"version": 2}).status_code == 200
    tamper(reg, 1)  # the version a rollback would return to
    back = http.post("/api/v1/models/pump-anomaly/aliases/champion/rollback")
    assert back.status_code == 409 and "v1 cannot take alias" in back.json()["error"]["message"]
    assert reg.aliases("pump-anomaly")["champion"] == 2 and scale_of(infer(http)) == 3.0
    assert http.put("/api/v1/models/pump-anomaly/aliases/champion", json={"version": 9}).status_code == 404


async def _restarted(reg: Registry) -> dict[str, int]:
    """What a server started now over the same registry serves."""
    d = Deployments(reg, poll=0)
    await d.start()
    try:
        return {k: v for k, v in d.routes["pump-anomaly"].versions().items() if k != "weight" and v is not None}
    finally:
        await d.close()


def test_canary_is_sticky_per_device_and_the_shadow_is_recorded(oip):
    http = oip.http
    bad = http.put("/api/v1/models/pump-anomaly/traffic", json={"canary": "staging", "weight": 0.5})
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "canary"
    assert (
        http.put("/api/v1/models/pump-anomaly/traffic", json={"weight": 1.5, "canary": "challenger"}).status_code == 400
    )
    policy = http.put("/api/v1/models/pump-anomaly/traffic", json={"canary": "challenger", "weight": 0.5}).json()
    assert policy["serving"] == {"champion": 1, "canary": 2, "weight": 0.5, "shadow": None}
    seen = {}
    for i in range(30):
        scales = {scale_of(infer(http, parameters={"device_id": f"pump-{i}"})) for _ in range(3)}
        assert len(scales) == 1, f"pump-{i} moved between versions"
        seen[i] = scales.pop()
    assert set(seen.values()) == {2.0, 3.0}

    http.put("/api/v1/models/pump-anomaly/traffic", json={"shadow": "challenger"})
    for i in range(5):
        assert scale_of(infer(http, parameters={"device_id": f"pump-{i}"})) == 2.0  # answers stay the champion's
    deadline = time.monotonic() + 10
    while (summary := http.get("/api/v1/models/pump-anomaly/shadow").json())["compared"] < 5:
        assert time.monotonic() < deadline, summary
        time.sleep(0.2)
    assert summary["versions"] == [[1, 2]]
    diff = summary["outputs"]["score"]
    assert diff["max_abs_diff"] == pytest.approx(X.max())  # 3x - 2x
    assert {r["device_id"] for r in summary["records"]} == {f"pump-{i}" for i in range(5)}


def test_payloads_are_recorded_with_their_join_keys(oip):
    answer = oip.http.post(
        "/v2/models/pump-anomaly/infer",
        json=body(parameters={"device_id": "pump-7"}),
        headers={"x-request-id": "req-77"},
    )
    assert answer.status_code == 200
    deadline = time.monotonic() + 10
    while not (rows := oip.http.get("/api/v1/models/pump-anomaly/payloads?device_id=pump-7").json()["payloads"]):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    row = rows[0]
    assert (row["request_id"], row["device_id"], row["version"]) == ("req-77", "pump-7", 1)
    assert row["inputs"]["input"]["data"] == X.ravel().tolist()
    assert row["outputs"]["score"]["data"] == (2 * X).ravel().tolist()


def test_repository_index_load_and_unload(oip):
    http = oip.http
    index = http.post("/v2/repository/index").json()
    assert index == [{"name": "pump-anomaly", "version": "1", "state": "READY", "reason": ""}]
    assert http.post("/v2/repository/models/pump-anomaly/unload").status_code == 200
    assert http.post("/v2/models/pump-anomaly/infer", json=body()).status_code == 503
    assert http.get("/v2/models/pump-anomaly/ready").status_code == 503
    assert http.post("/v2/repository/index").json()[0]["state"] == "UNAVAILABLE"
    time.sleep(0.5)  # the poll must not bring an unloaded model back
    assert http.post("/v2/models/pump-anomaly/infer", json=body()).status_code == 503
    assert http.post("/v2/repository/models/pump-anomaly/load").json()["serving"]["champion"] == 1
    assert scale_of(infer(http)) == 2.0
    assert http.post("/v2/repository/models/nope/load").status_code == 404
    assert http.post("/v2/repository/models/nope/unload").status_code == 404


def concurrent_answers(url: str, n: int, rounds: int = 3) -> list[httpx.Response]:
    async def main():
        async with httpx.AsyncClient(base_url=url, timeout=30, limits=httpx.Limits(max_connections=n)) as client:
            out = []
            for _ in range(rounds):
                out += await asyncio.gather(
                    *(client.post("/v2/models/pump-anomaly/infer", json=body()) for _ in range(n))
                )
            return out

    return asyncio.run(main())


def test_metrics_parse_and_concurrent_requests_are_batched(oip):
    answers = concurrent_answers(oip.url, 32)
    assert all(a.status_code == 200 for a in answers)
    oip.http.post("/v2/models/nope/infer", json=body())
    text = oip.http.get("/metrics").text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value for f in families.values() for s in f.samples}
    ok = samples[("prognos_inference_requests_total", (("model", "pump-anomaly"), ("outcome", "ok"), ("version", "1")))]
    assert ok == len(answers)
    assert (
        samples[("prognos_inference_requests_total", (("model", ""), ("outcome", "not_found"), ("version", "")))] == 1
    )
    labels = (("model", "pump-anomaly"), ("version", "1"))
    calls = samples[("prognos_inference_batch_size_count", labels)]
    rows = samples[("prognos_inference_batch_size_sum", labels)]
    assert rows == len(answers) and calls < rows  # fewer ONNX Runtime calls than requests: batches > 1
    single = [
        v
        for (n, lab), v in samples.items()
        if n == "prognos_inference_batch_size_bucket" and dict(lab)["version"] == "1" and float(dict(lab)["le"]) == 1.0
    ]
    assert single[0] < calls  # some calls carried more than one row
    for name in (
        "prognos_inference_queue_seconds",
        "prognos_inference_compute_seconds",
        "prognos_inference_request_seconds",
    ):
        assert samples[(f"{name}_count", labels)] > 0
    assert samples[("prognos_model_load_seconds", labels)] > 0
    assert ("prognos_inference_in_flight", (("model", "pump-anomaly"),)) in samples


def test_a_full_queue_sheds_load_with_503(tmp_path):
    with serving(tmp_path, two_versions(tmp_path), max_queue=0) as server:
        r = server.http.post("/v2/models/pump-anomaly/infer", json=body())
        assert r.status_code == 503 and "retry later" in r.json()["error"] and r.headers["retry-after"] == "1"


def test_hot_swap_under_load_fails_no_request(oip):
    failures, versions, stop = [], set(), threading.Event()

    def load():
        with httpx.Client(base_url=oip.url, timeout=30) as client:
            while not stop.is_set():
                r = client.post("/v2/models/pump-anomaly/infer", json=body())
                if r.status_code != 200:
                    failures.append(r.text)
                else:
                    versions.add(r.json()["model_version"])

    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        for i in range(6):
            moved = oip.http.put("/api/v1/models/pump-anomaly/aliases/champion", json={"version": 2 - i % 2}).json()
            assert moved["deployed"]
            time.sleep(0.15)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert failures == [] and versions == {"1", "2"}


def test_a_model_trained_by_prognos_is_served_as_onnx_runtime_computes_it(tmp_path):
    import onnxruntime as ort

    from prognos.train.artifact import Fitted, Spec, package
    from prognos.train.estimators import RULRegressor
    from tests.train.estimators.test_conformance import rul_data

    x, y, xv, yv = rul_data(0)
    model = RULRegressor(scales=(3, 6), hidden=16, epochs=3).fit(x, y, xv, yv)
    spec = Spec("rul", ["a", "b", "c", "d"], x.shape[1], {}, {"quantiles": [0.1, 0.5, 0.9]})
    package(Fitted(model, spec, x, xv, 0.0), tmp_path / "rul", name="tiny-rul", metrics={}, data={})

    def prepare(store):
        Registry(store, tmp_path / "models").publish(tmp_path / "rul")
        Registry(store, tmp_path / "models").promote("tiny-rul", 1)

    with serving(tmp_path, prepare) as server:
        window = xv[:3].astype(np.float32)
        tensor = {
            "name": "x",
            "shape": list(window.shape),
            "datatype": "FP32",
            "data": window.ravel().tolist(),
            "parameters": {"sensors": ["a", "b", "c", "d"]},
        }
        r = server.http.post("/v2/models/tiny-rul/infer", json={"inputs": [tensor]})
        assert r.status_code == 200, r.text
        out = r.json()["outputs"][0]
        session = ort.InferenceSession(str(tmp_path / "rul" / "model.onnx"), providers=["CPUExecutionProvider"])
        expected = session.run(None, {"x": window})[0]
        assert out["shape"] == list(expected.shape)
        np.testing.assert_allclose(np.asarray(out["data"]).reshape(expected.shape), expected, rtol=1e-5, atol=1e-6)
        meta = server.http.get("/v2/models/tiny-rul").json()
        assert meta["parameters"]["task"] == "rul" and meta["parameters"]["window"] == x.shape[1]
