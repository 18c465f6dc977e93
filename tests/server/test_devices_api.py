"""The registry and query API over real HTTP."""

from __future__ import annotations

from prognos.types import Reading, now_ms

T = now_ms() - 3_600_000


def test_devices_list_get_patch(live):
    live.store.write([Reading("pump-1", T, {"a": 1.0}), Reading("fan-1", T + 5, {"b": 2.0})])
    assert [d["device_id"] for d in live.http.get("/api/v1/devices").json()["devices"]] == ["fan-1", "pump-1"]
    r = live.http.patch(
        "/api/v1/devices/pump-1",
        json={"type": "pump", "name": "Pump one", "tags": {"site": "n"}, "location": {"lat": 52.5, "lon": 13.4}},
    )
    assert r.status_code == 200 and r.json()["type"] == "pump"
    d = live.http.get("/api/v1/devices/pump-1").json()
    assert d["name"] == "Pump one" and d["location"] == {"lat": 52.5, "lon": 13.4} and d["tags"] == {"site": "n"}
    assert d["latest"] == {"a": {"ts": T, "value": 1.0}}
    assert live.http.get("/api/v1/devices/none").status_code == 404
    assert live.http.patch("/api/v1/devices/none", json={"type": "x"}).status_code == 404
    bad = live.http.patch("/api/v1/devices/pump-1", json={"colour": "red"})
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "colour"
    assert live.http.patch("/api/v1/devices/pump-1", content=b"{oops").status_code == 400
    assert live.http.patch("/api/v1/devices/pump-1", json=[1]).status_code == 400


def test_telemetry_raw_downsampled_and_by_points(live):
    live.store.write([Reading("d", T + i * 1000, {"a": float(i), "b": -float(i)}) for i in range(120)])
    q = {"start": T, "end": T + 120_000}
    raw = live.http.get("/api/v1/devices/d/telemetry", params=q | {"keys": "a"}).json()
    assert list(raw["series"]) == ["a"] and raw["series"]["a"]["values"][:3] == [0.0, 1.0, 2.0]
    down = live.http.get("/api/v1/devices/d/telemetry", params=q | {"interval": "1m", "agg": "max"}).json()
    assert down["interval"] == 60_000 and set(down["series"]) == {"a", "b"}
    assert len(down["series"]["a"]["values"]) in (2, 3) and max(down["series"]["a"]["values"]) == 119.0
    pts = live.http.get("/api/v1/devices/d/telemetry", params=q | {"keys": "a", "points": 12}).json()
    assert pts["interval"] == 10_000 and len(pts["series"]["a"]["ts"]) in (12, 13)
    iso = live.http.get(
        "/api/v1/devices/d/telemetry", params={"start": "2000-01-01T00:00:00Z", "keys": "a", "interval": "1h"}
    )
    assert iso.status_code == 200


def test_query_errors_are_400_with_the_field(live):
    for params, field in [
        ({"agg": "median", "interval": "1m"}, "agg"),
        ({"interval": "fast"}, "interval"),
        ({"start": "yesterday"}, "start"),
        ({"points": "-3"}, "points"),
        ({"start": 10, "end": 5}, "end"),
    ]:
        r = live.http.get("/api/v1/devices/d/telemetry", params=params)
        assert r.status_code == 400 and r.json()["error"]["field"] == field, (params, r.text)


def test_asof_endpoint(live):
    live.store.write([Reading("d", T, {"a": 1.0}, {"mode": "on"}, (1.0, 2.0)), Reading("d", T + 10, {"a": 2.0})])
    cols = live.http.get("/api/v1/devices/d/asof", params={"start": T, "end": T + 100}).json()["columns"]
    assert cols == {"ts": [T, T + 10], "a": [1.0, 2.0], "mode": ["on", "on"], "lat": [1.0, 1.0], "lon": [2.0, 2.0]}


def test_unknown_route_and_method_are_clean_errors(live):
    assert live.http.get("/api/v1/nothing").status_code == 404
    r = live.http.delete("/api/v1/devices")
    assert r.status_code == 405 and "error" in r.json()


def test_latest_values_of_the_fleet(live):
    live.store.write([Reading("a", T, {"x": 1.0}), Reading("a", T + 1, {"x": 2.0}), Reading("b", T, {"y": 3.0})])
    assert live.http.get("/api/v1/latest").json()["latest"] == {
        "a": {"x": {"ts": T + 1, "value": 2.0}},
        "b": {"y": {"ts": T, "value": 3.0}},
    }
    assert list(live.http.get("/api/v1/latest", params={"devices": "b"}).json()["latest"]) == ["b"]


def test_the_server_applies_retention_by_itself(tmp_path):
    from prognos.config import Settings
    from prognos.server import create_app
    from prognos.server.background import BackgroundServer
    from prognos.store import open_store
    from tests.services import free_port

    store = open_store(f"duckdb:///{tmp_path}/r.duckdb")
    old, new = now_ms() - 3 * 86_400_000, now_ms() - 1000
    store.write([Reading("d", old, {"x": 1.0}), Reading("d", new, {"x": 2.0})])
    app = create_app(store, Settings.of(retention_days=2, retention_check=1))
    with BackgroundServer(app, port=free_port()):
        import time

        deadline = time.monotonic() + 10
        while store.read("d", old - 1, now_ms()).num_rows != 1 and time.monotonic() < deadline:
            time.sleep(0.1)
    assert store.read("d", old - 1, now_ms()).column("ts").to_pylist() == [new]
    store.close()
