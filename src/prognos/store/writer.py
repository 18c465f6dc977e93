"""Group commit: one writer thread turns many small submissions into few large transactions.

HTTP requests and MQTT messages each `submit` their readings and get a future that completes
once the readings are durable (the store's transaction committed), so a transport acknowledges
only what is stored. A ``forward`` step (the stream bus) runs after the commit and before any
acknowledgement: if it fails, the transports do not acknowledge and the device sends again (the
store keeps one copy), so what is acknowledged has been both stored and forwarded.

While one transaction runs, new submissions queue up and go in together
with the next: the batch grows with the load and the latency of a quiet system stays one commit.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass

from prognos.errors import Overloaded, PrognosError, StoreUnavailable
from prognos.priority import lower_priority
from prognos.store.base import Telemetry
from prognos.types import Reading, now_ms, to_iso

log = logging.getLogger(__name__)

REFUSE_MS = 1000  # after a failed write, new submissions are refused at once for this long (not with block)


Done = Callable[[BaseException | None], None]


@dataclass
class WriterStats:
    readings: int = 0
    values: int = 0
    batches: int = 0
    failures: int = 0
    forward_failures: int = 0
    pending: int = 0
    last_error: str | None = None
    failing_since: int | None = None  # epoch ms of the first failed write since the last one that succeeded
    failed_at: int | None = None  # epoch ms of the last failed write


class BatchWriter:
    def __init__(
        self,
        store: Telemetry,
        max_batch: int = 50_000,
        max_pending: int = 1_000_000,
        forward: Callable[[list[Reading]], None] | None = None,
    ) -> None:
        self.store = store
        self.forward = forward
        self.max_batch = max_batch
        self.max_pending = max_pending
        self.stats = WriterStats()
        self._queue: deque[tuple[Sequence[Reading], Done, float]] = deque()
        self._cond = threading.Condition()
        self._closed = False
        # Told of every accepted submission on the submitting thread, before it is durable (the stream scorer:
        # a decision need not wait for the disk), with the time.perf_counter() of its arrival.
        self.taps: list[Callable[[Sequence[Reading], float], None]] = []
        # Told of every committed batch, with the time.perf_counter() its oldest reading was submitted.
        self.listeners: list[Callable[[list[Reading], float], None]] = []
        self._thread = threading.Thread(target=self._run, name="prognos-writer", daemon=True)
        self._thread.start()

    def submit(
        self, readings: Sequence[Reading], block: bool = False, timeout: float | None = None, tap: bool = True
    ) -> Future[int]:
        """Queue readings; the future gives the number of values once they are durable.

        When more than ``max_pending`` readings wait, raise `Overloaded` (or wait, with ``block``).
        ``tap=False`` keeps them from the `taps` (the scorer's own predictions).
        """
        fut: Future[int] = Future()
        values = sum(len(r.values) for r in readings)

        def done(error: BaseException | None) -> None:
            fut.set_result(values) if error is None else fut.set_exception(error)

        self.submit_then(readings, done, block, timeout, tap)
        return fut

    def submit_then(
        self,
        readings: Sequence[Reading],
        done: Done,
        block: bool = False,
        timeout: float | None = None,
        tap: bool = True,
    ) -> None:
        """Queue readings; ``done(None)`` runs on the writer thread once they are durable, ``done(error)`` if not.

        The lean form of `submit` for transports that acknowledge per message (no future per message).
        """
        if not block:
            self._refuse_while_down()
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self.stats.pending + len(readings) > self.max_pending and self.stats.pending:
                if not block:
                    raise Overloaded(f"{self.stats.pending} readings are waiting for the store; retry later")
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise Overloaded("timed out waiting for the store")
                self._cond.wait(remaining)
            if self._closed:
                raise PrognosError("the writer is closed")
            arrived = time.perf_counter()
            self._queue.append((readings, done, arrived))
            self.stats.pending += len(readings)
            self._cond.notify_all()
        for told in self.taps if tap else ():
            try:
                told(readings, arrived)
            except Exception:
                log.exception("a submission tap failed")

    def _refuse_while_down(self) -> None:
        """While writes fail, answer at once (503) instead of queueing behind a store that is away — for a second
        after each failure; then submissions are taken again, so the next write finds out whether it is back."""
        s = self.stats
        if s.failing_since is not None and s.failed_at is not None and now_ms() - s.failed_at < REFUSE_MS:
            raise StoreUnavailable(
                f"the store is failing (since {to_iso(s.failing_since)}): {s.last_error}; retry later"
            )

    @property
    def alive(self) -> bool:
        """The writer's thread runs (until `close`)."""
        return self._thread.is_alive() or self._closed

    def close(self, timeout: float = 30.0) -> None:
        """Write what is queued, then stop."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout)

    def _run(self) -> None:
        lower_priority()  # readings are scored as they are accepted (taps): the commit can wait for a burst's windows
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if not self._queue:
                    return
                batch: list[Reading] = []
                callbacks: list[Done] = []
                n, oldest = 0, self._queue[0][2]
                while self._queue and (n == 0 or n + len(self._queue[0][0]) <= self.max_batch):
                    readings, done, _ = self._queue.popleft()
                    batch.extend(readings)
                    callbacks.append(done)
                    n += len(readings)
            self._commit(batch, callbacks, oldest)

    def _commit(self, batch: list[Reading], callbacks: list[Done], submitted: float = 0.0) -> None:
        try:
            self.store.write(batch)
        except Exception as exc:  # the store failed: every waiting transport must hear it
            log.error("store write of %d readings failed: %s", len(batch), exc)
            self.stats.failures += 1
            self.stats.last_error = str(exc)
            self.stats.failed_at = now_ms()
            self.stats.failing_since = self.stats.failing_since or self.stats.failed_at
            outcome: BaseException | None = exc
        else:
            outcome = None
            self.stats.failing_since = None
            self.stats.batches += 1
            self.stats.readings += len(batch)
            self.stats.values += sum(len(r.values) for r in batch)
            if self.forward is not None:
                try:
                    self.forward(batch)
                except Exception as exc:  # stored but not forwarded: no acknowledgement, the sender retries
                    log.error("forwarding %d committed readings failed: %s", len(batch), exc)
                    self.stats.forward_failures += 1
                    self.stats.last_error = str(exc)
                    outcome = exc
        with self._cond:
            self.stats.pending -= len(batch)
            self._cond.notify_all()
        for done in callbacks:  # in submission order, so per-message acknowledgements keep their order
            try:
                done(outcome)
            except Exception:
                log.exception("a write callback failed")
        if outcome is None:
            for listen in self.listeners:  # told only what is durable (the scorer uses the taps)
                try:
                    listen(batch, submitted)
                except Exception:
                    log.exception("a commit listener failed")
