"""kill -9 the server while clients post: every batch answered 200 is in the store, exactly once."""

from __future__ import annotations

import threading
import time

import httpx
import orjson

from prognos.store import open_store
from prognos.types import now_ms
from tests.services import ServerProcess

T = now_ms() - 3_600_000


def client(url: str, worker: int, acked: list[int], stop: threading.Event) -> None:
    """One of four clients posting readings; what was answered 200 goes into ``acked``."""
    with httpx.Client(base_url=url, timeout=10) as http:
        for i in range(worker, 100_000, 4):
            if stop.is_set():
                return
            body = {f"d-{i % 7}": [{"ts": T + i, "values": {"a": float(i), "b": 1.0}}]}
            try:
                r = http.post("/api/v1/telemetry", content=orjson.dumps(body))
            except httpx.HTTPError:
                return  # the server died under us: this one was never acknowledged
            if r.status_code == 200:
                acked.append(i)


def test_kill_9_loses_no_acknowledged_http_batch(tmp_path):
    url = f"duckdb:///{tmp_path}/k.duckdb"
    acked: list[int] = []
    stop = threading.Event()
    server = ServerProcess(url).__enter__()
    threads = [threading.Thread(target=client, args=(server.url, w, acked, stop)) for w in range(4)]
    for t in threads:
        t.start()
    while len(acked) < 300:
        time.sleep(0.005)
    server.kill()
    stop.set()
    for t in threads:
        t.join(30)
    server.__exit__()
    store = open_store(url)
    try:
        got: dict[int, int] = {}
        for d in range(7):
            for row in store.read(f"d-{d}", T, T + 100_000).to_pylist():
                got[row["ts"] - T] = got.get(row["ts"] - T, 0) + 1
    finally:
        store.close()
    assert set(acked) <= set(got), f"{len(set(acked) - set(got))} acknowledged batches lost"
    assert set(got.values()) == {2}  # both values of each reading, once
