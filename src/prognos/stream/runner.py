"""The stream's run loop: readings fed from any thread, scored on the event loop as a short pipeline.

While one batch's windows are inferred on the batchers' threads, the readings that arrived meanwhile are pushed
into their windows (up to ``depth`` batches ahead). Each batch's decision waits for the one before it, so the
batches are decided in the order they arrived whatever order their inference ends in.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Generic, TypeVar

from prognos.aio import cancel
from prognos.types import Reading

log = logging.getLogger(__name__)

T = TypeVar("T")
DEPTH = 2  # batches pushed ahead of the one being decided

Start = Callable[[list[Reading]], Awaitable[T]]  # readings → their batch, its inference under way
Finish = Callable[
    [T, float, "asyncio.Task[None] | None"], Coroutine[None, None, None]
]  # batch, arrival, the one before


class Runner(Generic[T]):
    def __init__(self, start: Start[T], finish: Finish[T], depth: int = DEPTH) -> None:
        self._start, self._finish, self.depth = start, finish, depth
        self._queue: asyncio.Queue[tuple[float, list[Reading]]] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._deciding: deque[asyncio.Task[None]] = deque()  # batches pushed, their decisions to come

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._queue = asyncio.Queue()
        self._task = asyncio.create_task(self._run(), name="stream scorer")

    async def close(self) -> None:
        """Decide the batches already pushed (up to 10 s); what came in since stays undecided."""
        if self._deciding:
            await asyncio.wait(list(self._deciding), timeout=10)
        await cancel(self._task, *self._deciding)

    def feed(self, readings: Sequence[Reading], arrived: float | None = None) -> None:
        """Thread-safe: readings in, with the time.perf_counter() the oldest of them arrived."""
        if readings and self._loop is not None and self._queue is not None:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, (arrived or time.perf_counter(), list(readings)))

    @property
    def backlog(self) -> int:
        """Batches of readings waiting to be scored."""
        return self._queue.qsize() if self._queue is not None else 0

    def failure(self) -> str | None:
        """Why the run loop stopped, when it stopped on its own (it survives a bad batch; not a bug)."""
        task = self._task
        if task is None or not task.done() or task.cancelled():
            return None
        exc = task.exception()
        return f"the scoring loop stopped: {exc!r}" if exc else "the scoring loop stopped"

    async def _run(self) -> None:
        assert self._queue is not None
        while True:
            arrived, batch = await self._queue.get()
            while not self._queue.empty():
                batch += self._queue.get_nowait()[1]
            try:
                started = await self._start(batch)
            except Exception:  # one bad batch must not stop scoring
                log.exception("scoring %d readings failed", len(batch))
                continue
            before = self._deciding[-1] if self._deciding else None
            self._deciding.append(asyncio.create_task(self._finish(started, arrived, before)))
            while self._deciding and self._deciding[0].done():
                self._deciding.popleft()
            if len(self._deciding) > self.depth:  # falling behind: push no further ahead of the decisions
                await asyncio.wait([self._deciding.popleft()])
