"""Real-time scoring: accepted readings → per-device windows → batched inference → predictions → the sink.

The `Planner` says which versions score each device and on which window (`prognos.stream.plan`); each reading
is pushed into its device's windows, exactly as training built them offline (same grid and phase, same hold,
same scaler from the card; windows touching a gap are skipped, as offline). Windows that complete together —
across devices — go to the model's batcher as one request (`prognos.stream.predictions.Job`), so a thousand
devices cost a handful of ONNX Runtime calls; a shadow version scores the same windows beside the one routed,
stored, never acted on. Every model's windows are submitted before any answer is awaited, the input drift is
measured while they compute, and each model's predictions go to the sink as its answer comes, in a fixed order.
Fed readings run through a short pipeline (`prognos.stream.runner`) that decides batches in arrival order.

Late and out-of-order readings: a reading for a grid cell already closed for that device is not scored (counted
in `late`); it is stored all the same, so offline retraining and evaluation see it. Within the open cell order
does not matter, and a repeated ``(ts, sensor)`` counts once, as the store keeps it once.

Predictions are stored as readings of the device (`Prediction.reading`); signals are named in
`prognos.stream.view`; data and prediction drift over the model's recent windows fleet-wide (``drift.psi``,
``drift.pred.psi``, …) join them. A scorer hands its state to its next life: `checkpoint` gives where every
window stands and what the sink remembers, `restore` takes them back (windows rebuilt from the store).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from typing import Any

from prognos.errors import PrognosError
from prognos.stream.metrics import StreamMetrics
from prognos.stream.plan import Planner
from prognos.stream.predictions import Job, Prediction, Watch
from prognos.stream.runner import Runner
from prognos.stream.sink import Sink
from prognos.types import Reading

log = logging.getLogger(__name__)

Keep = Callable[[list[Reading]], Any]  # the predictions' readings into the store (a future, or None)


class Scorer:
    def __init__(
        self,
        plan: Planner,
        sink: Sink | None = None,
        keep: Keep | None = None,
        durable: bool = False,
        metrics: StreamMetrics | None = None,
        on_scored: Callable[[set[str]], None] | None = None,
    ) -> None:
        self.plan, self.sink, self.keep = plan, sink, keep
        # durable: `score` returns only once its predictions are stored and its decisions recorded (a worker
        # acknowledges its input then); else the writes go on behind, and scoring never waits on a busy store.
        self.durable = durable
        self.metrics, self.on_scored = metrics, on_scored
        self.watch = Watch.of(sink.signals if sink else frozenset())
        self.runner: Runner[list[Job]] = Runner(self._start, self._finish)
        self.scored = 0
        if metrics is not None:
            metrics.watch(lambda: self.backlog, lambda: self.late)

    async def start(self) -> None:
        await self.runner.start()
        if self.sink is not None:
            await self.sink.start()

    async def close(self) -> None:
        await self.runner.close()
        if self.sink is not None:
            await self.sink.close()

    def feed(self, readings: Sequence[Reading], arrived: float | None = None) -> None:
        """Thread-safe: readings in, with the time.perf_counter() the oldest of them arrived (the decision's latency
        counts from there). The server feeds what it accepted while the commit runs, so no decision waits on the
        disk: should the commit fail, the sender sends again, and a repeat is applied once."""
        self.runner.feed(readings, arrived)

    @property
    def backlog(self) -> int:
        """Batches of readings waiting to be scored."""
        return self.runner.backlog

    @property
    def late(self) -> int:
        return self.plan.windows.late

    def problems(self) -> list[str]:
        """What keeps this scorer from scoring every device it should, each with its reason (empty: nothing)."""
        stopped = self.runner.failure()
        return [*([stopped] if stopped else []), *self.plan.unserved()]

    async def score(self, readings: Sequence[Reading]) -> list[Prediction]:
        """Push readings through the windows; score every window they complete; hand the predictions on."""
        predictions, shadows = await self._decide(await self._start(list(readings)), None)
        await self._keep(predictions, shadows)
        return predictions

    def checkpoint(self) -> dict[str, Any]:
        """Where every window stands, each device's normal as it has learned it, and what the sink remembers: JSON for
        `restore`."""
        return {
            "positions": self.plan.windows.positions(),
            "engine": self.sink.snapshot() if self.sink else [],
            "trackers": self.plan.trackers(),
        }

    def restore(self, doc: Mapping[str, Any], keep: Callable[[str], bool] = lambda device_id: True) -> None:
        """Take a checkpoint back (only the devices ``keep`` accepts); windows are rebuilt on first use."""
        self.plan.windows.restore(doc.get("positions", {}), keep)
        self.plan.restore_trackers(doc.get("trackers", {}), keep)
        if self.sink is not None:
            self.sink.restore(r for r in doc.get("engine", []) if keep(r["device_id"]))

    # -- one batch --------------------------------------------------------------------------------------------
    async def _start(self, readings: list[Reading]) -> list[Job]:
        """The readings into their devices' windows; each version's completed windows submitted at once."""
        try:
            pending = await self.plan.push(readings)
        except Exception:  # one bad batch must not stop scoring
            log.exception("scoring %d readings failed", len(readings))
            return []
        jobs = []
        for view, shadow, items in pending.values():
            types = {device: self.plan.type_of(device) for device, _, _ in items}
            jobs.append(Job.submit(view, items, types, shadow=False))
            if shadow is not None and shadow.recipe() == view.recipe():
                jobs.append(Job.submit(shadow, items, types, shadow=True))
        for job in jobs:
            job.measure_inputs()  # while the models compute
        return jobs

    async def _decide(
        self, jobs: list[Job], before: asyncio.Task[None] | None
    ) -> tuple[list[Prediction], list[Prediction]]:
        """Each version's predictions as its answer comes, to the sink in a fixed order (the jobs', after the batch
        ``before`` is decided: the order of arrival) — the first model's rules run while the others compute."""
        predictions: list[Prediction] = []
        shadows: list[Prediction] = []
        for job in jobs:
            made = await job.predictions(self.watch, self.metrics)
            if job.shadow:
                shadows += made
                continue
            if before is not None:
                await asyncio.wait([before])
                before = None
            if self.sink is not None:
                self.sink.decide(made)
            predictions += made
        if before is not None:
            await asyncio.wait([before])
        self.scored += len(predictions)
        if predictions and self.on_scored is not None:
            self.on_scored({p.device_id for p in predictions})
        return predictions, shadows

    async def _finish(self, jobs: list[Job], arrived: float, before: asyncio.Task[None] | None) -> None:
        """A fed batch decided (after the one before it), its latency counted, its predictions kept."""
        try:
            predictions, shadows = await self._decide(jobs, before)
            if self.metrics is not None:  # the latency of a batch that completed no window counts too
                self.metrics.decided(time.perf_counter() - arrived)
            await self._keep(predictions, shadows)
        except Exception:
            log.exception("deciding on %d windows failed", sum(len(job.items) for job in jobs))

    async def _keep(self, predictions: list[Prediction], shadows: list[Prediction]) -> None:
        """The predictions into the store, after what the sink holds for the batch is recorded."""
        if self.sink is not None:
            await self.sink.settle()
        if not (predictions or shadows) or self.keep is None:
            return
        rows = [p.reading() for p in predictions] + [p.reading(shadow=True) for p in shadows]
        try:
            write = self.keep(rows)
        except PrognosError as exc:  # the store is away or full: a worker's batch waits for it, the server's goes on
            if self.durable:
                raise
            log.error("%d predictions not stored: %s", len(rows), exc)
            return
        if isinstance(write, Future):
            if self.durable:
                await asyncio.wrap_future(write)
            else:
                write.add_done_callback(_log_failure)


def _log_failure(write: Future[Any]) -> None:
    if write.exception() is not None:
        log.error("predictions not stored: %s", write.exception())
