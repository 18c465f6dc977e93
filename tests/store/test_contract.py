"""The store contract: memory, DuckDB and PostgreSQL answer alike."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prognos.errors import DeviceNotFound, InvalidInput
from prognos.store import Agg, Store, asof
from prognos.types import Reading

T0 = 1_700_000_000_000


def rows(table):
    return [tuple(r.values()) for r in table.to_pylist()]


def test_read_returns_what_was_written_in_order(store: Store):
    store.write([Reading("d1", T0 + 1000, {"b": 2.0, "a": 1.0}), Reading("d1", T0, {"a": 0.5})])
    store.write([Reading("d2", T0, {"a": 9.0})])
    assert rows(store.read("d1", T0, T0 + 2000)) == [
        (T0, "a", 0.5),
        (T0 + 1000, "a", 1.0),
        (T0 + 1000, "b", 2.0),
    ]
    assert rows(store.read("d1", T0, T0 + 2000, keys=["b"])) == [(T0 + 1000, "b", 2.0)]
    assert rows(store.read("d1", T0 + 1, T0 + 1000)) == []  # half-open range


def test_duplicate_writes_are_idempotent(store: Store):
    batch = [Reading("d1", T0, {"a": 1.0}, {"mode": "run"}, (1.0, 2.0))]
    store.write(batch)
    store.write(batch)
    store.write([Reading("d1", T0, {"a": 5.0})])  # a retry never changes what was stored
    assert rows(store.read("d1", T0, T0 + 1)) == [(T0, "a", 1.0)]
    assert rows(store.states("d1", T0, T0 + 1)) == [(T0, "mode", "run")]
    assert rows(store.locations("d1", T0, T0 + 1)) == [(T0, 1.0, 2.0)]


@pytest.mark.parametrize(
    ("agg", "expected"),
    [(Agg.AVG, [2.0, 10.0]), (Agg.MIN, [1.0, 10.0]), (Agg.MAX, [3.0, 10.0]), (Agg.LAST, [1.0, 10.0])],
)
def test_downsample_buckets_align_to_the_epoch(store: Store, agg: Agg, expected: list[float]):
    store.write([Reading("d1", T0 + i * 100, {"a": v, "b": -v}) for i, v in enumerate([3.0, 2.0, 1.0])])
    store.write([Reading("d1", T0 + 1000, {"a": 10.0})])
    out = store.downsample("d1", ["a"], T0, T0 + 2000, 1000, agg)
    assert rows(out) == [(T0, "a", expected[0]), (T0 + 1000, "a", expected[1])]


def test_latest_value_per_device_and_key(store: Store):
    store.write([Reading("d1", T0 + 5, {"a": 1.0}), Reading("d2", T0, {"a": 2.0})])
    store.write([Reading("d1", T0, {"a": 0.0, "b": 7.0})])  # older: does not replace the latest
    assert rows(store.latest()) == [("d1", "a", T0 + 5, 1.0), ("d1", "b", T0, 7.0), ("d2", "a", T0, 2.0)]
    assert rows(store.latest(["d2"])) == [("d2", "a", T0, 2.0)]


def test_asof_join_carries_state_and_location_in_force(store: Store):
    store.write(
        [
            Reading("d1", T0 - 500, {}, {"mode": "idle"}, (10.0, 20.0)),
            Reading("d1", T0, {"a": 1.0}),
            Reading("d1", T0 + 100, {"a": 2.0, "b": 3.0}, {"mode": "running"}),
            Reading("d1", T0 + 200, {"b": 4.0}, location=(11.0, 21.0)),
        ]
    )
    out = asof(store, "d1", T0, T0 + 1000)
    assert out.column_names == ["ts", "a", "b", "mode", "lat", "lon"]
    assert out.to_pylist() == [
        {"ts": T0, "a": 1.0, "b": None, "mode": "idle", "lat": 10.0, "lon": 20.0},
        {"ts": T0 + 100, "a": 2.0, "b": 3.0, "mode": "running", "lat": 10.0, "lon": 20.0},
        {"ts": T0 + 200, "a": None, "b": 4.0, "mode": "running", "lat": 11.0, "lon": 21.0},
    ]


def test_asof_before_any_state_is_null(store: Store):
    store.write([Reading("d1", T0, {"a": 1.0}), Reading("d1", T0 + 10, {"a": 2.0}, {"mode": "on"})])
    assert asof(store, "d1", T0, T0 + 20).column("mode").to_pylist() == [None, "on"]


def test_retention_drops_only_older_rows(store: Store):
    store.write([Reading("d1", T0 + i, {"a": float(i)}, {"m": str(i)}) for i in range(10)])
    dropped = store.retain(T0 + 4)
    assert dropped == 8
    assert [r[0] for r in rows(store.read("d1", T0, T0 + 10))] == [T0 + i for i in range(4, 10)]


def test_devices_appear_on_first_telemetry_and_take_metadata(store: Store):
    store.write([Reading("pump-1", T0, {"a": 1.0}), Reading("pump-1", T0 + 9, {"a": 1.0})])
    (d,) = store.devices()
    assert (d.device_id, d.first_seen, d.last_seen, d.type) == ("pump-1", T0, T0 + 9, None)
    d = store.update_device(
        "pump-1", {"type": "pump", "name": "P1", "location": {"lat": 1, "lon": 2}, "tags": {"site": "north"}}
    )
    assert (d.type, d.name, d.location, dict(d.tags)) == ("pump", "P1", (1.0, 2.0), {"site": "north"})
    store.write([Reading("pump-1", T0 - 5, {"a": 1.0})])
    assert (store.device("pump-1").first_seen, store.device("pump-1").type) == (T0 - 5, "pump")


def test_device_errors_name_what_was_wrong(store: Store):
    with pytest.raises(DeviceNotFound, match="nope"):
        store.device("nope")
    with pytest.raises(DeviceNotFound):
        store.update_device("nope", {"type": "pump"})
    assert store.update_device("new", {"type": "fan"}, create=True).type == "fan"
    with pytest.raises(InvalidInput, match="colour"):
        store.update_device("new", {"colour": "red"})
    with pytest.raises(InvalidInput, match="location"):
        store.update_device("new", {"location": {"lat": 200, "lon": 0}})


def test_bad_ranges_are_refused(store: Store):
    with pytest.raises(InvalidInput, match="end"):
        store.read("d1", T0, T0)
    with pytest.raises(InvalidInput, match="interval"):
        store.downsample("d1", ["a"], T0, T0 + 1, 0, Agg.AVG)


finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
readings = st.lists(
    st.builds(
        Reading,
        device_id=st.sampled_from(["d1", "d2", "x.y-z:1"]),
        ts=st.integers(T0, T0 + 10_000),
        values=st.dictionaries(st.sampled_from(["a", "b", "temp_1", "v/x"]), finite, min_size=1, max_size=3),
    ),
    max_size=30,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=readings)
def test_whatever_valid_readings_are_written_read_back_unchanged(store: Store, batch: list[Reading]):
    store.retain(T0 + 10_000_000)  # the fixture's store is shared across examples: start empty
    store.write(batch)
    expected: dict[tuple[str, str, int], float] = {}
    for r in batch:
        for k, v in r.values.items():
            expected.setdefault((r.device_id, k, r.ts), v)  # first write wins
    got = {}
    for device in {r.device_id for r in batch}:
        for ts, k, v in rows(store.read(device, T0, T0 + 10_001)):
            got[(device, k, ts)] = v
    assert got.keys() == expected.keys()
    assert all(math.copysign(1, got[k]) == math.copysign(1, v) and got[k] == v for k, v in expected.items())


def test_records_keep_documents_by_kind_and_key(store: Store):
    assert store.put_record("model-alias", "m@champion", {"version": 1})
    assert not store.put_record("model-alias", "m@champion", {"version": 2})  # insert-only without replace
    assert store.put_record("model-alias", "m@champion", {"version": 3}, replace=True)
    store.add_records("log", [("m/002", {"n": 2}), ("m/001", {"n": 1}), ("x/001", {"n": 9})])
    store.add_records("log", [("m/001", {"n": 100})])  # bulk adds leave existing keys alone
    store.add_records("log", [])
    assert store.records("model-alias") == [("m@champion", {"version": 3})]
    assert store.records("log", "m/") == [("m/001", {"n": 1}), ("m/002", {"n": 2})]
    assert store.records("nothing") == []


def test_read_many_is_every_devices_read_in_one(store: Store):
    store.write(
        [Reading(d, T0 + i * 1000, {"a": float(i), "b": -float(i)}) for i in range(10) for d in ("x", "y", "z")]
    )
    got = store.read_many(["z", "x", "nobody"], T0 + 2000, T0 + 6000, ["a"]).to_pylist()
    want = [{"device_id": d, **r} for d in ("x", "z") for r in store.read(d, T0 + 2000, T0 + 6000, ["a"]).to_pylist()]
    assert got == want and len(got) == 8
    assert store.read_many(["x"], T0, T0 + 2000).num_rows == 4  # both keys when none are named
