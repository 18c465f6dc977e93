"""Adaptive batching: concurrent requests to one model share one ONNX Runtime call.

The batcher waits for more requests only while more are arriving: after the first, it lets the event
loop turn; if a turn brought nothing new, the batch goes now (an idle server adds no delay), else it
keeps gathering until ``max_batch`` rows or ``max_delay`` seconds after the first request. The queue
is bounded: past ``max_queue`` waiting requests a new one is refused at once (Overloaded, 503) rather
than left to wait without limit.

Compute runs on the event loop thread when the batch is small: on a small model one ORT call costs less
than a thread hand-off, and the loop reads the next requests off the sockets while the queue is being
emptied. A batch of ``OFFLOAD_ROWS`` rows or more (the stream scorer's windows of a whole fleet) runs on
the batcher's own thread instead: ONNX Runtime lets go of the GIL, so the loop keeps answering meanwhile
and the batchers of several models compute at once on several cores. Such a request, arriving to an empty
queue, needs no company: `submit` hands it to the thread at once, so its compute starts while the caller is
still running (the scorer keeps building the next windows meanwhile) rather than at the loop's next turn.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from prognos.errors import ModelNotReady, Overloaded

Run = Callable[[Mapping[str, np.ndarray]], list[np.ndarray]]
OFFLOAD_ROWS = 128


@dataclass(frozen=True)
class BatchOptions:
    max_batch: int = 64  # rows per ORT call
    max_delay: float = 0.002  # seconds the first request of a batch may wait for company
    max_queue: int = 1024  # requests waiting; beyond it, refuse


@dataclass(frozen=True)
class Result:
    outputs: list[np.ndarray]
    queue_s: float
    compute_s: float
    batch_rows: int


@dataclass
class _Item:
    feed: Mapping[str, np.ndarray]
    rows: int
    key: tuple[tuple[int, ...], ...]  # every input's shape past the batch axis: only equal keys stack
    done: asyncio.Future[Result]
    queued: float = field(default_factory=time.perf_counter)


class Batcher:
    def __init__(
        self,
        run: Run,
        options: BatchOptions = BatchOptions(),
        batchable: bool = True,
        on_batch: Callable[[int, float], None] | None = None,
        label: str = "model",
    ) -> None:
        self._run, self.options, self.label = run, options, label
        self._batchable = batchable
        self._on_batch = on_batch
        self._queue: deque[_Item] = deque()
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._thread: ThreadPoolExecutor | None = None  # for large batches, made on the first
        self._direct: set[asyncio.Future[Any]] = set()  # large requests handed to the thread by `submit`
        self.in_flight = 0

    def submit(self, feed: Mapping[str, np.ndarray]) -> asyncio.Future[Result]:
        """Queue one request's feed; the future resolves with its rows of every output."""
        if self._closing:
            raise ModelNotReady(f"{self.label} is being unloaded")
        if len(self._queue) >= self.options.max_queue:
            raise Overloaded(f"{self.label}: {len(self._queue)} requests are queued (max_queue); retry later")
        loop = asyncio.get_running_loop()
        if self._task is None:
            self._wake = asyncio.Event()
            self._task = loop.create_task(self._work(), name=f"batcher {self.label}")
        first = next(iter(feed.values()))
        rows = first.shape[0] if self._batchable and first.ndim else 1
        key = tuple(a.shape[1:] for a in feed.values()) if self._batchable else ((id(feed),),)
        item = _Item(feed, rows, key, loop.create_future())
        if rows >= OFFLOAD_ROWS and self._batchable and not self._queue:  # a batch by itself: compute now
            self._offload(loop, item)
            return item.done
        self._queue.append(item)
        assert self._wake is not None
        self._wake.set()
        return item.done

    def _offload(self, loop: asyncio.AbstractEventLoop, item: _Item) -> None:
        """One large request on the batcher's thread, started now; its future is set back on the loop."""
        work = loop.run_in_executor(self._pool(), self._compute, [item])
        self._direct.add(work)

        def done(w: asyncio.Future[Any]) -> None:
            self._direct.discard(w)
            if not w.cancelled():
                self._finish([item], *w.result())

        work.add_done_callback(done)

    def _pool(self) -> ThreadPoolExecutor:
        if self._thread is None:
            self._thread = ThreadPoolExecutor(1, thread_name_prefix=f"batcher-{self.label}")
        return self._thread

    async def close(self) -> None:
        """Stop taking requests, finish the ones queued (drain), then stop."""
        self._closing = True
        if self._direct:
            await asyncio.wait(list(self._direct))
        if self._task is None:
            return
        assert self._wake is not None
        self._wake.set()
        await self._task
        if self._thread is not None:
            self._thread.shutdown(wait=False)

    @property
    def queued(self) -> int:
        return len(self._queue)

    async def _work(self) -> None:
        assert self._wake is not None
        while True:
            if not self._queue:
                if self._closing:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            await self._gather()
            batch = self._take()
            if sum(i.rows for i in batch) < OFFLOAD_ROWS:
                self._finish(batch, *self._compute(batch))
            else:
                loop = asyncio.get_running_loop()
                self._finish(batch, *await loop.run_in_executor(self._pool(), self._compute, batch))
            await asyncio.sleep(0)  # let the answered requests write their responses

    async def _gather(self) -> None:
        """Let the loop turn while requests keep coming, within max_batch rows and max_delay seconds."""
        if not self._batchable or self.options.max_delay <= 0:
            return
        deadline = self._queue[0].queued + self.options.max_delay
        quiet = 0
        while quiet < 2 and self._rows() < self.options.max_batch and time.perf_counter() < deadline:
            before = len(self._queue)
            await asyncio.sleep(0)
            quiet = quiet + 1 if len(self._queue) == before else 0

    def _rows(self) -> int:
        return sum(i.rows for i in self._queue)

    def _take(self) -> list[_Item]:
        """The oldest request, and as many later ones of the same shape as fit in max_batch rows."""
        first = self._queue.popleft()
        batch, rows = [first], first.rows
        if not self._batchable:
            return batch
        keep: list[_Item] = []
        while self._queue and rows < self.options.max_batch:
            item = self._queue.popleft()
            if item.key == first.key and rows + item.rows <= self.options.max_batch:
                batch.append(item)
                rows += item.rows
            else:
                keep.append(item)
        self._queue.extendleft(reversed(keep))
        return batch

    def _compute(self, batch: list[_Item]) -> tuple[list[list[np.ndarray]] | Exception, float, float]:
        """Every request's outputs (or the exception that failed them), when it started, and how long it took.
        Touches no future: it may run off the loop."""
        started = time.perf_counter()
        try:
            if len(batch) == 1:
                outputs = [self._run(batch[0].feed)]
            else:
                names = list(batch[0].feed)
                stacked = {n: np.concatenate([i.feed[n] for i in batch]) for n in names}
                ys = self._run(stacked)
                cuts = np.cumsum([i.rows for i in batch])[:-1]
                outputs = [list(parts) for parts in zip(*(np.split(y, cuts) for y in ys), strict=True)]
        except Exception as exc:  # a failing batch fails its own requests, never the batcher
            return exc, started, 0.0
        return outputs, started, time.perf_counter() - started

    def _finish(
        self, batch: list[_Item], outputs: list[list[np.ndarray]] | Exception, started: float, compute: float
    ) -> None:
        if isinstance(outputs, Exception):
            for item in batch:
                if not item.done.done():
                    item.done.set_exception(outputs)
            return
        rows = sum(i.rows for i in batch)
        if self._on_batch:
            self._on_batch(rows, compute)
        for item, out in zip(batch, outputs, strict=True):
            if not item.done.done():  # the client may have gone away
                item.done.set_result(Result(out, started - item.queued, compute, rows))
