"""Real-time scoring: committed readings → per-device windows → batched inference → signals → rules.

Each device type is assigned model names; for each (device, model) a `features.stream.Windower`
builds the model's windows one reading at a time exactly as training built them offline (same grid,
same hold, same scaler from the card; windows touching a gap are skipped, as offline). Windows that
complete together — across devices — go to the model's batcher as one request, so a thousand devices
cost a handful of ONNX Runtime calls. The version that scores a device is the one the deployments
route it to (champion, or canary for its share of devices).

Policy for late and out-of-order readings: a reading for a grid cell already closed for that device
is not scored (the windower counts it in ``late``); it is stored all the same, so offline retraining
and evaluation see it.

Predictions are stored as readings of the device under ``pred.<model>.<output>`` keys, with
``pred.<model>.version``: they chart beside the raw signals and are queried like them. Signals for
the rules are named by task: ``anomaly.score`` (and ``anomaly.ratio`` to the card's threshold),
``classify.class`` / ``classify.prob``, ``rul.p10|p50|p90`` (seconds), ``raw.<sensor>``, and when the
card carries a training reference, data drift over the model's recent inputs fleet-wide
(``drift.psi``, ``drift.ks``, ``drift.psi.<sensor>``; see `prognos.monitor.drift`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from prognos.act.actions import Actions
from prognos.act.alerts import Alerts
from prognos.act.rules import Engine
from prognos.errors import ConfigError, PrognosError
from prognos.features.scaling import RegimeScaler
from prognos.features.stream import Windower
from prognos.inference.deployments import Deployments, Served
from prognos.monitor.drift import Drift
from prognos.types import Reading

log = logging.getLogger(__name__)

PREFIX = "pred."


@dataclass
class Prediction:
    device_id: str
    ts: int  # the window's end
    model: str
    version: int
    signals: dict[str, Any]
    explanation: dict[str, Any] = field(default_factory=dict)


class View:
    """What the scorer needs from a served version's card: the window recipe and how to read outputs."""

    def __init__(self, served: Served) -> None:
        card = served.model.card
        self.served, self.name, self.version = served, served.model.name, served.model.version
        self.task = card.get("task", "custom")
        self.sensors: list[str] = list((card.get("input") or {}).get("sensors") or [])
        self.window = int(card.get("window") or 1)
        out = card.get("output") or {}
        self.step = int(out.get("step_ms") or card.get("step_ms") or 1000)
        self.output = out
        self.scaler = RegimeScaler.from_dict(card["scaler"]) if card.get("scaler") else None
        self.input = served.model.inputs[0].name
        ref = card.get("reference")
        self.drift = Drift(ref, self.sensors) if ref else None  # fleet-wide, per model version

    def recipe(self) -> tuple[tuple[str, ...], int, int]:
        return tuple(self.sensors), self.window, self.step

    def feed(self, windows: list[np.ndarray]) -> dict[str, np.ndarray]:
        x = np.stack(windows)
        if self.scaler is not None:
            n, w, s = x.shape
            x = self.scaler.transform(x.reshape(-1, s)).reshape(n, w, s)
        return {self.input: x.astype(np.float32)}

    def read(self, outputs: list[np.ndarray], i: int, raw: np.ndarray) -> tuple[dict[str, Any], dict[str, Any]]:
        """Signals and explanation of row ``i`` of a batch's outputs (``raw``: the unscaled window)."""
        y = outputs[0][i]
        signals: dict[str, Any] = {f"raw.{s}": float(raw[-1, j]) for j, s in enumerate(self.sensors)}
        explanation: dict[str, Any] = {}
        if self.task == "anomaly":
            contrib = np.asarray(y, dtype=float).ravel()
            score = float(contrib.sum())
            signals["anomaly.score"] = score
            threshold = self.output.get("threshold")
            if threshold:
                signals["anomaly.ratio"] = score / float(threshold)
            order = np.argsort(-contrib)[:3]
            explanation["top_sensors"] = [[self.sensors[j], float(contrib[j])] for j in order if j < len(self.sensors)]
        elif self.task == "classify":
            p = np.asarray(y, dtype=float).ravel()
            if not np.isclose(p.sum(), 1.0, atol=1e-3) or (p < 0).any():
                p = np.exp(p - p.max()) / np.exp(p - p.max()).sum()  # logits → probabilities
            k = int(p.argmax())
            classes = self.output.get("classes") or list(range(len(p)))
            signals |= {"classify.class": str(classes[k]), "classify.prob": float(p[k])}
        elif self.task == "rul":
            q = np.asarray(y, dtype=float).ravel() * float(self.output.get("scale") or 1.0)
            levels = self.output.get("quantiles", [0.5])
            signals |= {f"rul.p{round(a * 100)}": float(v) for a, v in zip(levels, q, strict=False)}
        else:
            signals[f"{self.name}.out"] = float(np.asarray(y).ravel()[0])
        return signals, explanation


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
    ) -> None:
        self.deployments, self.assignments = deployments, {k: list(v) for k, v in assignments.items()}
        self.device_type, self.store_predictions = device_type, store_predictions
        self.engine, self.alerts, self.actions = engine, alerts, actions
        self._windows: dict[tuple[str, str], tuple[tuple[str, ...], int, int, Windower]] = {}
        self._types: dict[str, str | None] = {}
        self._views: weakref.WeakKeyDictionary[Served, View] = weakref.WeakKeyDictionary()  # gone with the version
        self._queue: asyncio.Queue[list[Reading]] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self.scored = 0
        self.late = 0

    # -- life -------------------------------------------------------------------------------------
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._queue = asyncio.Queue()
        self._task = asyncio.create_task(self._run(), name="stream scorer")

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.actions:
            self.actions.close()

    def feed(self, readings: Sequence[Reading]) -> None:
        """Thread-safe: committed readings in (the writer calls this); predictions are not fed back."""
        fresh = [r for r in readings if not all(k.startswith(PREFIX) for k in r.values)]
        if fresh and self._loop is not None and self._queue is not None:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, fresh)

    async def _run(self) -> None:
        assert self._queue is not None
        while True:
            batch = await self._queue.get()
            while not self._queue.empty():
                batch += self._queue.get_nowait()
            try:
                await self.score(batch)
            except Exception:  # one bad batch must not stop scoring
                log.exception("scoring %d readings failed", len(batch))

    # -- scoring ----------------------------------------------------------------------------------
    async def score(self, readings: Sequence[Reading]) -> list[Prediction]:
        """Push readings through the windows; score every window they complete; act on the signals."""
        pending: dict[int, tuple[View, list[tuple[str, int, np.ndarray]]]] = {}
        for r in sorted(readings, key=lambda r: r.ts):
            for name in self._models_for(r.device_id):
                view = await self._view(name, r.device_id)
                if view is None:
                    continue
                for end, x in self._windower(r.device_id, view).push(r.ts, r.values):
                    if not np.isnan(x).any():  # offline training skips windows touching a gap too
                        pending.setdefault(id(view.served), (view, []))[1].append((r.device_id, end, x))
        predictions = []
        for view, items in pending.values():
            feed = view.feed([x for _, _, x in items])
            drift = view.drift.add(feed[view.input][:, -1, :]) if view.drift else {}
            try:
                result = await view.served.infer(feed)
            except PrognosError as exc:
                log.error("%s: %d windows not scored: %s", view.served.model.label, len(items), exc)
                continue
            for i, (device, end, x) in enumerate(items):
                signals, why = view.read(result.outputs, i, x)
                signals |= drift
                why["window"] = [end - (view.window - 1) * view.step, end]
                predictions.append(Prediction(device, end, view.name, view.version, signals, why))
        self.scored += len(predictions)
        if predictions:
            await self._after(predictions)
        return predictions

    async def _after(self, predictions: list[Prediction]) -> None:
        if self.store_predictions is not None:
            rows = [Reading(p.device_id, p.ts, {f"{PREFIX}{p.model}.version": float(p.version),
                                                **{f"{PREFIX}{p.model}.{k}": float(v) for k, v in p.signals.items()
                                                   if isinstance(v, int | float) and not k.startswith("raw.")}})
                    for p in predictions]  # fmt: skip
            self.store_predictions(rows)
        if self.engine is None:
            return
        changes = []
        for p in predictions:
            for t in self.engine.observe(p.device_id, p.ts, p.signals, self._types.get(p.device_id)):
                changes.append((t, p))
        if changes and self.alerts is not None:
            await asyncio.to_thread(self._record, changes)

    def _record(self, changes: list[tuple[Any, Prediction]]) -> None:
        assert self.alerts is not None and self.engine is not None
        rules = {r.name: r for r in self.engine.rules}
        for t, p in changes:
            alert = self.alerts.apply(t, {**p.explanation, "model": p.model, "version": p.version})
            if self.actions is not None and rules[t.rule].actions:
                try:
                    self.actions.run(alert, t.kind, rules[t.rule].actions)
                except PrognosError as exc:
                    log.error("alert %s: actions failed: %s", alert.id, exc)

    def _models_for(self, device_id: str) -> list[str]:
        if device_id not in self._types:
            self._types[device_id] = self.device_type(device_id)
        kind = self._types[device_id]
        return self.assignments.get(kind) or self.assignments.get(None) or []

    async def _view(self, name: str, device_id: str) -> View | None:
        try:
            served, _ = await self.deployments.resolve(name, None, device_id)
        except PrognosError:
            return None  # not deployed (yet): the device is scored once it is
        view = self._views.get(served)
        if view is None:
            view = self._views[served] = View(served)
        return view

    def _windower(self, device_id: str, view: View) -> Windower:
        key = (device_id, view.name)
        found = self._windows.get(key)
        if found is None or found[:3] != view.recipe():  # a new version with another recipe starts afresh
            sensors, window, step = view.recipe()
            found = (*view.recipe(), Windower(list(sensors), window, step))
            self._windows[key] = found
        return found[3]


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
