"""Real-time scoring: accepted readings → per-device windows → batched inference → signals → rules.

Each device type is assigned model names; for each (device, model) a `features.stream.Windower`
builds the model's windows one reading at a time exactly as training built them offline (same grid and
phase, same hold, same scaler from the card; windows touching a gap are skipped, as offline). Windows that
complete together — across devices — go to the model's batcher as one request, so a thousand devices
cost a handful of ONNX Runtime calls. The version that scores a device is the one the deployments
route it to (champion, or canary for its share of devices); a shadow version, when the model has one,
scores the same windows and its predictions are stored beside the champion's, never acted on.

The run loop is a short pipeline: while one batch's windows are inferred on the batchers' threads, the
readings that arrived meanwhile are pushed into their windows on the loop (up to ``DEPTH`` batches
ahead). Within a batch every model's windows are submitted at once, the input drift is measured while
they compute, and each model's predictions go through the rules as its answer comes, in a fixed order.
Rules see the batches in the order they arrived whatever order their inference ends in, so an alert
opens and resolves exactly as scoring the batches one by one would have it.

Policy for late and out-of-order readings: a reading for a grid cell already closed for that device
is not scored (the windower counts it in ``late``); it is stored all the same, so offline retraining
and evaluation see it. Within the open cell order does not matter, and a repeated ``(ts, sensor)``
counts once, as the store keeps it once.

Predictions are stored as readings of the device under ``pred.<model>.<signal>`` keys, with
``pred.<model>.version`` (shadow: ``pred.<model>.shadow.…``): they chart beside the raw signals and
are queried like them. Signals are named in `prognos.stream.view`; data and prediction drift over the
model's recent windows fleet-wide (``drift.psi``, ``drift.pred.psi``, …; `prognos.features.drift`) join
them, and all of it goes through the rules.

A scorer can hand its state over to its next life: `checkpoint` gives each window's position (the
last grid cell scored) and the rule engine's state; `restore` takes them back and, given ``history``
(the store's read), rebuilds each device's window from stored readings the first time the device
speaks again, so scoring resumes at the next cell as if nothing had happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from prognos.act.actions import Actions
from prognos.act.alerts import Alerts
from prognos.act.rules import Engine, Transition
from prognos.errors import ConfigError, PrognosError
from prognos.features.grid import phase
from prognos.features.stream import HOLD, Windower
from prognos.inference.deployments import Deployments, Served
from prognos.stream.metrics import StreamMetrics
from prognos.stream.view import Recipe, View
from prognos.types import Reading, now_ms

log = logging.getLogger(__name__)

PREFIX = "pred."
History = Callable[[list[str], int, int, list[str]], Any]  # store.read_many → Arrow (device_id, ts, key, value)


def is_prediction(r: Reading) -> bool:
    return bool(r.values) and all(k.startswith(PREFIX) for k in r.values)


@dataclass
class Prediction:
    device_id: str
    ts: int  # the window's end
    model: str
    version: int
    signals: dict[str, Any]
    explanation: dict[str, Any] = field(default_factory=dict)
    output: Any = field(default=None, repr=False)  # the model's output row, for `explain`
    view: View | None = field(default=None, repr=False)
    stored: dict[str, float] = field(default_factory=dict, repr=False)  # extra values to keep (fresh drift)

    def explain(self) -> dict[str, Any]:
        """The explanation with the top sensors (computed now: most predictions never need it)."""
        return {**(self.view.explain(self.output) if self.view is not None else {}), **self.explanation}


_Step = tuple["View", "View | None", Callable[..., list[tuple[int, np.ndarray]]]]  # a view, its shadow, the push
_Pending = dict[int, tuple["View", "View | None", list[tuple[str, int, np.ndarray]]]]  # windows by served version
DEPTH = 2  # batches pushed ahead of the one being decided


@dataclass
class _Job:
    """One served version's windows of a batch, submitted; what is known of them before the answer."""

    view: View
    items: list[tuple[str, int, np.ndarray]]
    feed: dict[str, np.ndarray]
    answer: asyncio.Future[Any] | None  # None: not taken (logged)
    shadow: bool
    drifts: dict[str, float] = field(default_factory=dict)
    fresh: bool = False


@dataclass
class _Slot:
    """One (device, model) window and the recipe it was built with."""

    recipe: Recipe
    windower: Windower


class Scorer:
    def __init__(
        self,
        deployments: Deployments,
        assignments: Mapping[str | None, Sequence[str]],
        device_type: Callable[[str], str | None] = lambda device_id: None,
        store_predictions: Callable[[list[Reading]], Any] | None = None,
        engine: Engine | None = None,
        alerts: Alerts | None = None,
        actions: Actions | None = None,
        history: History | None = None,
        tick: float = 1.0,
        metrics: StreamMetrics | None = None,
        durable: bool = False,
        events: Any = None,
    ) -> None:
        self.deployments, self.assignments = deployments, {k: list(v) for k, v in assignments.items()}
        self.device_type, self.store_predictions = device_type, store_predictions
        self.engine, self.alerts, self.actions = engine, alerts, actions
        self.history, self.tick, self.metrics = history, tick, metrics
        # durable: `score` returns only once its predictions are stored (a worker acknowledges its input then);
        # else the write goes on behind, and scoring never waits on a store busy with ingest.
        self.durable = durable
        self.events = events  # told what was scored and which alerts moved (`prognos.server.events.Hub`)
        watched = {r.when.signal for r in engine.rules} if engine else set()
        self._raw = any(s.startswith("raw.") for s in watched)  # raw.<sensor> signals only when a rule reads one
        self._drifts = {s for s in watched if s.startswith("drift.")} | {
            "drift.psi",
            "drift.ks",
            "drift.pred.psi",
            "drift.pred.ks",
        }
        self._slots: dict[tuple[str, str], _Slot] = {}
        self._positions: dict[tuple[str, str], tuple[Recipe, int]] = {}  # restored, not yet rebuilt
        self._types: dict[str, str | None] = {}
        self._names = sorted({name for names in self.assignments.values() for name in names})
        self._routes: tuple[int, ...] = ()  # identity of every model's route when the plans were made
        self._plans: dict[str, list[_Step]] = {}
        self._views: weakref.WeakKeyDictionary[Served, View] = weakref.WeakKeyDictionary()  # gone with the version
        self._queue: asyncio.Queue[tuple[float, list[Reading]]] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._changes: asyncio.Queue[list[tuple[Transition, dict[str, Any]]]] | None = None
        self._recording = False
        self._pending_changes: list[tuple[Transition, dict[str, Any]]] = []  # durable: recorded before done
        self._deciding: deque[asyncio.Task[None]] = deque()  # batches pushed, their inference and rules to come
        self.scored = 0
        if metrics is not None:
            metrics.watch(lambda: self.backlog, lambda: self.late)

    # -- life -------------------------------------------------------------------------------------
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._queue = asyncio.Queue()
        self._changes = asyncio.Queue()
        self._tasks = [
            asyncio.create_task(self._run(), name="stream scorer"),
            asyncio.create_task(self._recorder(), name="stream alerts"),
        ]
        if self.engine is not None and self.tick > 0:
            self._tasks.append(asyncio.create_task(self._ticker(), name="stream escalations"))

    async def close(self) -> None:
        if self._deciding:
            await asyncio.wait(list(self._deciding), timeout=10)  # batches already pushed are decided
        deadline = time.monotonic() + 10
        while (
            self._recording or (self._changes is not None and not self._changes.empty())
        ) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)  # the alerts already decided are recorded (and the store used) before the end
        for task in [*self._tasks, *self._deciding]:  # what came in since stays undecided
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.actions:
            self.actions.close()

    def feed(self, readings: Sequence[Reading], arrived: float | None = None) -> None:
        """Thread-safe: readings in, with the time.perf_counter() the oldest of them arrived (the decision's latency
        counts from there). The scorer's own predictions are stored without coming back here. The server feeds
        what it accepted while the commit runs, so no decision waits on the disk: should the commit fail, the
        sender sends again, and a repeat is applied once (the windows keep one value per instant and sensor; a
        cell already closed takes nothing late)."""
        if readings and self._loop is not None and self._queue is not None:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, (arrived or time.perf_counter(), list(readings)))

    @property
    def backlog(self) -> int:
        """Batches of readings waiting to be scored, and batches of alert transitions waiting to be recorded."""
        return sum(q.qsize() for q in (self._queue, self._changes) if q is not None)

    @property
    def late(self) -> int:
        return sum(s.windower.late for s in self._slots.values())

    async def _run(self) -> None:
        """A pipeline: while one batch's windows are being inferred on the batchers' threads, the next batch is
        pushed on the loop; rules see the batches in the order they arrived."""
        assert self._queue is not None
        while True:
            first, batch = await self._queue.get()
            while not self._queue.empty():
                batch += self._queue.get_nowait()[1]
            try:
                jobs = self._start(await self._push(batch))
            except Exception:  # one bad batch must not stop scoring
                log.exception("scoring %d readings failed", len(batch))
                jobs = []
            before = self._deciding[-1] if self._deciding else None
            self._deciding.append(asyncio.create_task(self._decide(jobs, first, before)))
            while self._deciding and self._deciding[0].done():
                self._deciding.popleft()
            if len(self._deciding) > DEPTH:  # falling behind: push no further ahead of the decisions
                await asyncio.wait([self._deciding.popleft()])

    async def _decide(self, jobs: list[_Job], arrived: float, before: asyncio.Task[None] | None) -> None:
        try:
            predictions, shadows = await self._ruled(jobs, before)
            if self.metrics is not None:  # the latency of a batch that completed no window counts too
                self.metrics.decided(time.perf_counter() - arrived)
            await self._store(predictions, shadows)
        except Exception:
            log.exception("deciding on %d windows failed", sum(len(job.items) for job in jobs))

    async def _recorder(self) -> None:
        """Alert transitions into the store and their actions, in the order the rules decided them."""
        assert self._changes is not None
        while True:
            changes = await self._changes.get()
            while not self._changes.empty():
                changes += self._changes.get_nowait()
            self._recording = True
            try:
                await asyncio.to_thread(self._record, changes)
            except Exception:  # one failed write must not stop the recording of the rest
                log.exception("recording %d alert transitions failed", len(changes))
            finally:
                self._recording = False

    async def _ticker(self) -> None:
        assert self.engine is not None
        while True:
            await asyncio.sleep(self.tick)
            due = self.engine.tick(now_ms())
            if due and self.alerts is not None:
                try:
                    await asyncio.to_thread(self._record, [(t, {}) for t in due])
                except PrognosError as exc:
                    log.error("escalations not recorded: %s", exc)
            if due and self.metrics is not None:
                self.metrics.transitioned(due)

    # -- scoring ----------------------------------------------------------------------------------
    async def score(self, readings: Sequence[Reading]) -> list[Prediction]:
        """Push readings through the windows; score every window they complete; act on the signals."""
        predictions, shadows = await self._ruled(self._start(await self._push(readings)), None)
        await self._store(predictions, shadows)
        return predictions

    async def _push(self, readings: Sequence[Reading]) -> _Pending:
        """The readings into their devices' windows; the windows completed, by served version."""
        by_device: dict[str, list[Reading]] = {}
        for r in readings:
            found = by_device.get(r.device_id)
            if found is None:
                by_device[r.device_id] = [r]
            else:
                found.append(r)
        routes = tuple(map(id, map(self.deployments.routes.get, self._names)))
        if routes != self._routes:  # a swap, a canary, a shadow: every device's plan is looked up again
            self._plans.clear()
            self._routes = routes
        new = [device for device in by_device if device not in self._plans]
        fresh = await self._plan(new, {device: min(r.ts for r in by_device[device]) for device in new}) if new else {}
        pending: _Pending = {}
        for device, rs in by_device.items():
            if len(rs) > 1:
                rs.sort(key=_ts)  # stable: the arrival order within an instant stays
            for view, shadow, push in self._plans.get(device) or fresh.get(device) or []:
                items = None
                for r in rs:
                    for end, x in push(r.ts, r.values):  # never a window touching a gap: offline skips those too
                        if items is None:
                            items = pending.setdefault(id(view.served), (view, shadow, []))[2]
                        items.append((device, end, x))
        return pending

    def _start(self, pending: _Pending) -> list[_Job]:
        """Every served version's windows submitted at once — a large batch starts computing on its batcher's
        thread now — and, while they compute, the input drift of each."""
        jobs = []
        for view, shadow, items in pending.values():
            jobs.append(self._submit(view, items, shadow=False))
            if shadow is not None and shadow.recipe() == view.recipe():
                jobs.append(self._submit(shadow, items, shadow=True))
        for job in jobs:
            if not job.shadow and job.answer is not None:
                job.drifts, job.fresh = job.view.input_drift(job.feed)
        return jobs

    def _submit(self, view: View, items: list[tuple[str, int, np.ndarray]], shadow: bool) -> _Job:
        feed = view.feed([x for _, _, x in items])
        try:
            answer = view.served.infer(feed)
        except PrognosError as exc:
            _not_scored(view, items, exc)
            answer = None
        return _Job(view, items, feed, answer, shadow)

    async def _ruled(
        self, jobs: list[_Job], before: asyncio.Task[None] | None
    ) -> tuple[list[Prediction], list[Prediction]]:
        """Each version's predictions as its answer comes, through the rules in a fixed order (the order of the
        jobs, after the batch ``before`` is decided: the order of arrival) — the first model's rules run while
        the others compute."""
        predictions: list[Prediction] = []
        shadows: list[Prediction] = []
        for job in jobs:
            made = await self._predictions(job)
            if job.shadow:
                shadows += made
                continue
            if before is not None:
                await asyncio.wait([before])
                before = None
            self._rules(made)
            predictions += made
        if before is not None:
            await asyncio.wait([before])
        self.scored += len(predictions)
        if predictions and self.events is not None:
            self.events.scored({p.device_id for p in predictions})
        return predictions, shadows

    async def _predictions(self, job: _Job) -> list[Prediction]:
        if job.answer is None:
            return []
        view, items = job.view, job.items
        try:
            result = await job.answer
        except PrognosError as exc:
            _not_scored(view, items, exc)
            return []
        y = result.outputs[0]
        drifts, fresh = job.drifts, job.fresh
        if not job.shadow:
            more, again = view.output_drift(y)
            drifts, fresh = drifts | more, fresh or again
        if self.metrics is not None:
            self.metrics.scored(view.name, view.version, len(items), drifts)
        common = {k: v for k, v in drifts.items() if k in self._drifts}
        span = (view.window - 1) * view.step
        out = []
        for i, ((device, end, x), signals) in enumerate(zip(items, view.signals(y), strict=True)):
            if common:
                signals |= common
            if self._raw:
                signals |= view.raw(x)
            out.append(
                Prediction(device, end, view.name, view.version, signals, {"window": [end - span, end]}, y[i], view)
            )
        if fresh and out:
            out[0].stored = drifts  # every drift figure, kept once per measurement rather than per window
        return out

    def _rules(self, predictions: list[Prediction]) -> None:
        """The rules on every prediction; the alert transitions they decide are recorded and acted on behind."""
        changes = []
        if self.engine is not None:
            for p in predictions:
                for t in self.engine.observe(p.device_id, p.ts, p.signals, self._types.get(p.device_id)):
                    changes.append((t, {**p.explain(), "model": p.model, "version": p.version}))
        if changes and self.alerts is not None:
            if self.durable or self._changes is None:
                self._pending_changes += changes  # recorded by `_store`, before the batch counts as done
            else:  # recorded and acted on behind scoring: a store busy with ingest never holds decisions up
                self._changes.put_nowait(changes)
        if changes and self.metrics is not None:
            self.metrics.transitioned(t for t, _ in changes)

    async def _store(self, predictions: list[Prediction], shadows: list[Prediction]) -> None:
        """The predictions into the store (and, when durable, the alert transitions) — after the decision."""
        if self._pending_changes:
            changes, self._pending_changes = self._pending_changes, []
            await asyncio.to_thread(self._record, changes)
        if not (predictions or shadows):
            return
        write = None
        if self.store_predictions is not None:
            rows = [_stored(p, "") for p in predictions] + [_stored(p, "shadow.") for p in shadows]
            write = self.store_predictions(rows)
        if isinstance(write, Future):
            if self.durable:
                await asyncio.wrap_future(write)
            else:
                write.add_done_callback(_log_failure)

    def _record(self, changes: list[tuple[Transition, dict[str, Any]]]) -> None:
        assert self.alerts is not None and self.engine is not None
        rules = {r.name: r for r in self.engine.rules}
        for t, why in changes:
            alert = self.alerts.apply(t, why)
            if self.events is not None:
                self.events.publish(
                    "alert",
                    {
                        "id": alert.id,
                        "kind": t.kind,
                        "device_id": alert.device_id,
                        "rule": alert.rule,
                        "severity": alert.severity,
                        "state": alert.state,
                    },
                )
            if self.actions is not None and rules[t.rule].actions:
                try:
                    self.actions.run(alert, t.kind, rules[t.rule].actions)
                except PrognosError as exc:
                    log.error("alert %s: actions failed: %s", alert.id, exc)

    async def _plan(self, devices: list[str], first: Mapping[str, int]) -> dict[str, list[_Step]]:
        """What scores each device — its models' versions (shadows too) and windows. Kept until the routes change,
        so a reading costs its window's push and little else; a device with a model not deployed (yet) is scored
        by the others now and looked up again with its next reading."""
        pairs = [(device, name) for device in devices for name in self._models_for(device)]
        views = await self._resolve(pairs)
        await self._rebuild(views, first)
        plans: dict[str, list[_Step]] = {device: [] for device in devices}
        missing = set()
        for device, name in pairs:
            found = views.get((device, name))
            if found is None:
                missing.add(device)
                continue
            view, shadow = found
            plans[device].append((view, shadow, self._slot(device, view).windower.push))
        self._plans.update((device, plan) for device, plan in plans.items() if device not in missing)
        return plans

    def _models_for(self, device_id: str) -> list[str]:
        if device_id not in self._types:
            self._types[device_id] = self.device_type(device_id)
        kind = self._types[device_id]
        return self.assignments.get(kind) or self.assignments.get(None) or []

    async def _resolve(self, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], tuple[View, View | None]]:
        out = {}
        known: dict[int, View] = {}  # this batch's views by version: a weak-map lookup per version, not per device
        for device, name in pairs:
            found = self.deployments.route(name, None, device)  # the routes in hand: no await per device
            try:
                served, shadow = found or await self.deployments.resolve(name, None, device)
            except PrognosError:
                continue  # not deployed (yet): the device is scored once it is
            view = known.get(id(served))
            if view is None:
                view = known[id(served)] = self._view(served)
            out[device, name] = (view, self._view(shadow) if shadow is not None else None)
        return out

    def _view(self, served: Served) -> View:
        view = self._views.get(served)
        if view is None:
            view = self._views[served] = View(served)
        return view

    def _slot(self, device_id: str, view: View) -> _Slot:
        key = (device_id, view.name)
        found = self._slots.get(key)
        if found is None or found.recipe != view.recipe():  # a new version with another recipe starts afresh
            sensors, window, step = view.recipe()
            windower = Windower(list(sensors), window, step, offset=phase(device_id, step))
            found = self._slots[key] = _Slot(view.recipe(), windower)
        return found

    # -- state across restarts ----------------------------------------------------------------------
    def checkpoint(self) -> dict[str, Any]:
        """Where every window stands and what the rules remember: JSON for `restore`."""
        positions: dict[str, dict[str, list[Any]]] = {}
        for (device, model), (recipe, closed) in self._positions.items():  # restored, device silent since
            positions.setdefault(device, {})[model] = [list(recipe[0]), recipe[1], recipe[2], closed]
        for (device, model), slot in self._slots.items():
            if slot.windower.closed is not None:
                sensors, window, step = slot.recipe
                positions.setdefault(device, {})[model] = [list(sensors), window, step, slot.windower.closed]
        return {"positions": positions, "engine": self.engine.snapshot() if self.engine else []}

    def restore(self, doc: Mapping[str, Any], keep: Callable[[str], bool] = lambda device_id: True) -> None:
        """Take a checkpoint back (only the devices ``keep`` accepts); windows are rebuilt on first use."""
        for device, models in doc.get("positions", {}).items():
            if keep(device):
                for model, (sensors, window, step, closed) in models.items():
                    self._positions[device, model] = ((tuple(sensors), int(window), int(step)), int(closed))
        if self.engine is not None:
            self.engine.restore(r for r in doc.get("engine", []) if keep(r["device_id"]))

    async def _rebuild(
        self, views: Mapping[tuple[str, str], tuple[View, View | None]], first: Mapping[str, int]
    ) -> None:
        """Windows from the store: where a checkpoint left them, or (a device new to this scorer) up to the cell
        before its first reading here, so a restarted server scores at once rather than after a window's time."""
        if self.history is None:
            return
        todo = []
        for (device, name), (view, _) in views.items():
            if (device, name) in self._positions:
                recipe, closed = self._positions.pop((device, name))
                if recipe == view.recipe():  # else: start afresh
                    todo.append((device, view, closed))
            elif (device, name) not in self._slots:
                todo.append((device, view, (first[device] - phase(device, view.step)) // view.step - 1))
        if todo:
            for (device, view), windower in (await asyncio.to_thread(self._rebuilt, todo)).items():
                self._slots[device, view.name] = _Slot(view.recipe(), windower)

    def _rebuilt(self, todo: list[tuple[str, View, int]]) -> dict[tuple[str, View], Windower]:
        """Windows as they stood: stored readings up to each open cell pushed again (their windows were scored).
        One store query per recipe, however many devices."""
        assert self.history is not None
        out = {}
        for recipe in {v.recipe() for _, v, _ in todo}:
            sensors, window, step = recipe
            group = [(d, v, closed) for d, v, closed in todo if v.recipe() == recipe]
            lo = min(closed for _, _, closed in group) - window - HOLD + 1
            hi = max(closed for _, _, closed in group) + 3  # the open cell, and a step for the devices' phases
            table = self.history([d for d, _, _ in group], lo * step, hi * step, list(sensors))
            found = _by_device(table, list(sensors))
            empty = (np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0))
            for device, view, closed in group:
                ts, col, val = found.get(device, empty)
                out[device, view] = Windower.resume(
                    list(sensors), window, step, closed, ts, col, val, offset=phase(device, step)
                )
        return out


def _not_scored(view: View, items: Sequence[Any], exc: PrognosError) -> None:
    log.error("%s: %d windows not scored: %s", view.served.model.label, len(items), exc)


def _ts(r: Reading) -> int:
    return r.ts


def _log_failure(write: Future[Any]) -> None:
    if write.exception() is not None:
        log.error("predictions not stored: %s", write.exception())


def _stored(p: Prediction, role: str) -> Reading:
    head = f"{PREFIX}{p.model}.{role}"
    values = {
        f"{head}{k}": float(v)
        for k, v in (p.signals | p.stored).items()
        if type(v) in (int, float) and not k.startswith("raw.")
    }
    return Reading(p.device_id, p.ts, {f"{head}version": float(p.version), **values})


def _by_device(table: Any, sensors: list[str]) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """An Arrow (device_id, ts, key, value) table ordered by device → per device, arrays (ts, sensor index, value)."""
    if not table.num_rows:
        return {}
    devices = table.column("device_id").combine_chunks().dictionary_encode()
    keys = table.column("key").combine_chunks().dictionary_encode()
    index = np.array([sensors.index(k) for k in keys.dictionary.to_pylist()])
    col = index[keys.indices.to_numpy()]
    ts, val = table.column("ts").to_numpy(), table.column("value").to_numpy()
    codes = devices.indices.to_numpy()
    bounds = np.flatnonzero(np.diff(codes)) + 1  # ordered by device: each device one run
    names = devices.dictionary.to_pylist()
    return {
        names[codes[a]]: (ts[a:b], col[a:b], val[a:b])
        for a, b in zip(np.r_[0, bounds], np.r_[bounds, len(codes)], strict=True)
    }


def parse_assignments(text: str) -> dict[str | None, list[str]]:
    """``"pump=pump-anomaly,pump-rul;*=generic"`` → {"pump": [...], None: ["generic"]}; a bare list: every type."""
    out: dict[str | None, list[str]] = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        kind, eq, names = part.rpartition("=") if "=" in part else ("*", "", part)
        models = [n.strip() for n in names.split(",") if n.strip()]
        if not models or (eq and not kind.strip()):
            raise ConfigError(f"--stream {text!r}: {part!r} should read TYPE=MODEL[,MODEL] or *=MODEL")
        out[None if kind.strip() == "*" else kind.strip()] = models
    return out
