"""File import: CSV and Parquet, column mapping, rejects counted with reasons, good rows kept."""

from __future__ import annotations

import json
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from prognos.errors import InvalidInput
from prognos.ingest.files import Mapping, import_file
from prognos.store import MemoryStore, open_store

T = 1_700_000_000_000


def test_csv_with_device_column_iso_times_state_and_location(tmp_path):
    f = tmp_path / "r.csv"
    f.write_text(
        "time,device,temp,pressure,mode,lat,lon\n"
        "2023-11-14T22:13:20Z,p-1,21.5,1.0,run,52.5,13.4\n"
        "2023-11-14T22:13:21Z,p-1,oops,1.1,run,52.5,13.4\n"
        "not a time,p-1,22,1.2,run,,\n"
        "2023-11-14T22:13:22Z,bad id!,22,1.2,run,,\n"
        "2023-11-14T22:13:23Z,p-2,,2.0,idle,,\n"
    )
    store = MemoryStore()
    m = Mapping(
        device_column="device",
        ts_column="time",
        ts_format="iso",
        attribute_columns=["mode"],
        lat_column="lat",
        lon_column="lon",
    )
    s = import_file(f, m, store.write)
    assert (s.rows, s.readings, s.rejected_rows, s.rejected_values) == (5, 3, 2, 1)
    reasons = {r["reason"].split(" (")[0]: r["rows"] for r in s.as_dict()["reasons"]}
    assert reasons == {
        "temp: expected a finite number": [2],
        "timestamp in 'time' not in format 'iso'": [3],
        "invalid device id in 'device'": [4],
    }
    assert store.read("p-1", T, T + 5000).to_pylist() == [
        {"ts": T, "key": "pressure", "value": 1.0},
        {"ts": T, "key": "temp", "value": 21.5},
        {"ts": T + 1000, "key": "pressure", "value": 1.1},
    ]
    assert store.locations("p-1", T, T + 5000).to_pylist() == [
        {"ts": T, "lat": 52.5, "lon": 13.4},
        {"ts": T + 1000, "lat": 52.5, "lon": 13.4},
    ]
    assert store.read("p-2", T, T + 5000).to_pylist() == [{"ts": T + 3000, "key": "pressure", "value": 2.0}]


def test_parquet_fixed_device_epoch_seconds_and_chosen_columns(tmp_path):
    f = tmp_path / "r.parquet"
    pq.write_table(pa.table({"ts": [T // 1000, T // 1000 + 1], "a": [1.0, float("nan")], "b": [3, 4], "c": [5, 6]}), f)
    store = MemoryStore()
    s = import_file(f, Mapping(device="m-1", ts_format="s", columns=["a", "b"]), store.write)
    assert (s.readings, s.values, s.rejected_values) == (2, 3, 1)
    assert sorted(set(store.read("m-1", T, T + 5000).column("key").to_pylist())) == ["a", "b"]


def test_strftime_format_and_timestamp_typed_parquet(tmp_path):
    f = tmp_path / "r.csv"
    f.write_text("when,x\n14/11/2023 22:13:20,1\n")
    store = MemoryStore()
    import_file(f, Mapping(device="d", ts_column="when", ts_format="%d/%m/%Y %H:%M:%S"), store.write)
    assert store.read("d", T, T + 1).num_rows == 1
    g = tmp_path / "t.parquet"
    pq.write_table(pa.table({"ts": pa.array([T], pa.timestamp("ms", tz="UTC")), "x": [2.0]}), g)
    import_file(g, Mapping(device="e"), store.write)
    assert store.read("e", T, T + 1).column("value").to_pylist() == [2.0]


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        (Mapping(), "exactly one"),
        (Mapping(device="d", device_column="x"), "exactly one"),
        (Mapping(device="d", ts_column="nope"), "column 'nope' not in file"),
        (Mapping(device_column="dev"), "column 'dev' not in file"),
    ],
)
def test_mapping_errors_name_the_column(tmp_path, mapping, message):
    f = tmp_path / "r.csv"
    f.write_text("ts,x\n1700000000000,1\n")
    with pytest.raises(InvalidInput, match=message):
        import_file(f, mapping, MemoryStore().write)


def test_cli_import_prints_a_summary_and_exit_codes(tmp_path):
    f = tmp_path / "r.csv"
    f.write_text("ts,x,y\n1700000000000,1,2\n1700000001000,zz,3\n")
    url = f"duckdb:///{tmp_path}/i.duckdb"
    cli = [sys.executable, "-m", "prognos.cli", "import", str(f), "--store", url, "--device", "d-1"]
    out = subprocess.run([*cli, "--json"], capture_output=True, text=True, check=True)
    summary = json.loads(out.stdout)
    assert (summary["readings"], summary["values"], summary["rejected_values"]) == (2, 3, 1)
    assert "import r.csv" in out.stderr  # the progress bar
    store = open_store(url)
    assert store.read("d-1", T, T + 2000).num_rows == 3
    store.close()
    bad = subprocess.run([*cli[:-2], "--device", "bad id!"], capture_output=True, text=True)
    assert bad.returncode == 2 and "invalid device id" in bad.stderr
    missing = subprocess.run([*cli[:4], str(tmp_path / "none.csv"), *cli[5:]], capture_output=True, text=True)
    assert missing.returncode == 2 and "no such file" in missing.stderr
