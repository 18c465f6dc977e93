from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from prognos.errors import Conflict, IntegrityError, InvalidInput, ModelNotFound
from prognos.registry import Registry
from prognos.store import open_store


def onnx_model(path, scale: float = 2.0, width: int = 3):
    """y = x · scale over (batch, 4, width): a model trained elsewhere, built without torch."""
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 4, width])
    y = helper.make_tensor_value_info("score", TensorProto.FLOAT, ["batch", 4, width])
    k = helper.make_tensor("k", TensorProto.FLOAT, [], [scale])
    graph = helper.make_graph([helper.make_node("Mul", ["input", "k"], ["score"])], "g", [x], [y], [k])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9), path)
    return path


def artifact(folder, name="pump-anomaly", scale=2.0):
    folder.mkdir(parents=True)
    onnx_model(folder / "model.onnx", scale)
    (folder / "card.json").write_text(
        json.dumps(
            {"name": name, "task": "anomaly", "window": 4, "input": {"shape": [None, 4, 3], "sensors": ["a", "b", "c"]}}
        )
    )
    return folder


def test_versions_are_numbered_immutable_and_survive_a_restart(store, tmp_path):
    reg = Registry(store, tmp_path / "models")
    v1 = reg.publish(artifact(tmp_path / "a1"))
    v2 = reg.publish(artifact(tmp_path / "a2", scale=3.0))
    assert (v1.version, v2.version) == (1, 2) and reg.names() == ["pump-anomaly"]
    assert v1.card["task"] == "anomaly" and set(v1.files) == {"model.onnx", "card.json"}
    assert (tmp_path / "models" / "pump-anomaly" / "1" / "model.onnx").stat().st_mode & 0o222 == 0  # read-only
    assert reg.verify(v1).name == "1"
    again = Registry(store, tmp_path / "models")  # a second process, or after a restart: same view
    assert [v.version for v in again.versions("pump-anomaly")] == [1, 2]


def test_aliases_move_and_roll_back_through_their_history(store, tmp_path):
    reg = Registry(store, tmp_path / "models")
    for i in range(3):
        reg.publish(artifact(tmp_path / f"a{i}"))
    with pytest.raises(ModelNotFound, match="no alias 'champion'"):
        reg.get("pump-anomaly")
    reg.promote("pump-anomaly", 1)
    reg.promote("pump-anomaly", 3)
    reg.promote("pump-anomaly", 2, alias="challenger")
    assert reg.get("pump-anomaly").version == 3 and reg.get("pump-anomaly", "challenger").version == 2
    assert reg.get("pump-anomaly", 3).aliases == ["champion"] and reg.get("pump-anomaly", "1").aliases == []
    assert reg.rollback("pump-anomaly").version == 1 and reg.get("pump-anomaly").version == 1
    with pytest.raises(Conflict, match="no earlier version"):
        reg.rollback("pump-anomaly")
    with pytest.raises(Conflict, match="carries challenger"):
        reg.archive("pump-anomaly", 2)
    assert reg.archive("pump-anomaly", 3).archived
    with pytest.raises(Conflict, match="archived"):
        reg.promote("pump-anomaly", 3)
    with pytest.raises(ModelNotFound, match=r"no version 9 \(versions: \[1, 2, 3\]\)"):
        reg.get("pump-anomaly", 9)
    with pytest.raises(ModelNotFound, match="'nope' not found"):
        reg.get("nope")
    with pytest.raises(InvalidInput, match="alias"):
        reg.promote("pump-anomaly", 1, alias="Not An Alias")


def test_a_tampered_or_truncated_file_is_refused(tmp_path):
    store = open_store(f"duckdb:///{tmp_path}/s.duckdb")
    reg = Registry(store, tmp_path / "models")
    v = reg.publish(artifact(tmp_path / "a"))
    path = tmp_path / "models" / "pump-anomaly" / "1" / "model.onnx"
    path.chmod(0o644)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(IntegrityError, match=r"model\.onnx does not match its checksum"):
        reg.verify(v)
    path.unlink()
    with pytest.raises(IntegrityError, match="missing"):
        reg.verify(v)
    store.close()


def broken(folder, how: str):
    """An artifact spoilt as a bad copy or a wrong card would spoil it."""
    artifact(folder)
    model, card = folder / "model.onnx", json.loads((folder / "card.json").read_text())
    data = model.read_bytes()
    if how == "truncated":
        model.write_bytes(data[: len(data) // 2])
    elif how == "corrupted":
        model.write_bytes(bytes(b ^ 0x5A for b in data))
    elif how == "window":
        card["window"], card["input"]["shape"] = 30, [None, 30, 3]
    elif how == "sensors":
        card["input"]["sensors"], card["input"]["shape"] = ["a", "b", "c", "d"], None
    elif how == "output":
        card["output"] = {"name": "y"}
    elif how == "card":
        (folder / "card.json").write_text("{not json")
    if how in ("window", "sensors", "output"):
        (folder / "card.json").write_text(json.dumps(card))
    return folder


@pytest.mark.parametrize(
    "how, field, message",
    [
        ("truncated", "model.onnx", "not a loadable ONNX model"),
        ("corrupted", "model.onnx", "not a loadable ONNX model"),
        ("window", "card.input.shape", r"'input' has shape \[None, 4, 3\] in the graph"),
        ("sensors", "card.input.sensors", "the card names 4 sensors, the graph takes 3"),
        ("output", "card.output.name", r"the graph has no 'y' \(it has \['score'\]\)"),
        ("card", "card.json", "not JSON"),
    ],
)
def test_an_artifact_that_cannot_load_or_disagrees_with_its_card_is_refused_at_publish(tmp_path, how, field, message):
    reg = Registry(open_store("memory://"), tmp_path / "models")
    reg.publish(artifact(tmp_path / "good"))
    reg.promote("pump-anomaly", 1)
    with pytest.raises(InvalidInput, match=message) as refused:
        reg.publish(broken(tmp_path / "bad", how))
    assert refused.value.field == field
    assert [v.version for v in reg.versions("pump-anomaly")] == [1] and reg.aliases("pump-anomaly") == {"champion": 1}
    assert not [p for p in (tmp_path / "models" / "pump-anomaly").iterdir() if p.name != "1"]  # nothing left behind


def test_a_window_the_graph_does_not_take_is_refused_even_where_the_card_leaves_the_shape_out(tmp_path):
    folder = artifact(tmp_path / "a")
    card = json.loads((folder / "card.json").read_text())
    card["window"], card["input"] = 30, {"sensors": ["a", "b", "c"]}
    (folder / "card.json").write_text(json.dumps(card))
    with pytest.raises(InvalidInput, match="the card's window is 30, the graph's input takes 4 steps"):
        Registry(open_store("memory://"), tmp_path / "models").publish(folder)


def test_bring_your_own_onnx_reads_its_signature_from_the_graph(tmp_path):
    import onnxruntime as ort

    reg = Registry(open_store("memory://"), tmp_path / "models")
    v = reg.publish(onnx_model(tmp_path / "theirs.onnx", width=5), "vendor-model", {"sensors": ["a", "b", "c", "d"]})
    assert v.card["inputs"] == [{"name": "input", "shape": [None, 4, 5], "datatype": "FP32"}]
    assert v.card["outputs"][0]["name"] == "score" and v.card["input"]["sensors"] == ["a", "b", "c", "d"]
    session = ort.InferenceSession(str(reg.verify(v) / "model.onnx"))
    x = np.ones((2, 4, 5), np.float32)
    assert np.allclose(session.run(None, {"input": x})[0], 2.0)
    with pytest.raises(InvalidInput, match="model name"):
        reg.publish(onnx_model(tmp_path / "x.onnx"))  # a bare file has no card to name it
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    with pytest.raises(InvalidInput, match="not a loadable ONNX model"):
        reg.publish(tmp_path / "junk.onnx", "junk")


@pytest.mark.parametrize("kind", ["duckdb", "postgres"])
def test_concurrent_publishers_never_share_a_version(kind, tmp_path, fresh_pg):
    url = f"duckdb:///{tmp_path}/s.duckdb" if kind == "duckdb" else fresh_pg
    stores = [open_store(url)] if kind == "duckdb" else [open_store(url), open_store(url)]  # PG: two "processes"
    regs = [Registry(s, tmp_path / "models") for s in stores]
    src = artifact(tmp_path / "a")
    got: list[int] = []

    def publish(reg: Registry) -> None:
        for _ in range(5):
            got.append(reg.publish(src).version)

    threads = [threading.Thread(target=publish, args=(regs[i % len(regs)],)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got) == list(range(1, 11))
    assert [v.version for v in regs[0].versions("pump-anomaly")] == list(range(1, 11))
    for s in stores:
        s.close()


def test_cli_publishes_promotes_and_rolls_back(tmp_path):
    env = {**os.environ, "PROGNOS_STORE": f"duckdb:///{tmp_path}/s.duckdb", "PROGNOS_REGISTRY": str(tmp_path / "m")}

    def prognos(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "prognos.cli", "models", *args], capture_output=True, text=True, env=env, timeout=120
        )

    assert (
        "published pump-anomaly v1 as champion"
        in prognos("publish", str(artifact(tmp_path / "a")), "--promote", "champion").stdout
    )
    assert prognos("publish", str(onnx_model(tmp_path / "t.onnx")), "--name", "pump-anomaly").returncode == 0
    assert prognos("promote", "pump-anomaly", "2").stdout.strip() == "pump-anomaly@champion → v2"
    listed = json.loads(prognos("list", "--json").stdout)
    assert listed == [{"name": "pump-anomaly", "versions": [1, 2], "aliases": {"champion": 2}}]
    assert json.loads(prognos("show", "pump-anomaly").stdout)["version"] == 2
    assert prognos("rollback", "pump-anomaly").stdout.strip() == "pump-anomaly@champion → v1"
    missing = prognos("promote", "pump-anomaly", "7")
    assert missing.returncode == 1 and "no version 7" in missing.stderr
    bad = prognos("publish", str(tmp_path / "t.onnx"))
    assert bad.returncode == 2 and "model name" in bad.stderr
    spoilt = prognos("publish", str(broken(tmp_path / "spoilt", "truncated")), "--promote", "champion")
    assert spoilt.returncode == 2 and "not a loadable ONNX model" in spoilt.stderr, spoilt.stderr
    assert json.loads(prognos("list", "--json").stdout)[0]["versions"] == [1, 2]  # nothing published, nothing moved
    assert prognos("promote", "pump-anomaly", "2", "--alias", "challenger").returncode == 0
    traffic = prognos("traffic", "pump-anomaly", "--canary", "challenger", "--weight", "0.1", "--shadow", "challenger")
    assert traffic.stdout.strip() == "pump-anomaly: canary challenger at 10%, shadow challenger"
    wrong = prognos("traffic", "pump-anomaly", "--canary", "staging", "--weight", "0.1")
    assert wrong.returncode == 2 and "no alias 'staging'" in wrong.stderr


def test_traffic_policy_is_checked_and_kept(store, tmp_path):
    reg = Registry(store, tmp_path / "models")
    reg.publish(artifact(tmp_path / "a1"))
    reg.promote("pump-anomaly", 1)
    reg.promote("pump-anomaly", 1, alias="challenger")
    assert reg.traffic("pump-anomaly") == {"canary": None, "weight": 0.0, "shadow": None}
    assert reg.set_traffic("pump-anomaly", "challenger", 0.25)["weight"] == 0.25
    assert reg.traffic("pump-anomaly") == {"canary": "challenger", "weight": 0.25, "shadow": None}
    for args, field in [
        (("challenger", 2.0), "weight"),
        ((None, 0.5), "canary"),
        (("champion", 0.5), "canary"),
        ((None, 0.0, "nope"), "shadow"),
    ]:
        with pytest.raises(InvalidInput) as err:
            reg.set_traffic("pump-anomaly", *args)
        assert err.value.field == field
    with pytest.raises(ModelNotFound):
        reg.set_traffic("nope")


def test_an_alias_is_never_moved_onto_files_that_fail_their_checksum(tmp_path):
    reg = Registry(open_store("memory://"), tmp_path / "models")
    for i in range(3):
        reg.publish(artifact(tmp_path / f"a{i}"))
    reg.promote("pump-anomaly", 1)
    reg.promote("pump-anomaly", 2)
    for bad in (1, 3):
        path = reg.root / "pump-anomaly" / str(bad) / "model.onnx"
        path.chmod(0o644)
        path.write_bytes(path.read_bytes()[:-4])
    with pytest.raises(IntegrityError, match=r"v3: model\.onnx does not match its checksum"):
        reg.promote("pump-anomaly", 3)
    with pytest.raises(IntegrityError, match=r"v1: model\.onnx"):
        reg.rollback("pump-anomaly")
    assert reg.aliases("pump-anomaly") == {"champion": 2} and reg.history("pump-anomaly", "champion") == [1, 2]


@pytest.mark.slow
def test_spoilt_artifacts_at_publish_promote_and_restart_never_take_the_serving_version_down(
    tmp_path, fresh_pg, monkeypatch
):
    """A real server and the CLI beside it on one PostgreSQL registry, as an operator would have them."""
    import httpx

    from tests.server.test_oip import body
    from tests.services import ServerProcess

    monkeypatch.setenv("PROGNOS_STORE", fresh_pg)
    monkeypatch.setenv("PROGNOS_REGISTRY", str(tmp_path / "m"))
    monkeypatch.setenv("PROGNOS_MODEL_POLL", "0.2")

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "prognos.cli", "models", *args], capture_output=True, text=True)

    def served(url: str) -> str:
        r = httpx.post(f"{url}/v2/models/pump-anomaly/infer", json=body(), timeout=10)
        assert r.status_code == 200, r.text
        return r.json()["model_version"]

    def spoil(version: int) -> None:
        path = tmp_path / "m" / "pump-anomaly" / str(version) / "model.onnx"
        path.chmod(0o644)
        path.write_bytes(path.read_bytes()[:-16])

    assert cli("publish", str(artifact(tmp_path / "a1")), "--promote", "champion").returncode == 0
    with ServerProcess(fresh_pg) as server:
        assert served(server.url) == "1"
        for how in ("truncated", "corrupted", "window", "sensors"):
            refused = cli("publish", str(broken(tmp_path / how, how)), "--promote", "champion")
            assert refused.returncode == 2 and "pump-anomaly" not in refused.stdout, refused.stdout
            assert "not a loadable ONNX model" in refused.stderr or "card and graph disagree" in refused.stderr
        truncated = (tmp_path / "truncated" / "model.onnx").read_bytes()
        over_http = httpx.post(f"{server.url}/api/v1/models/pump-anomaly/versions?promote=champion", content=truncated)
        assert over_http.status_code == 400 and "not a loadable ONNX model" in over_http.json()["error"]["message"]
        assert cli("publish", str(artifact(tmp_path / "a2", scale=3.0))).returncode == 0  # v2: good files
        spoil(2)  # then a bad disk
        promoted = cli("promote", "pump-anomaly", "2")
        assert promoted.returncode != 0 and "does not match its checksum" in promoted.stderr
        assert json.loads(cli("list", "--json").stdout)[0]["aliases"] == {"champion": 1}
        assert cli("publish", str(artifact(tmp_path / "a3", scale=4.0)), "--promote", "champion").returncode == 0
        deadline = time.monotonic() + 20
        while served(server.url) != "3":  # the server follows the registry's poll
            assert time.monotonic() < deadline
            time.sleep(0.2)
    spoil(3)  # while the server is down, the champion's file goes bad
    with ServerProcess(fresh_pg, until="/v2/health/ready") as server:
        assert served(server.url) == "1"  # the newest earlier champion that loads stands in
        health = server.health()
        assert health["status"] == "degraded" and health["checks"]["models"]["ok"] is True
        assert health["checks"]["champions"]["reason"].startswith("pump-anomaly serves v1, not its champion v3: ")
        assert "does not match its checksum" in health["checks"]["champions"]["reason"]
        assert cli("rollback", "pump-anomaly").stdout.strip() == "pump-anomaly@champion → v1"
        deadline = time.monotonic() + 20
        while server.health()["status"] != "ok":
            assert time.monotonic() < deadline, server.health()
            time.sleep(0.2)
        assert served(server.url) == "1"
