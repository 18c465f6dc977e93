"""Sampled request payloads and shadow outputs, written to the store off the request path.

Records go to a bounded buffer that one thread flushes in bulk; when the store falls behind, new
records are dropped and counted, never waited for: recording must not slow the answers down.
Each record carries the request id, device and model version, the keys to join it later with the
ground truth (a failure, a label) that arrives for that device.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from typing import Any

from prognos.inference.metrics import Metrics
from prognos.store import Records

log = logging.getLogger(__name__)

PAYLOAD, SHADOW = "inference-payload", "inference-shadow"


class Recorder:
    def __init__(self, store: Records, metrics: Metrics, max_buffer: int = 20_000, interval: float = 0.5) -> None:
        self.store, self.metrics = store, metrics
        self._buffer: deque[tuple[str, str, dict[str, Any]]] = deque()
        self._max, self._interval = max_buffer, interval
        self._wake = threading.Event()
        self._stop = False
        self._thread: threading.Thread | None = None

    def add(self, kind: str, key: str, doc: dict[str, Any]) -> None:
        if len(self._buffer) >= self._max:
            self.metrics.recorded.labels(kind, "dropped").inc()
            return
        self._buffer.append((kind, key, doc))
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="prognos-recorder", daemon=True)
            self._thread.start()

    def flush(self) -> None:
        """Write everything buffered now (the thread does this every ``interval`` seconds)."""
        items = []
        while self._buffer:
            items.append(self._buffer.popleft())
        by_kind: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        for kind, key, doc in items:
            by_kind.setdefault(kind, []).append((key, doc))
        for kind, rows in by_kind.items():
            try:
                self.store.add_records(kind, rows)
                self.metrics.recorded.labels(kind, "written").inc(len(rows))
            except Exception as exc:  # the store is down: count the loss, keep serving
                log.error("could not record %d %s records: %s", len(rows), kind, exc)
                self.metrics.recorded.labels(kind, "dropped").inc(len(rows))

    def close(self) -> None:
        self._stop = True
        self._wake.set()
        if self._thread:
            self._thread.join(10)
        self.flush()

    def _loop(self) -> None:
        while not self._stop:
            self._wake.wait(self._interval)
            self.flush()
