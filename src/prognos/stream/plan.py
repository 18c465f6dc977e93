"""Which versions score each device, and on which windows: the plan the stream follows reading by reading.

A device's type names its models (``--stream "pump=pump-anomaly,pump-rul;*=generic"``); the deployments route
each model to the version that answers for that device (the champion, or the canary for its share of devices)
and to a shadow beside it. A device's plan — per model, the version's `View`, its shadow's, and the device's
window — is kept until a route changes (a swap, a canary, a shadow), so a reading costs its window's push and
little else. A device whose model is not deployed (yet) is scored by its other models now and planned again
with its next batch.

A device's type is read once and then kept up to date: `retype` (the server calls it when a device changes
through it) reads it again with the device's next batch, and every ``retype_s`` all types are read in one call
behind the scoring, for changes made elsewhere (another server, a worker's store). A device whose type changed
is planned again: its models follow its current type within ``retype_s``, at once when changed here.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import NamedTuple

from prognos.errors import ConfigError, PrognosError
from prognos.features.stream import Windower
from prognos.inference.deployments import Deployments, Served
from prognos.stream.view import Judge, View, Window
from prognos.stream.windows import History, Windows
from prognos.types import Reading

log = logging.getLogger(__name__)

Assignments = Mapping[str | None, Sequence[str]]  # device type (None: any other) → model names
Pending = dict[int, tuple[View, View | None, list[Window]]]  # the windows completed, by the version scoring them
Types = Callable[[], Mapping[str, str | None]]  # every known device's type, in one call


class Step(NamedTuple):
    """One model of a device's plan: the version scoring it, the shadow beside it, the device's window."""

    view: View
    shadow: View | None
    window: Windower


class Planner:
    def __init__(
        self,
        deployments: Deployments,
        assignments: Assignments,
        device_type: Callable[[str], str | None] = lambda device_id: None,
        history: History | None = None,
        types: Types | None = None,
        retype_s: float = 30.0,
        judge: Judge | None = None,
    ) -> None:
        self.deployments = deployments
        self.judge = judge  # how every anomaly model's scores are judged (None: the budget's default, no adaptation)
        self._trackers: dict[str, dict[str, list[float]]] = {}  # "model@version" → device → state, from a checkpoint
        self.assignments = {k: list(v) for k, v in assignments.items()}
        self.device_type, self.types, self.retype_s = device_type, types, retype_s
        self.windows = Windows(history)
        self._names = sorted({name for names in self.assignments.values() for name in names})
        self._types: dict[str, str | None] = {}
        self._read_at = time.monotonic()  # when every type was last read (`types`)
        self._reading: asyncio.Future[Mapping[str, str | None]] | None = None
        self._plans: dict[str, list[Step]] = {}
        self._routes: tuple[int, ...] = ()  # identity of every model's route when the plans were made
        self._views: weakref.WeakKeyDictionary[Served, View] = weakref.WeakKeyDictionary()  # gone with the version

    def type_of(self, device_id: str) -> str | None:
        if device_id not in self._types:
            self._types[device_id] = self.device_type(device_id)
        return self._types[device_id]

    def unserved(self) -> list[str]:
        """The assigned models that serve no version now, or one the stream cannot feed or that fails to score,
        with the reason: their devices go unscored."""
        out = []
        for name in self._names:
            ok, why = self.deployments.status(name)
            route = self.deployments.routes.get(name)
            if not ok or route is None:
                out.append(f"stream model {name!r} is not served: {why}")
                continue
            out += [f"stream model {t}" for s in route.served() if (t := self._view(s).trouble())]
        return out

    def trackers(self) -> dict[str, dict[str, list[float]]]:
        """Every version's per-device normal, "model@version" → device → state: JSON for `restore_trackers`."""
        out = {label: dict(devices) for label, devices in self._trackers.items()}  # restored, not yet in use
        for view in list(self._views.values()):
            if view.trackers:
                out.setdefault(f"{view.name}@{view.version}", {}).update(
                    (d, t.to_list()) for d, t in view.trackers.items()
                )
        return out

    def restore_trackers(self, doc: Mapping[str, Mapping[str, list[float]]], keep: Callable[[str], bool]) -> None:
        """Take `trackers` back (only the devices ``keep`` accepts); each version's view picks its own up."""
        for label, devices in doc.items():
            mine = {d: list(v) for d, v in devices.items() if keep(d)}
            if mine:
                self._trackers.setdefault(label, {}).update(mine)

    def false_alarm(self, device_id: str, model: str, version: int, score: float) -> bool:
        """A person said an alarm of ``model`` v``version`` on a device, at raw ``score``, was false: that device's
        normal learns it (`View.false_alarm`). False when no version here adapts to it."""
        for view in list(self._views.values()):
            if view.name == model and view.version == version and view.false_alarm(device_id, score):
                return True
        return False

    def retype(self, device_id: str) -> None:
        """The device's type may have changed: read it again, and plan the device again, with its next batch."""
        self._types.pop(device_id, None)
        self._plans.pop(device_id, None)

    def _follow_types(self) -> None:
        """Every ``retype_s``, all types read in one call on a thread; applied with the batch after it answers."""
        if self._reading is not None and self._reading.done():
            reading, self._reading = self._reading, None
            try:
                current = reading.result()
            except Exception as exc:  # the store is down, say: score on with what is known, read again next time
                log.warning("device types not re-read: %s", exc)
                current = {}
            for device, kind in current.items():
                if device in self._types and self._types[device] != kind:
                    self._types[device] = kind
                    self._plans.pop(device, None)
        if self.types is not None and self._reading is None and time.monotonic() - self._read_at >= self.retype_s:
            self._read_at = time.monotonic()
            self._reading = asyncio.ensure_future(asyncio.to_thread(self.types))

    async def plans(self, batch: Mapping[str, Sequence[Reading]]) -> dict[str, list[Step]]:
        """The plan of every device of a batch (device → its readings): the kept ones as they are, the others made
        now, their windows new to this scorer rebuilt up to the device's first reading here."""
        self._follow_types()
        routes = tuple(map(id, map(self.deployments.routes.get, self._names)))
        if routes != self._routes:  # a swap, a canary, a shadow: every device's plan is made again
            self._plans.clear()
            self._routes = routes
        new = [d for d in batch if d not in self._plans]
        made = await self._plan(new, {d: min(r.ts for r in batch[d]) for d in new}) if new else {}
        return {d: self._plans.get(d) or made.get(d) or [] for d in batch}

    async def push(self, readings: list[Reading]) -> Pending:
        """The readings into their devices' windows; the windows completed, by the version that scores them."""
        by_device: dict[str, list[Reading]] = {}
        for r in readings:
            found = by_device.get(r.device_id)
            if found is None:
                by_device[r.device_id] = [r]
            else:
                found.append(r)
        plans = await self.plans(by_device)
        pending: Pending = {}
        for device, rs in by_device.items():
            if len(rs) > 1:
                rs.sort(key=_ts)  # stable: the arrival order within an instant stays
            for view, shadow, window in plans[device]:
                done = [w for r in rs for w in window.push(r.ts, r.values)]
                if done:
                    items = pending.setdefault(id(view), (view, shadow, []))[2]
                    items += [(device, end, x) for end, x in done]
        return pending

    async def _plan(self, devices: list[str], first: Mapping[str, int]) -> dict[str, list[Step]]:
        pairs = [(device, name) for device in devices for name in self._models_for(device)]
        views = await self._resolve(pairs)
        await self.windows.resume({pair: view for pair, (view, _) in views.items()}, first)
        plans: dict[str, list[Step]] = {device: [] for device in devices}
        incomplete = set()
        for device, name in pairs:
            found = views.get((device, name))
            if found is None:
                incomplete.add(device)
                continue
            view, shadow = found
            if view.fault is None:  # a version the stream cannot feed is left out, and health says why
                plans[device].append(Step(view, shadow, self.windows.of(device, view)))
        self._plans.update((device, plan) for device, plan in plans.items() if device not in incomplete)
        return plans

    def _models_for(self, device_id: str) -> list[str]:
        kind = self.type_of(device_id)
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
            restored = self._trackers.pop(f"{served.model.name}@{served.model.version}", None)
            view = self._views[served] = View(served, self.judge, restored)
        return view


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


def _ts(r: Reading) -> int:
    return r.ts
