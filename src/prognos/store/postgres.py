"""PostgreSQL for server deployments and scale-out: several prognos processes share one database.

Bulk writes stream Arrow → CSV (pyarrow's C++ writer) → ``COPY`` into per-connection temporary
tables, then ``INSERT … ON CONFLICT DO NOTHING`` into the real ones, all in one transaction.
Use ``?options=-csearch_path%3DNAME`` in the URL to keep prognos in its own schema.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv

from prognos.errors import DeviceNotFound, StoreError, StoreUnavailable, require
from prognos.store.base import (
    LATEST,
    LOCATIONS,
    SERIES,
    STATES,
    Agg,
    check_changes,
    check_interval,
    check_range,
    redact,
    seen_ranges,
    to_tables,
)
from prognos.store.sql import DEVICE_COLUMNS, device_from_row, device_update
from prognos.types import Device, Reading

SCHEMA = """
CREATE TABLE IF NOT EXISTS telemetry (
    device_id TEXT NOT NULL, key TEXT NOT NULL, ts BIGINT NOT NULL, value DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (device_id, key, ts));
CREATE TABLE IF NOT EXISTS states (
    device_id TEXT NOT NULL, key TEXT NOT NULL, ts BIGINT NOT NULL, value TEXT NOT NULL,
    PRIMARY KEY (device_id, key, ts));
CREATE TABLE IF NOT EXISTS locations (
    device_id TEXT NOT NULL, ts BIGINT NOT NULL, lat DOUBLE PRECISION NOT NULL, lon DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (device_id, ts));
CREATE TABLE IF NOT EXISTS latest (
    device_id TEXT NOT NULL, key TEXT NOT NULL, ts BIGINT NOT NULL, value DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (device_id, key));
CREATE TABLE IF NOT EXISTS devices (
    device_id TEXT PRIMARY KEY, type TEXT, name TEXT, lat DOUBLE PRECISION, lon DOUBLE PRECISION,
    tags TEXT NOT NULL DEFAULT '{}', first_seen BIGINT, last_seen BIGINT);
"""

STAGING = """
CREATE TEMP TABLE IF NOT EXISTS stage_telemetry (LIKE telemetry) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS stage_states (LIKE states) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS stage_locations (LIKE locations) ON COMMIT DELETE ROWS;
"""

AGG_SQL = {
    Agg.AVG: "avg(value)",
    Agg.MIN: "min(value)",
    Agg.MAX: "max(value)",
    Agg.LAST: "(array_agg(value ORDER BY ts DESC))[1]",
}


class PostgresStore:
    def __init__(self, url: str, pool_size: int = 4) -> None:
        psycopg = require("psycopg", "postgres")
        pool_mod = require("psycopg_pool", "postgres")
        self.url = url
        try:
            with psycopg.connect(url, autocommit=True) as con:
                con.execute("SELECT pg_advisory_lock(7310)")  # several processes may start at once
                con.execute(SCHEMA)
                con.execute("SELECT pg_advisory_unlock(7310)")
        except psycopg.OperationalError as exc:
            raise StoreUnavailable(f"cannot connect to PostgreSQL at {redact(url)}: {exc}") from None
        self._pool = pool_mod.ConnectionPool(
            url, min_size=1, max_size=pool_size, open=True, configure=lambda c: setattr(c, "autocommit", True)
        )

    def write(self, readings: Sequence[Reading]) -> int:
        if not readings:
            return 0
        telemetry, states, locations = to_tables(readings)
        seen = seen_ranges(readings)
        try:
            with self._pool.connection() as con, con.transaction():
                con.execute(STAGING)
                for name, table in (("telemetry", telemetry), ("states", states), ("locations", locations)):
                    if table.num_rows:
                        self._copy(con, f"stage_{name}", table)
                        con.execute(f"INSERT INTO {name} SELECT * FROM stage_{name} ON CONFLICT DO NOTHING")
                if telemetry.num_rows:
                    con.execute("""
                        INSERT INTO latest SELECT DISTINCT ON (device_id, key) device_id, key, ts, value
                        FROM stage_telemetry ORDER BY device_id, key, ts DESC
                        ON CONFLICT (device_id, key) DO UPDATE SET ts = excluded.ts, value = excluded.value
                        WHERE excluded.ts > latest.ts""")
                with con.cursor() as cur:
                    cur.executemany(
                        """
                        INSERT INTO devices (device_id, first_seen, last_seen) VALUES (%s, %s, %s)
                        ON CONFLICT (device_id) DO UPDATE SET
                            first_seen = least(devices.first_seen, excluded.first_seen),
                            last_seen = greatest(devices.last_seen, excluded.last_seen)""",
                        [(d, lo, hi) for d, (lo, hi) in sorted(seen.items())],
                    )
        except Exception as exc:
            raise StoreError(f"write of {len(readings)} readings failed: {exc}") from exc
        return telemetry.num_rows + states.num_rows + locations.num_rows

    @staticmethod
    def _copy(con: Any, table: str, data: pa.Table) -> None:
        buf = io.BytesIO()
        pacsv.write_csv(data, buf, pacsv.WriteOptions(include_header=False))
        with con.cursor().copy(f"COPY {table} ({', '.join(data.column_names)}) FROM STDIN (FORMAT csv)") as copy:
            copy.write(buf.getbuffer())

    def read(self, device_id: str, start: int, end: int, keys: Sequence[str] | None = None) -> pa.Table:
        check_range(start, end)
        sql = "SELECT ts, key, value FROM telemetry WHERE device_id = %s AND ts >= %s AND ts < %s"
        params: list[Any] = [device_id, start, end]
        if keys is not None:
            sql += " AND key = ANY(%s)"
            params.append(list(keys))
        return self._query(sql + " ORDER BY ts, key", params, SERIES)

    def downsample(
        self, device_id: str, keys: Sequence[str], start: int, end: int, interval: int, agg: Agg
    ) -> pa.Table:
        check_range(start, end)
        check_interval(interval)
        sql = f"""SELECT ts / %(i)s * %(i)s AS bucket, key, {AGG_SQL[agg]} FROM telemetry
                  WHERE device_id = %(d)s AND ts >= %(s)s AND ts < %(e)s AND key = ANY(%(k)s)
                  GROUP BY 1, 2 ORDER BY 1, 2"""
        params = {"i": interval, "d": device_id, "s": start, "e": end, "k": list(keys)}
        return self._query(sql, params, SERIES)

    def latest(self, device_ids: Sequence[str] | None = None) -> pa.Table:
        sql, params = "SELECT device_id, key, ts, value FROM latest", []
        if device_ids is not None:
            sql, params = sql + " WHERE device_id = ANY(%s)", [list(device_ids)]
        return self._query(sql + " ORDER BY device_id, key", params, LATEST)

    def states(self, device_id: str, start: int, end: int) -> pa.Table:
        check_range(start, end)
        sql = """SELECT * FROM (
                   SELECT ts, key, value FROM states WHERE device_id = %(d)s AND ts >= %(s)s AND ts < %(e)s
                   UNION ALL
                   (SELECT DISTINCT ON (key) ts, key, value FROM states WHERE device_id = %(d)s AND ts < %(s)s
                    ORDER BY key, ts DESC)) u ORDER BY ts, key"""
        return self._query(sql, {"d": device_id, "s": start, "e": end}, STATES)

    def locations(self, device_id: str, start: int, end: int) -> pa.Table:
        check_range(start, end)
        sql = """SELECT * FROM (
                   SELECT ts, lat, lon FROM locations WHERE device_id = %(d)s AND ts >= %(s)s AND ts < %(e)s
                   UNION ALL
                   (SELECT ts, lat, lon FROM locations WHERE device_id = %(d)s AND ts < %(s)s
                    ORDER BY ts DESC LIMIT 1)) u ORDER BY ts"""
        return self._query(sql, {"d": device_id, "s": start, "e": end}, LOCATIONS)

    def retain(self, cutoff: int) -> int:
        n = 0
        with self._pool.connection() as con, con.transaction():
            for table in ("telemetry", "states", "locations"):
                n += con.execute(f"DELETE FROM {table} WHERE ts < %s", [cutoff]).rowcount
            con.execute("DELETE FROM latest WHERE ts < %s", [cutoff])
        return n

    def devices(self) -> list[Device]:
        with self._pool.connection() as con:
            rows = con.execute(f"SELECT {DEVICE_COLUMNS} FROM devices ORDER BY device_id").fetchall()
        return [device_from_row(r) for r in rows]

    def device(self, device_id: str) -> Device:
        with self._pool.connection() as con:
            row = con.execute(f"SELECT {DEVICE_COLUMNS} FROM devices WHERE device_id = %s", [device_id]).fetchone()
        if row is None:
            raise DeviceNotFound(device_id)
        return device_from_row(row)

    def update_device(self, device_id: str, changes: Mapping[str, Any], create: bool = False) -> Device:
        sets, params = device_update(check_changes(changes))
        with self._pool.connection() as con, con.transaction():
            if create:
                con.execute("INSERT INTO devices (device_id) VALUES (%s) ON CONFLICT DO NOTHING", [device_id])
            if sets:
                con.execute(f"UPDATE devices SET {sets.replace('?', '%s')} WHERE device_id = %s", [*params, device_id])
        return self.device(device_id)

    def close(self) -> None:
        self._pool.close()

    def _query(self, sql: str, params: Any, schema: pa.Schema) -> pa.Table:
        with self._pool.connection() as con:
            rows = con.execute(sql, params).fetchall()
        columns = list(zip(*rows, strict=True)) if rows else [()] * len(schema)
        return pa.Table.from_arrays([pa.array(c, f.type) for c, f in zip(columns, schema, strict=True)], schema=schema)
