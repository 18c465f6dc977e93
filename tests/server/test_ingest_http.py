"""HTTP ingestion against a real server: good data lands, every bad input gets a clear 4xx."""

from __future__ import annotations

import json

import pytest

from prognos.types import now_ms

T = now_ms() - 60_000


def stored(live, device: str) -> list[tuple]:
    return [tuple(r.values()) for r in live.store.read(device, T - 10**9, now_ms() + 10**8).to_pylist()]


def post(live, path: str, body, **kw):
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return live.http.post(path, content=content, headers={"content-type": "application/json"}, **kw)


def test_the_three_device_forms_are_stored(live):
    r = post(live, "/api/v1/devices/pump-1/telemetry", {"ts": T, "values": {"temp": 21.5, "on": True}})
    assert r.status_code == 200, r.text
    assert r.json() == {"readings": 1, "values": 2, "rejected": []}
    assert (
        post(
            live,
            "/api/v1/devices/pump-1/telemetry",
            [{"ts": T + 1, "values": {"temp": 22}}, {"ts": T + 2, "values": {"temp": 23}}],
        ).status_code
        == 200
    )
    before = now_ms()
    assert post(live, "/api/v1/devices/pump-1/telemetry", {"temp": 30.0}).status_code == 200  # server time
    rows = stored(live, "pump-1")
    assert rows[:4] == [(T, "on", 1.0), (T, "temp", 21.5), (T + 1, "temp", 22.0), (T + 2, "temp", 23.0)]
    assert rows[4][1:] == ("temp", 30.0) and before <= rows[4][0] <= now_ms()


def test_gateway_form_stores_every_device(live):
    body = {
        "a-1": [{"ts": T, "values": {"x": 1}}],
        "b-2": {
            "ts": T,
            "values": {"x": 2},
            "attributes": {"mode": "on"},
            "location": {"lat": 1.5, "lon": 2.5},
        },
    }
    r = post(live, "/api/v1/telemetry", body)
    assert r.status_code == 200 and r.json()["readings"] == 2
    assert stored(live, "a-1") == [(T, "x", 1.0)] and stored(live, "b-2") == [(T, "x", 2.0)]
    assert [d["device_id"] for d in live.http.get("/api/v1/devices").json()["devices"]] == ["a-1", "b-2"]


BAD_ITEMS = [
    ({"ts": T, "values": {"temp": "hot", "ok": 1}}, "values.temp", "string"),
    (b'{"ts": %d, "values": {"temp": NaN, "ok": 1}}' % T, "values.temp", "NaN"),
    (b'{"ts": %d, "values": {"temp": Infinity, "ok": 1}}' % T, "values.temp", "NaN or infinity"),
    ({"ts": T, "values": {"temp": None, "ok": 1}}, "values.temp", "null"),
    ({"ts": T, "values": {"temp": {"a": 1}, "ok": 1}}, "values.temp", "object"),
    ({"ts": T, "values": {"bad key!": 1, "ok": 1}}, "values.bad key!", "invalid key"),
    ({"ts": T, "values": {"ok": 1}, "attributes": {"mode": 3}}, "attributes.mode", "string"),
    ({"ts": T, "values": {"ok": 1}, "location": {"lat": 91, "lon": 0}}, "location", "lat"),
    ({"ts": T, "values": {"ok": 1}, "colour": "red"}, "colour", "unknown field"),
]


@pytest.mark.parametrize(("body", "field", "reason"), BAD_ITEMS)
def test_a_bad_value_is_rejected_and_the_good_one_beside_it_stored(live, body, field, reason):
    r = post(live, "/api/v1/devices/d1/telemetry", body)
    assert r.status_code == 200, r.text
    (rej,) = r.json()["rejected"]
    assert rej["field"] == field and reason in rej["reason"] and rej["index"] is None
    assert stored(live, "d1") == [(T, "ok", 1.0)]


@pytest.mark.parametrize(
    ("ts", "reason"),
    [
        (T // 1000, "seconds sent by mistake"),
        (now_ms() + 10 * 86_400_000, "in the future"),
        ("2024-01-01", "JSON number"),
        (True, "JSON number"),
    ],
)
def test_a_bad_timestamp_rejects_its_item_only(live, ts, reason):
    r = post(live, "/api/v1/devices/d1/telemetry", [{"ts": ts, "values": {"x": 1}}, {"ts": T, "values": {"x": 2}}])
    assert r.status_code == 200
    assert r.json()["rejected"] == [
        {"index": 0, "field": "ts", "value": ts, "reason": r.json()["rejected"][0]["reason"]}
    ]
    assert reason in r.json()["rejected"][0]["reason"]
    assert stored(live, "d1") == [(T, "x", 2.0)]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "empty body"),
        (b"{not json", "malformed JSON"),
        (b"[]", "empty array"),
        (b"{}", "empty object"),
        (b"42", "expected a JSON object or array"),
        (b'"text"', "expected a JSON object or array"),
        (b'[{"ts": 1, "values": {"x": 1}}]', "nothing to store"),
    ],
)
def test_wholly_malformed_bodies_get_400_naming_the_problem(live, body, message):
    r = post(live, "/api/v1/devices/d1/telemetry", body)
    assert r.status_code == 400
    assert message in r.json()["error"]["message"]


def test_gateway_errors_name_the_device(live):
    r = post(
        live,
        "/api/v1/telemetry",
        {
            "ok-1": [{"ts": T, "values": {"x": 1}}],
            "bad id": [{"ts": T, "values": {}}],
            "d2": [{"ts": T, "values": {"x": "nope"}}],
            "d3": 5,
        },
    )
    assert r.status_code == 200
    got = {(x["device_id"], x["field"]) for x in r.json()["rejected"]}
    assert got == {("bad id", "device_id"), ("d2", "values.x"), ("d3", "d3")}
    assert post(live, "/api/v1/telemetry", [1, 2]).status_code == 400


def test_invalid_device_id_in_the_path_is_400(live):
    r = post(live, "/api/v1/devices/-bad/telemetry", {"ts": T, "values": {"x": 1}})
    assert r.status_code == 400 and r.json()["error"]["field"] == "device_id"


def test_oversize_bodies_get_413_and_the_server_stays_healthy(live):
    big = json.dumps([{"ts": T + i, "values": {"x": i}} for i in range(60_000)]).encode()
    assert len(big) > 1024 * 1024
    assert post(live, "/api/v1/devices/d1/telemetry", big).status_code == 413

    def chunks():  # no content-length: the limit must hold while streaming
        for i in range(0, len(big), 65536):
            yield big[i : i + 65536]

    r = live.http.post("/api/v1/devices/d1/telemetry", content=chunks())
    assert r.status_code == 413
    assert live.http.get("/api/v1/health").json()["status"] == "ok"
    assert stored(live, "d1") == []


def test_no_input_causes_a_5xx_and_the_server_stays_healthy(live):
    garbage = [
        b"\xff\xfe\x00",
        b"[" * 100_000 + b"]" * 100_000,
        b'{"ts": 1e400, "values": {"x": 1}}',
        b'{"ts": -5, "values": {"x": 1e308}}',
        b'{"values": []}',
        b'{"values": {"x": 1}, "ts": null}',
        b'{"a": [1, 2]}',
        b"\x00" * 100,
    ]
    for body in garbage:
        r = post(live, "/api/v1/devices/d1/telemetry", body)
        assert 400 <= r.status_code < 500, (body[:40], r.status_code, r.text)
        r = post(live, "/api/v1/telemetry", body)
        assert 400 <= r.status_code < 500, (body[:40], r.status_code, r.text)
    assert live.http.get("/api/v1/health").status_code == 200
    assert post(live, "/api/v1/devices/d1/telemetry", {"ts": T, "values": {"x": 7}}).status_code == 200
    assert stored(live, "d1") == [(T, "x", 7.0)]


@pytest.mark.parametrize(
    "item",
    [{"ts": T}, {"ts": T, "value": {"x": 1}}, {"ts": T, "temp": 20.0}, {"ts": T, "attributes": {"mode": "on"}}],
)
def test_an_item_with_ts_but_no_values_is_rejected_not_stored_as_a_sensor(live, item):
    r = post(live, "/api/v1/devices/d1/telemetry", [{"ts": T, "values": {"x": 1}}, item])
    assert r.status_code == 200, r.text
    rejected = r.json()["rejected"]
    assert [(x["index"], x["field"]) for x in rejected] == [(1, "values")]
    assert 'needs "values"' in rejected[0]["reason"]
    assert stored(live, "d1") == [(T, "x", 1.0)]  # no sensor named ts, value or temp at server time
    alone = post(live, "/api/v1/devices/d2/telemetry", item)
    assert alone.status_code == 400 and alone.json()["error"]["field"] == "values"
    assert stored(live, "d2") == []


@pytest.mark.parametrize(
    "body",
    [
        b'{"x\\ud800": 1}',
        b'{"ts": %d, "values": {"x": 1}, "attributes": {"mode": "\\udc00"}}' % T,
        b'[{"ts": %d, "values": {"\\ud83d": NaN}}]' % T,
        b'{"x": 1, "\\udfff": 2}',
        '{"x\ud800": 1}'.encode("utf-8", "surrogatepass"),
    ],
)
def test_a_lone_surrogate_is_a_400_not_a_500(live, body):
    for path in ("/api/v1/devices/d1/telemetry", "/api/v1/telemetry"):
        r = post(live, path, body)
        assert r.status_code == 400, (path, r.status_code, r.text)
        assert "surrogate" in r.json()["error"]["message"] or "UTF-8" in r.json()["error"]["message"]
    assert live.http.get("/api/v1/health").status_code == 200
