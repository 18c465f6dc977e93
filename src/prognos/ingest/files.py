"""File import: CSV and Parquet rows → readings, with a column mapping and a summary of rejects.

One row is one reading. The mapping names the device (a column, or one fixed id for the whole
file), the timestamp column and its format, the numeric value columns (default: every column not
mapped to something else) and optional state and location columns. A bad cell rejects that value, a bad
timestamp or device id its row; the summary counts both with a reason and the first rows seen.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from prognos.errors import InvalidInput
from prognos.types import DEVICE_ID, KEY, Reading

TS_FORMATS = ("ms", "s", "us", "iso")
TS_GUESSES = ("ts", "timestamp", "time", "datetime", "date")


@dataclass(frozen=True)
class Mapping:
    device_column: str | None = None
    device: str | None = None
    ts_column: str | None = None  # None: the first of TS_GUESSES present
    ts_format: str = "ms"  # ms | s | us | iso | a strftime pattern (UTC unless it has %z)
    columns: Sequence[str] | None = None
    attribute_columns: Sequence[str] = ()
    lat_column: str | None = None
    lon_column: str | None = None

    def check(self) -> None:
        if (self.device_column is None) == (self.device is None):
            raise InvalidInput("give exactly one of a device column or a fixed device id", field="device")
        if self.device is not None and not DEVICE_ID.match(self.device):
            raise InvalidInput(f"invalid device id {self.device!r}", field="device", value=self.device)


@dataclass
class ImportSummary:
    rows: int = 0
    readings: int = 0
    values: int = 0
    rejected_rows: int = 0
    rejected_values: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[int]] = field(default_factory=dict)

    def reject(self, reason: str, row: int, whole_row: bool) -> None:
        if whole_row:
            self.rejected_rows += 1
        else:
            self.rejected_values += 1
        self.reasons[reason] += 1
        rows = self.examples.setdefault(reason, [])
        if len(rows) < 5:
            rows.append(row)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "readings": self.readings,
            "values": self.values,
            "rejected_rows": self.rejected_rows,
            "rejected_values": self.rejected_values,
            "reasons": [{"reason": r, "count": n, "rows": self.examples[r]} for r, n in self.reasons.most_common()],
        }


def batches(path: Path, batch_rows: int = 50_000) -> tuple[Iterator[pa.RecordBatch], int]:
    """Record batches of a CSV or Parquet file, and the size used for progress (rows or bytes)."""
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(path)
        return pf.iter_batches(batch_size=batch_rows), pf.metadata.num_rows
    if suffix in (".csv", ".txt", ".gz"):
        import pyarrow.csv as pacsv

        # Timestamps stay text: we parse them with the format the user named, not pyarrow's guess.
        reader = pacsv.open_csv(
            path,
            convert_options=pacsv.ConvertOptions(timestamp_parsers=[]),
            read_options=pacsv.ReadOptions(block_size=4 << 20),
        )
        return iter(reader), path.stat().st_size
    raise InvalidInput(
        f"{path}: unknown file type {suffix!r}: expected .csv or .parquet", field="file", value=str(path)
    )


def convert(batch: pa.RecordBatch, m: Mapping, first_row: int, summary: ImportSummary) -> list[Reading]:
    """One batch of rows → readings, recording every reject in ``summary``."""
    ts_column, value_columns = _layout(batch.schema.names, m)
    ts = _timestamps(batch.column(ts_column), m.ts_format)
    devices = batch.column(m.device_column).to_pylist() if m.device_column else None
    values = {n: _floats(batch.column(n)) for n in value_columns}
    attrs = {n: batch.column(n).cast(pa.string()).to_pylist() for n in m.attribute_columns}
    lat = _floats(batch.column(m.lat_column)) if m.lat_column else None
    lon = _floats(batch.column(m.lon_column)) if m.lon_column else None
    out = []
    for i in range(batch.num_rows):
        row = first_row + i
        summary.rows += 1
        device = m.device if devices is None else devices[i]
        if not isinstance(device, str) or not DEVICE_ID.match(device):
            summary.reject(f"invalid device id in {m.device_column!r}", row, True)
            continue
        t = ts[i]
        if t is None:
            summary.reject(f"timestamp in {ts_column!r} not in format {m.ts_format!r}", row, True)
            continue
        vals = _row(values, i, row, summary)
        state = {n: a[i] for n, a in attrs.items() if a[i] is not None}
        loc = (lat[i], lon[i]) if lat is not None and lon is not None and _is_location(lat[i], lon[i]) else None
        if vals or state or loc:
            out.append(Reading(device, t, vals, state, loc))
            summary.values += len(vals)
    summary.readings += len(out)
    return out


def _layout(names: list[str], m: Mapping) -> tuple[str, list[str]]:
    """The timestamp column and the value columns of a file with these columns, or what is wrong with the mapping."""
    ts_column = m.ts_column or next((n for n in TS_GUESSES if n in names), None)
    for needed in (ts_column, m.device_column, m.lat_column, m.lon_column, *m.attribute_columns, *(m.columns or ())):
        if needed is not None and needed not in names:
            raise InvalidInput(
                f"column {needed!r} not in file; columns are: {', '.join(names)}", field="column", value=needed
            )
    if ts_column is None:
        raise InvalidInput(
            f"no timestamp column: name one with --ts-column (columns: {', '.join(names)})", field="ts_column"
        )
    special = {ts_column, m.device_column, m.lat_column, m.lon_column, *m.attribute_columns}
    # By default every unmapped column is a sensor: a text cell in it is a reject the summary shows,
    # never a column silently skipped because one bad cell made it text.
    value_columns = list(m.columns) if m.columns else [n for n in names if n not in special]
    for name in value_columns:
        if not KEY.match(name):
            raise InvalidInput(f"column {name!r} is not a valid key name", field="column", value=name)
    return ts_column, value_columns


def _row(values: dict[str, list[Any]], i: int, row: int, summary: ImportSummary) -> dict[str, float]:
    """Row ``i``'s numeric values; a cell that is not a finite number is a reject (an empty one is no value)."""
    vals = {}
    for name, column in values.items():
        v = column[i]
        if v is None:
            continue
        if isinstance(v, float) and math.isfinite(v):
            vals[name] = v
        else:
            summary.reject(f"{name}: expected a finite number (text state? name it in --attribute-columns)", row, False)
    return vals


def import_file(
    path: str | Path,
    mapping: Mapping,
    write: Callable[[list[Reading]], Any],
    progress: Callable[[int], Any] | None = None,
) -> ImportSummary:
    """Read ``path`` in batches, write each batch's readings, return the summary."""
    mapping.check()
    path = Path(path)
    if not path.exists():
        raise InvalidInput(f"{path}: no such file", field="file", value=str(path))
    it, _ = batches(path)
    summary = ImportSummary()
    row = 1
    for batch in it:
        readings = convert(batch, mapping, row, summary)
        if readings:
            write(readings)
        row += batch.num_rows
        if progress is not None:
            progress(batch.num_rows if path.suffix.lower() in (".parquet", ".pq") else batch.nbytes)
    return summary


def _floats(column: pa.Array) -> list[Any]:
    if pa.types.is_integer(column.type) or pa.types.is_floating(column.type):
        return column.cast(pa.float64()).to_pylist()
    return [_float(v) for v in column.cast(pa.string()).to_pylist()]


def _float(text: str | None) -> Any:
    if text is None or text == "":
        return None
    try:
        return float(text)
    except ValueError:
        return text  # not a number: rejected with a reason by the caller


def _timestamps(column: pa.Array, fmt: str) -> list[int | None]:
    if pa.types.is_timestamp(column.type):
        return pc.cast(pc.cast(column, pa.timestamp("ms")), pa.int64()).to_pylist()
    if pa.types.is_integer(column.type) or pa.types.is_floating(column.type):
        scale = {"ms": 1, "s": 1000, "us": 0.001}.get(fmt)
        if scale is None:
            return [None] * len(column)
        return [None if v is None or not math.isfinite(v) else int(v * scale) for v in column.to_pylist()]
    return [_parse_ts(v, fmt) for v in column.cast(pa.string()).to_pylist()]


def _parse_ts(text: str | None, fmt: str) -> int | None:
    if not text:
        return None
    try:
        if fmt in ("ms", "s", "us"):
            return int(float(text) * {"ms": 1, "s": 1000, "us": 0.001}[fmt])
        dt = datetime.fromisoformat(text.replace("Z", "+00:00")) if fmt == "iso" else datetime.strptime(text, fmt)
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)


def _is_location(lat: Any, lon: Any) -> bool:
    return isinstance(lat, float) and isinstance(lon, float) and -90 <= lat <= 90 and -180 <= lon <= 180
