"""The decoder alone: forms, rejections, and a round trip through the wire format."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from prognos.errors import InvalidInput
from prognos.ingest.payload import Limits, decode_device, decode_gateway
from prognos.types import Reading

T = 1_700_000_000_000
clock = lambda: T + 1000  # noqa: E731


def test_bare_form_takes_the_clock():
    d = decode_device(b'{"a": 1, "b": 2.5}', "d", clock=clock)
    assert d.readings == [Reading("d", T + 1000, {"a": 1.0, "b": 2.5})] and d.rejections == []


def test_limits_are_configurable():
    body = orjson.dumps({"ts": T + 3_600_000, "values": {"a": 1}})
    assert decode_device(body, "d", clock=clock).readings
    assert not decode_device(body, "d", Limits(max_future_ms=60_000), clock=clock).readings


def test_the_input_is_not_mutated():
    doc = [{"ts": T, "values": {"a": 1, "bad": "x"}}]
    copy = orjson.loads(orjson.dumps(doc))
    decode_device(doc, "d", clock=clock)
    assert doc == copy


def test_gateway_requires_ts_and_values():
    d = decode_gateway(b'{"d1": [{"a": 1}], "d2": [{"ts": %d, "values": {"a": 1}}]}' % T, clock=clock)
    assert [r.device_id for r in d.readings] == ["d2"]
    assert d.rejections[0].device_id == "d1" and "gateway items" in d.rejections[0].reason
    with pytest.raises(InvalidInput):
        decode_gateway(b"{}")


readings = st.lists(
    st.builds(
        Reading,
        device_id=st.just("dev-1"),
        ts=st.integers(T - 10**9, T),
        values=st.dictionaries(st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True),
                               st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=4),
        attributes=st.dictionaries(st.sampled_from(["mode", "state"]), st.text(max_size=10), max_size=2),
        location=st.none() | st.tuples(st.floats(-90, 90), st.floats(-180, 180)),
    ),
    min_size=1,
    max_size=10,
)  # fmt: skip


@given(readings)
def test_what_a_device_sends_decodes_to_the_same_readings(batch):
    body = [
        {"ts": r.ts, "values": r.values, "attributes": r.attributes}
        | ({"location": {"lat": r.location[0], "lon": r.location[1]}} if r.location else {})
        for r in batch
    ]
    d = decode_device(orjson.dumps(body), "dev-1", clock=clock)
    assert d.rejections == [] and d.readings == batch
