"""Every route of the app, fed hostile input: a 4xx that says what was wrong, never a 5xx, and a server still well.

The routes come from the app's own table, so a route added later is fed the same corpus without a word here.
"""

from __future__ import annotations

import itertools
import re

import pytest

from prognos.server.app import ROUTES
from tests.server.conftest import serving
from tests.server.test_oip import two_versions

BODIES = [
    b"",
    b"\xff\xfe\x00",
    b"\x00" * 100,
    b"[" * 100_000 + b"]" * 100_000,
    b"{" * 10_000,
    b'{"x\\ud800": 1}',  # a lone surrogate, escaped
    '{"x\ud800": 1}'.encode("utf-8", "surrogatepass"),  # and raw
    b'{"ts": 1e400, "values": {"x": 1}}',
    b'[{"ts": 1700000000000}]',  # an item without values
    b'{"ts": 1700000000000, "value": {"x": 1}}',
    b'{"version": "1; DROP TABLE readings"}',
    b'{"version": 1e999, "weight": NaN, "canary": ["x"], "shadow": {}}',
    b'{"type": {"nested": [1, 2]}, "attributes": "not an object", "location": {"lat": 1000}}',
    b'{"inputs": [{"name": "input", "shape": [-1, 99999999999], "datatype": "FP32", "data": []}]}',
    b'{"inputs": [{"name": "input", "shape": [1, 4, 3], "datatype": "BYTES", "data": [null]}]}',
    b'"a string"',
    b"12345678901234567890123456789012345678901234567890",
]
PARAMS = {
    "device_id": ["d1", "x" * 300, "..", "%ED%A0%80", "a%00b"],
    "name": ["pump-anomaly", "nope", "x" * 300, "%ED%A0%80", "..%2F..%2Fetc"],
    "ref": ["1", "99", "champion", "-1", "1e9"],
    "version": ["1", "0", "99999999999999999999", "abc"],
    "alias": ["champion", "challenger", "Not An Alias", "x" * 100],
    "id": ["1", "-1", "99999999999999999999", "abc"],
}
QUERIES = [
    "",
    "?limit=-1",
    "?limit=99999999999999",
    "?start=not-a-time&end=2020-13-45",
    "?start=1e400&interval=0s&agg=nope",
    "?keys=" + ",".join(["k"] * 5000),
    "?points=-3&interval=1m",
    "?devices=%ED%A0%80",
    "?device_id=%00&since=yesterday",
]


# The app's table and the inference routes answered ahead of it (an event stream stays open: left out).
TABLE = [
    *((r.path, sorted((r.methods or set()) - {"HEAD"})) for r in ROUTES if r.path != "/api/v1/events"),
    ("/v2/models/{name}/infer", ["POST"]),
    ("/v2/models/{name}/versions/{version}/infer", ["POST"]),
]


def paths(template: str) -> list[str]:
    """Every filling of the route's parameters from PARAMS (a few each, crossed)."""
    names = re.findall(r"{(\w+)}", template)
    out = []
    for values in itertools.product(*(PARAMS.get(n, ["x"]) for n in names)):
        path = template
        for n, v in zip(names, values, strict=True):
            path = path.replace("{" + n + "}", v)
        out.append(path)
    return out


@pytest.mark.slow
def test_every_route_answers_hostile_input_with_a_4xx_and_the_server_stays_well(tmp_path):
    with serving(tmp_path, two_versions(tmp_path), request_idle=5.0) as server:
        http, fives = server.http, []
        for path_template, methods in TABLE:
            for method in methods:
                for path in paths(path_template):
                    tries = [(q, b"") for q in QUERIES] if method == "GET" else [("", b) for b in BODIES]
                    for query, body in tries:
                        r = http.request(
                            method, path + query, content=body, headers={"content-type": "application/json"}
                        )
                        if r.status_code >= 500:
                            fives.append((method, path + query, body[:40], r.status_code, r.text[:120]))
                        elif r.status_code >= 400:
                            assert "error" in r.json(), (method, path, r.text[:200])
        assert fives == []
        assert http.get("/api/v1/health").status_code == 200
        http.post("/v2/repository/models/pump-anomaly/load")  # the corpus may have unloaded it
        assert http.post("/v2/models/pump-anomaly/infer", json=_good()).status_code == 200


def _good() -> dict:
    return {"inputs": [{"name": "input", "shape": [1, 4, 3], "datatype": "FP32", "data": [0.0] * 12}]}
