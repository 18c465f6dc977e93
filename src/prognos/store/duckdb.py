"""The embedded default: one DuckDB file, no server to install.

Writes go in as Arrow tables (``INSERT OR IGNORE … SELECT``, about a million rows a second); the
primary key makes a repeated ``(device_id, key, ts)`` a no-op. A commit reaches DuckDB's write-ahead
log before `write` returns, so an acknowledged reading survives a crash of the process.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from prognos.errors import StoreError, StoreUnavailable, require
from prognos.store.base import LOCATIONS, SERIES, STATES, Agg, check_changes, check_interval, check_range, seen_ranges
from prognos.store.sql import Dialect, Pairs, SeriesIds, SqlReads, device_update, to_tables
from prognos.types import Device, Reading

# A series is one key of one device; telemetry rows carry its integer id, so the primary key the
# idempotent insert checks is (INTEGER, BIGINT) rather than two strings and a BIGINT (~1.4x faster).
SCHEMA = """
CREATE SEQUENCE IF NOT EXISTS series_ids;
CREATE TABLE IF NOT EXISTS series (
    series_id INTEGER PRIMARY KEY DEFAULT nextval('series_ids'), device_id VARCHAR NOT NULL, key VARCHAR NOT NULL,
    UNIQUE (device_id, key));
CREATE TABLE IF NOT EXISTS telemetry (
    series_id INTEGER NOT NULL, ts BIGINT NOT NULL, value DOUBLE NOT NULL, PRIMARY KEY (series_id, ts));
CREATE TABLE IF NOT EXISTS states (
    device_id VARCHAR NOT NULL, key VARCHAR NOT NULL, ts BIGINT NOT NULL, value VARCHAR NOT NULL,
    PRIMARY KEY (device_id, key, ts));
CREATE TABLE IF NOT EXISTS locations (
    device_id VARCHAR NOT NULL, ts BIGINT NOT NULL, lat DOUBLE NOT NULL, lon DOUBLE NOT NULL,
    PRIMARY KEY (device_id, ts));
CREATE TABLE IF NOT EXISTS latest (
    device_id VARCHAR NOT NULL, key VARCHAR NOT NULL, ts BIGINT NOT NULL, value DOUBLE NOT NULL,
    PRIMARY KEY (device_id, key));
CREATE TABLE IF NOT EXISTS devices (
    device_id VARCHAR PRIMARY KEY, type VARCHAR, name VARCHAR, lat DOUBLE, lon DOUBLE,
    tags VARCHAR NOT NULL DEFAULT '{}', first_seen BIGINT, last_seen BIGINT);
CREATE TABLE IF NOT EXISTS records (
    kind VARCHAR NOT NULL, key VARCHAR NOT NULL, doc VARCHAR NOT NULL, PRIMARY KEY (kind, key));
"""

AGG_SQL = {
    Agg.AVG: "avg(value)",
    Agg.MIN: "min(value)",
    Agg.MAX: "max(value)",
    Agg.LAST: "arg_max(value, ts)",
}


class DuckDBStore(SqlReads):
    dialect = Dialect("?", "list_contains(?, {})")

    def __init__(self, path: str | Path, threads: int | None = None) -> None:
        duckdb = require("duckdb", "all")
        self.path = Path(path)
        self.url = f"duckdb:///{self.path}"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._con = duckdb.connect(
                str(self.path),
                config={"autoinstall_known_extensions": False, "autoload_known_extensions": False}
                | ({"threads": threads} if threads else {}),
            )
        except duckdb.IOException as exc:
            raise StoreUnavailable(
                f"cannot open {self.path}: {exc}. DuckDB allows one process per file: "
                "stop the server using it, or ask that server over HTTP (e.g. prognos devices list --api URL)"
            ) from None
        self._con.execute(SCHEMA)
        # Registering Arrow data makes DuckDB import pandas once (~2 s): pay that at start-up, not in
        # the first write, where every reading waiting for its acknowledgement would pay it.
        self._con.register("_warm_up", pa.Table.from_pydict({"x": [1]}))
        self._con.unregister("_warm_up")
        self._write_lock = threading.Lock()  # one writer; readers use their own cursors
        self._series = SeriesIds(self._create_series)

    def _create_series(self, pairs: Pairs) -> dict[tuple[str, str], int]:
        cur = self._cursor()
        try:
            cur.register("p", pa.Table.from_pydict({"device_id": [d for d, _ in pairs], "key": [k for _, k in pairs]}))
            cur.execute("""INSERT INTO series (device_id, key) SELECT device_id, key FROM p WHERE NOT EXISTS
                           (SELECT 1 FROM series s WHERE s.device_id = p.device_id AND s.key = p.key)""")
            rows = cur.execute("SELECT device_id, key, series_id FROM series JOIN p USING (device_id, key)").fetchall()
        finally:
            cur.close()
        return {(d, k): sid for d, k, sid in rows}

    def _cursor(self) -> Any:
        return self._con.cursor()

    def write(self, readings: Sequence[Reading]) -> int:
        if not readings:
            return 0
        telemetry, states, locations = to_tables(readings)
        seen = seen_ranges(readings)
        devices = pa.Table.from_pydict(
            {
                "device_id": list(seen),
                "lo": [v[0] for v in seen.values()],
                "hi": [v[1] for v in seen.values()],
            }
        )
        with self._write_lock:
            sids = pa.array(self._series.column(readings), pa.int32())
            telemetry = telemetry.append_column("series_id", sids)
            cur = self._cursor()
            try:
                cur.begin()
                cur.register("t", telemetry)
                # Arrow order is input order, so of two values for one (series, ts) in a batch the first stays.
                cur.execute("INSERT OR IGNORE INTO telemetry SELECT series_id, ts, value FROM t")
                if states.num_rows:
                    cur.register("s", states)
                    cur.execute("INSERT OR IGNORE INTO states SELECT device_id, key, ts, value FROM s")
                if locations.num_rows:
                    cur.register("l", locations)
                    cur.execute("INSERT OR IGNORE INTO locations SELECT device_id, ts, lat, lon FROM l")
                if telemetry.num_rows:
                    cur.execute("""
                        INSERT INTO latest SELECT device_id, key, max(ts), arg_max(value, ts) FROM t GROUP BY ALL
                        ON CONFLICT (device_id, key) DO UPDATE SET ts = excluded.ts, value = excluded.value
                        WHERE excluded.ts > latest.ts""")
                cur.register("d", devices)
                cur.execute("""
                    INSERT INTO devices (device_id, first_seen, last_seen) SELECT device_id, lo, hi FROM d
                    ON CONFLICT (device_id) DO UPDATE SET
                        first_seen = least(devices.first_seen, excluded.first_seen),
                        last_seen = greatest(devices.last_seen, excluded.last_seen)""")
                cur.commit()
            except Exception as exc:
                cur.rollback()
                raise StoreError(f"write of {len(readings)} readings failed: {exc}") from exc
            finally:
                cur.close()
        return telemetry.num_rows + states.num_rows + locations.num_rows

    def downsample(
        self, device_id: str, keys: Sequence[str], start: int, end: int, interval: int, agg: Agg
    ) -> pa.Table:
        check_range(start, end)
        check_interval(interval)
        sql = f"""SELECT ts // $i * $i AS bucket, key, {AGG_SQL[agg]} FROM telemetry JOIN series USING (series_id)
                  WHERE device_id = $d AND ts >= $s AND ts < $e AND list_contains($k, key)
                  GROUP BY ALL ORDER BY bucket, key"""
        return self.select(sql, {"i": interval, "d": device_id, "s": start, "e": end, "k": list(keys)}, SERIES)

    def states(self, device_id: str, start: int, end: int) -> pa.Table:
        check_range(start, end)
        sql = """SELECT ts, key, value FROM states WHERE device_id = $d AND ts >= $s AND ts < $e
                 UNION ALL
                 SELECT max(ts), key, arg_max(value, ts) FROM states WHERE device_id = $d AND ts < $s GROUP BY key
                 ORDER BY ts, key"""
        return self.select(sql, {"d": device_id, "s": start, "e": end}, STATES)

    def locations(self, device_id: str, start: int, end: int) -> pa.Table:
        check_range(start, end)
        sql = """SELECT ts, lat, lon FROM locations WHERE device_id = $d AND ts >= $s AND ts < $e
                 UNION ALL
                 (SELECT ts, lat, lon FROM locations WHERE device_id = $d AND ts < $s ORDER BY ts DESC LIMIT 1)
                 ORDER BY ts"""
        return self.select(sql, {"d": device_id, "s": start, "e": end}, LOCATIONS)

    def retain(self, cutoff: int) -> int:
        with self._write_lock:
            cur = self._cursor()
            n = 0
            for table in ("telemetry", "states", "locations"):
                n += cur.execute(f"DELETE FROM {table} WHERE ts < ?", [cutoff]).fetchone()[0]
            cur.execute("DELETE FROM latest WHERE ts < ?", [cutoff])
            cur.close()
        return n

    def update_device(self, device_id: str, changes: Mapping[str, Any], create: bool = False) -> Device:
        sets, params = device_update(check_changes(changes))
        with self._write_lock:
            cur = self._cursor()
            if create:
                cur.execute("INSERT OR IGNORE INTO devices (device_id) VALUES (?)", [device_id])
            if sets:
                cur.execute(f"UPDATE devices SET {sets} WHERE device_id = ?", [*params, device_id])
            cur.close()
        return self.device(device_id)

    def put_record(self, kind: str, key: str, doc: Mapping[str, Any], replace: bool = False) -> bool:
        verb = "INSERT OR REPLACE" if replace else "INSERT OR IGNORE"
        with self._write_lock:
            cur = self._cursor()
            try:
                before = cur.execute("SELECT count(*) FROM records WHERE kind = ? AND key = ?", [kind, key]).fetchone()
                cur.execute(f"{verb} INTO records VALUES (?, ?, ?)", [kind, key, json.dumps(doc)])
            finally:
                cur.close()
        return replace or before[0] == 0

    def add_records(self, kind: str, items: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
        if not items:
            return
        table = pa.table(
            {"kind": [kind] * len(items), "key": [k for k, _ in items], "doc": [json.dumps(d) for _, d in items]}
        )
        with self._write_lock:
            cur = self._cursor()
            try:
                cur.register("incoming_records", table)
                cur.execute("INSERT OR IGNORE INTO records SELECT kind, key, doc FROM incoming_records")
                cur.unregister("incoming_records")
            finally:
                cur.close()

    def close(self) -> None:
        self._con.close()

    def ping(self) -> None:
        self.rows("SELECT 1")

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        cur = self._cursor()
        try:
            return cur.execute(sql, params).fetchall()
        finally:
            cur.close()

    def select(self, sql: str, params: Any, schema: pa.Schema) -> pa.Table:
        cur = self._cursor()
        try:
            table = cur.sql(sql, params=params).to_arrow_table()
        finally:
            cur.close()
        return table.rename_columns(schema.names).cast(schema)
