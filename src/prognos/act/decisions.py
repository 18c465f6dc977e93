"""Decisions from the stream's predictions: the alert rules, the alerts kept in the store, the actions taken.

This is the `prognos.stream.sink.Sink` prognos wires into its scorers. The rule engine (`prognos.act.rules`) sees
every prediction's signals in the order the batches arrived and says which alerts open, escalate or resolve; the
transitions are recorded in the store (`prognos.act.alerts`) and their actions run (`prognos.act.actions`)
behind the scoring, on a thread, in the order decided — a store busy with ingest never holds a decision up —
or, when ``durable``, before the batch counts as done (`settle`: a worker acknowledges its input then). A ticker
escalates the alerts of devices that have gone quiet.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from prognos.act.actions import Actions
from prognos.act.alerts import Alerts
from prognos.act.rules import Engine, Transition
from prognos.aio import cancel
from prognos.errors import PrognosError
from prognos.stream.metrics import StreamMetrics
from prognos.stream.predictions import Prediction
from prognos.types import now_ms

log = logging.getLogger(__name__)

Change = tuple[Transition, dict[str, Any]]  # a transition and the explanation it is recorded with
Publish = Callable[[str, Any], None]  # told of every alert event (the server's live event stream)


class Decisions:
    def __init__(
        self,
        engine: Engine,
        alerts: Alerts,
        actions: Actions | None = None,
        durable: bool = False,
        tick: float = 1.0,
        metrics: StreamMetrics | None = None,
        publish: Publish | None = None,
    ) -> None:
        self.engine, self.alerts, self.actions = engine, alerts, actions
        self.durable, self.tick, self.metrics, self.publish = durable, tick, metrics, publish
        self.signals = frozenset(r.when.signal for r in engine.rules)
        self._rules = {r.name: r for r in engine.rules}
        self._queue: asyncio.Queue[list[Change]] | None = None  # to `_record_behind`
        self._pending: list[Change] = []  # recorded by `settle`
        self._recording = False
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        self._tasks = [asyncio.create_task(self._record_behind(), name="stream alerts")]
        if self.tick > 0:
            self._tasks.append(asyncio.create_task(self._ticker(), name="stream escalations"))

    async def close(self) -> None:
        """Record what was decided (up to 10 s), then stop."""
        deadline = time.monotonic() + 10
        while self._busy() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        await cancel(*self._tasks)
        if self.actions is not None:
            self.actions.close()

    def _busy(self) -> bool:
        return self._recording or (self._queue is not None and not self._queue.empty())

    def decide(self, predictions: Sequence[Prediction]) -> None:
        """The rules on every prediction; the alert transitions they decide are recorded and acted on behind."""
        changes = []
        for p in predictions:
            for t in self.engine.observe(p.device_id, p.ts, p.signals, p.device_type):
                changes.append((t, {**p.explain(), "model": p.model, "version": p.version}))
        if not changes:
            return
        if self.durable or self._queue is None:
            self._pending += changes  # recorded by `settle`, before the batch counts as done
        else:  # recorded and acted on behind scoring: a store busy with ingest never holds decisions up
            self._queue.put_nowait(changes)
        if self.metrics is not None:
            self.metrics.transitioned(t for t, _ in changes)

    async def settle(self) -> None:
        """Record what waits to be recorded before its batch counts as done (when durable, or not started)."""
        if self._pending:
            changes, self._pending = self._pending, []
            await asyncio.to_thread(self._apply, changes)

    def snapshot(self, keep: Callable[[str], bool] | None = None) -> list[dict[str, Any]]:
        return self.engine.snapshot(keep)

    def restore(self, rows: Iterable[Mapping[str, Any]]) -> None:
        self.engine.restore(rows)

    async def _record_behind(self) -> None:
        """Alert transitions into the store and their actions, in the order the rules decided them."""
        assert self._queue is not None
        while True:
            changes = await self._queue.get()
            while not self._queue.empty():
                changes += self._queue.get_nowait()
            self._recording = True
            try:
                await asyncio.to_thread(self._apply, changes)
            except Exception:  # one failed write must not stop the recording of the rest
                log.exception("recording %d alert transitions failed", len(changes))
            finally:
                self._recording = False

    async def _ticker(self) -> None:
        while True:
            await asyncio.sleep(self.tick)
            due = self.engine.tick(now_ms())
            if due:
                try:
                    await asyncio.to_thread(self._apply, [(t, {}) for t in due])
                except PrognosError as exc:
                    log.error("escalations not recorded: %s", exc)
                if self.metrics is not None:
                    self.metrics.transitioned(due)

    def _apply(self, changes: list[Change]) -> None:
        for t, why in changes:
            alert = self.alerts.apply(t, why)
            if self.publish is not None:
                self.publish("alert", alert.event(t.kind))
            actions = self._rules[t.rule].actions
            if self.actions is not None and actions:
                try:
                    self.actions.run(alert, t.kind, actions)
                except PrognosError as exc:
                    log.error("alert %s: actions failed: %s", alert.id, exc)
