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
        values=st.dictionaries(
            st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True),
            st.floats(allow_nan=False, allow_infinity=False),
            min_size=1,
            max_size=4,
        ),
        attributes=st.dictionaries(st.sampled_from(["mode", "state"]), st.text(max_size=10), max_size=2),
        location=st.none() | st.tuples(st.floats(-90, 90), st.floats(-180, 180)),
    ),
    min_size=1,
    max_size=10,
)


@given(readings)
def test_what_a_device_sends_decodes_to_the_same_readings(batch):
    body = [
        {"ts": r.ts, "values": r.values, "attributes": r.attributes}
        | ({"location": {"lat": r.location[0], "lon": r.location[1]}} if r.location else {})
        for r in batch
    ]
    d = decode_device(orjson.dumps(body), "dev-1", clock=clock)
    assert d.rejections == [] and d.readings == batch


gateway_bodies = st.dictionaries(
    st.from_regex(r"[a-z][a-z0-9-]{0,8}", fullmatch=True),
    st.lists(
        st.fixed_dictionaries(
            {
                "ts": st.integers(T - 10**9, T),
                "values": st.dictionaries(
                    st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True),
                    st.floats(-1e300, 1e300) | st.integers(-(10**6), 10**6),
                    min_size=1,
                    max_size=4,
                ),
            }
        ),
        min_size=1,
        max_size=3,
    ),
    min_size=1,
    max_size=5,
)


@given(gateway_bodies)
def test_the_fast_path_decodes_as_the_general_one(doc):
    fast = decode_gateway(orjson.dumps(doc), clock=clock)  # bytes: the typed C decoder first
    general = decode_gateway(doc, clock=clock)  # a parsed document: the general path only
    assert fast.readings == general.readings and fast.rejections == general.rejections == []


def test_one_bad_value_sends_the_body_down_the_path_that_names_it():
    body = orjson.dumps(
        {
            "d1": [{"ts": T, "values": {"a": 1.5}}],
            "d2": [{"ts": T, "values": {"a": "hot", "b": 2}}],
            "d3": [{"ts": T, "values": {"flag": True}}],
        }
    )
    d = decode_gateway(body, clock=clock)
    assert d.readings == [Reading("d1", T, {"a": 1.5}), Reading("d2", T, {"b": 2.0}), Reading("d3", T, {"flag": 1.0})]
    assert [(r.device_id, r.field) for r in d.rejections] == [("d2", "values.a")]
    assert "string" in d.rejections[0].reason


def test_the_common_form_takes_the_fast_path():
    from prognos.ingest import payload

    body = orjson.dumps({"d1": [{"ts": T, "values": {"a": 1.5, "b": 2}}]})
    fast = payload._fast(payload._GATEWAY, body, Limits(), clock)
    assert fast is not None and fast.readings == [Reading("d1", T, {"a": 1.5, "b": 2.0})]
    assert payload._fast(payload._GATEWAY, body.replace(b"1.5", b"true"), Limits(), clock) is None  # → general path
