"""HTTP batch ingest into DuckDB and PostgreSQL: sensor readings/s through the whole server path.

A separate client process posts pre-built gateway bodies (1,000 messages of 10 values each) over
``--connections`` keep-alive connections to ``prognos serve``; each 200 means durable. The baseline,
measured in the same run, is the store's own ``write()`` of the same readings in-process (no HTTP, no
JSON), so the ratio shows what the server path costs. A message is one device's values at one
instant; sensor readings/s (one value each: the unit of the issue's goal, and of ThingsBoard's quoted
5-10k points/s per node) is messages/s × 10.

    python benchmarks/ingest_http.py [--readings 300000] [--connections 4]
"""

from __future__ import annotations

import argparse
import http.client
import subprocess
import sys
import tempfile
import threading
import time

import orjson
from _common import Server, ensure_postgres, pg_schema

from prognos.store import open_store
from prognos.types import Reading

T0 = 1_767_225_600_000
DEVICES, KEYS, BATCH = 100, [f"s{i}" for i in range(10)], 1000


def readings(n: int, offset: int = 0) -> list[Reading]:
    out = []
    for i in range(n):
        k = i + offset
        out.append(
            Reading(
                f"dev-{k % DEVICES:03d}",
                T0 + (k // DEVICES) * 100,
                {key: (k * 7 + j) % 1000 / 10 for j, key in enumerate(KEYS)},
            )
        )
    return out


def bodies(n: int) -> list[bytes]:
    out = []
    for start in range(0, n, BATCH):
        doc: dict[str, list] = {}
        for r in readings(min(BATCH, n - start), start):
            doc.setdefault(r.device_id, []).append({"ts": r.ts, "values": r.values})
        out.append(orjson.dumps(doc))
    return out


def client(port: int, n: int, connections: int) -> None:
    """Runs in its own process: post every body, print the elapsed seconds."""
    todo = bodies(n)
    lock = threading.Lock()
    errors = []

    def worker() -> None:
        con = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while True:
            with lock:
                if not todo:
                    return
                body = todo.pop()
            con.request("POST", "/api/v1/telemetry", body, {"content-type": "application/json"})
            resp = con.getresponse()
            resp.read()
            if resp.status != 200:
                errors.append(resp.status)

    print("ready", flush=True)
    sys.stdin.readline()
    t = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    print(time.perf_counter() - t, len(errors), flush=True)


def over_http(store_url: str, n: int, connections: int) -> float:
    with Server(store_url) as server:
        proc = subprocess.Popen(
            [sys.executable, __file__, "--client", str(server.port), str(n), str(connections)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout and proc.stdin and proc.stdout.readline().strip() == "ready"
        proc.stdin.write("go\n")
        proc.stdin.flush()
        elapsed, errors = proc.stdout.readline().split()
        proc.wait()
        if int(errors):
            raise SystemExit(f"{errors} requests failed")
        stored = server.health()["writer"]["readings"]
        assert stored == n, (stored, n)
    return n / float(elapsed)


def direct(store_url: str, n: int) -> float:
    store = open_store(store_url)
    batches = [readings(min(BATCH * 10, n - s), s) for s in range(0, n, BATCH * 10)]
    t = time.perf_counter()
    for b in batches:
        store.write(b)
    elapsed = time.perf_counter() - t
    store.close()
    return n / elapsed


def main() -> None:
    if sys.argv[1:2] == ["--client"]:
        client(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
        return
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--readings", type=int, default=300_000)
    p.add_argument("--connections", type=int, default=4)
    args = p.parse_args()
    n = args.readings
    print(
        f"HTTP batch ingest: {n:,} messages × {len(KEYS)} values, gateway bodies of {BATCH} messages, "
        f"{args.connections} connections"
    )
    pg = ensure_postgres()
    for name in ("DuckDB", "PostgreSQL"):
        with tempfile.TemporaryDirectory() as tmp, pg_schema(pg) as pg_a, pg_schema(pg) as pg_b:
            urls = (f"duckdb:///{tmp}/a.duckdb", f"duckdb:///{tmp}/b.duckdb") if name == "DuckDB" else (pg_a, pg_b)
            base = direct(urls[0], n)
            rate = over_http(urls[1], n, args.connections)
        v = len(KEYS)
        print(
            f"  {name:<10} over HTTP {rate * v:>9,.0f} sensor readings/s ({rate:>7,.0f} messages of {v}) | "
            f"store.write() in-process {base * v:>9,.0f}/s | HTTP/direct {rate / base:.2f} | "
            f"vs goal 100k/s {rate * v / 1e5:.2f}"
        )
    print("  (a sensor reading is one value, as in the issue's 10M = 100 devices × 10 sensors × 10k timestamps)")


if __name__ == "__main__":
    main()
