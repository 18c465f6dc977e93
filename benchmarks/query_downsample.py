"""Downsampled chart query over 10M stored readings: DuckDB against PostgreSQL, and against no downsampling.

Stores 100 devices × 10 sensors × 10,000 timestamps (10M sensor readings over one day) in each
store, then times the chart query a dashboard makes: 1 device × 4 keys over the whole day at 500
points (avg per bucket). Baselines in the same run: the other store, and fetching the raw points to
the client and bucketing them there (what a chart without server-side downsampling would do).

    python benchmarks/query_downsample.py [--timestamps 10000] [--repeat 15]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import numpy as np
from _common import ensure_postgres, pg_schema
from tqdm import tqdm

from prognos.store import Agg, Store, open_store
from prognos.types import Reading

T0 = 1_767_225_600_000
DAY = 86_400_000
DEVICES, KEYS = 100, [f"s{i}" for i in range(10)]
QUERY_KEYS = KEYS[:4]


def load(store: Store, timestamps: int) -> None:
    step = DAY // timestamps
    rng = np.random.default_rng(0)
    with tqdm(total=DEVICES * timestamps * len(KEYS), unit="values", unit_scale=True, desc="load", leave=False) as bar:
        for t in range(0, timestamps, 1000):
            values = rng.normal(size=(DEVICES, min(1000, timestamps - t), len(KEYS))).round(4)
            batch = [
                Reading(f"dev-{d:03d}", T0 + (t + i) * step, dict(zip(KEYS, values[d, i].tolist(), strict=True)))
                for d in range(DEVICES)
                for i in range(values.shape[1])
            ]
            store.write(batch)
            bar.update(len(batch) * len(KEYS))


def timed(fn, repeat: int) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    fn()  # warm
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def client_side(store: Store, interval: int) -> dict[str, np.ndarray]:
    raw = store.read("dev-042", T0, T0 + DAY, QUERY_KEYS)
    ts, keys, vals = (raw.column(c).to_numpy(zero_copy_only=False) for c in ("ts", "key", "value"))
    out = {}
    for k in QUERY_KEYS:
        sel = keys == k
        b = ts[sel] // interval
        sums = np.bincount(b - b.min(), weights=vals[sel])
        out[k] = sums / np.maximum(np.bincount(b - b.min()), 1)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--timestamps", type=int, default=10_000)
    p.add_argument("--repeat", type=int, default=15)
    args = p.parse_args()
    total = DEVICES * len(KEYS) * args.timestamps
    interval = DAY // 500
    print(f"downsampled query over {total:,} stored readings: 1 device × {len(QUERY_KEYS)} keys, 1 day, 500 points")
    pg = ensure_postgres()
    results = {}
    with tempfile.TemporaryDirectory() as tmp, pg_schema(pg) as pg_url:
        for name, url in (("DuckDB", f"duckdb:///{tmp}/q.duckdb"), ("PostgreSQL", pg_url)):
            store = open_store(url)
            t = time.perf_counter()
            load(store, args.timestamps)
            load_s = time.perf_counter() - t
            q, table = timed(
                lambda s=store: s.downsample("dev-042", QUERY_KEYS, T0, T0 + DAY, interval, Agg.AVG), args.repeat
            )
            raw, _ = timed(lambda s=store: client_side(s, interval), max(3, args.repeat // 3))
            store.close()
            results[name] = q
            points = table.num_rows  # type: ignore[attr-defined]
            print(
                f"  {name:<10} load {total / load_s:>9,.0f} readings/s | chart query {q * 1000:7.1f} ms "
                f"({points} points) | raw fetch + client bucketing {raw * 1000:7.1f} ms | "
                f"server-side speed-up {raw / q:.1f}x"
            )
    print(f"  ratio PostgreSQL / DuckDB query time = {results['PostgreSQL'] / results['DuckDB']:.2f}")


if __name__ == "__main__":
    main()
