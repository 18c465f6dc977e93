"""Retraining: when a model's inputs drift (or on a schedule), train a challenger on recent data, run it in
shadow beside the champion, and make it champion only if it does better on what both scored — else say why.

A run, kept as a ``retrain-run`` record (`GET /api/v1/retraining`), goes

    training → shadow → promoted | kept          (or failed, with the reason)

- **training**: the devices of the champion's type, the last ``train`` of their readings, the champion's
  recipe (sensors, window, grid) and weights to start from; a `Train` callable does the work — in a server
  `prognos.retrain.challenger.subprocess_trainer`, which exports the readings to Parquet and trains in another
  process, so torch never enters the server;
- **shadow**: the new version is published, takes the ``challenger`` alias and the model's shadow slot; the
  stream scorer scores every window with both and stores both (``pred.<model>.…`` and ``pred.<model>.shadow.…``);
- **decision**, once ``evaluate`` has passed: over the windows both scored (`prognos.retrain.compare`); the
  challenger becomes champion only if it does better by ``min_gain``, else the champion stays, and the record
  says why.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from prognos.act.rulesfile import Policy
from prognos.aio import cancel
from prognos.errors import Conflict, ModelNotFound
from prognos.inference.deployments import Deployments
from prognos.registry import CHAMPION
from prognos.retrain.compare import verdict
from prognos.store import Store
from prognos.types import now_ms, prediction_key

log = logging.getLogger(__name__)

KIND = "retrain-run"
CHALLENGER = "challenger"


@dataclass(frozen=True)
class Job:
    """What a challenger is trained on: the champion's recipe over recent data."""

    name: str
    task: str
    device_type: str | None
    devices: list[str]
    start: int
    end: int
    window: int
    step_ms: int
    labels: str | None
    init_from: str  # the champion's artifact folder
    out: str
    epochs: int | None = None


Train = Callable[[Job], Path]  # → the new artifact's folder


@dataclass
class Run:
    id: str
    model: str
    trigger: str
    started: int
    state: str = "training"  # training | shadow | promoted | kept | failed
    champion: int | None = None
    challenger: int | None = None
    shadow_since: int | None = None
    decided: int | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Retrainer:
    def __init__(
        self,
        store: Store,
        deployments: Deployments,
        policies: list[Policy],
        train: Train,
        interval: float = 5.0,
        clock: Callable[[], int] = now_ms,
        metrics: Any = None,
    ) -> None:
        self.store, self.deployments, self.registry = store, deployments, deployments.registry
        self.policies = {p.model: p for p in policies}
        self.train = train
        self.interval, self.clock = interval, clock
        self.active: dict[str, Run] = {}
        self._task: asyncio.Task[None] | None = None
        self._since = clock()
        self._runs, self._shadowing = _metrics(metrics)

    # -- life -------------------------------------------------------------------------------------
    async def start(self) -> None:
        for run in await asyncio.to_thread(self.runs):
            if run.state == "shadow":
                self.active[run.model] = run  # a restart does not end the comparison
            elif run.state == "training":
                await self._finish(run, "failed", "interrupted by a restart while training")
        self._task = asyncio.create_task(self._loop(), name="retrainer")

    async def close(self) -> None:
        await cancel(self._task)

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.step()
            except Exception:  # a failing store or model must not stop monitoring for good
                log.exception("retraining step failed")

    def runs(self, model: str | None = None) -> list[Run]:
        """Every run, newest first."""
        found = [Run(**doc) for _, doc in self.store.records(KIND, f"{model}/" if model else "")]
        return sorted(found, key=lambda r: (r.started, r.id), reverse=True)

    # -- work -------------------------------------------------------------------------------------
    async def step(self) -> None:
        """Start the runs that are due; decide the ones whose evaluation window is over."""
        for policy in self.policies.values():
            run = self.active.get(policy.model)
            if run is None:
                why = await asyncio.to_thread(self._due, policy)
                if why:
                    await self.trigger(policy.model, why)
            elif run.state == "shadow" and self.clock() - (run.shadow_since or 0) >= policy.evaluate_ms:
                await self._decide(policy, run)

    async def trigger(self, model: str, why: str = "manual") -> Run:
        """Start a run now: train, publish, shadow. Raises Conflict while one is in progress."""
        if model in self.active:
            raise Conflict(f"model {model!r} already has a retraining run in progress ({self.active[model].id})")
        policy = self.policies.get(model) or Policy(model, "manual")
        champion = await asyncio.to_thread(self.registry.get, model)  # ModelNotFound: nothing to retrain
        started = self.clock()
        run = Run(f"{model}/{started:013d}", model, why, started, champion=champion.version)
        self.active[model] = run
        await asyncio.to_thread(self._save, run)
        log.info("retraining %s (%s)", model, why)
        try:
            job = await asyncio.to_thread(self._job, policy, champion, started)
            folder = await asyncio.to_thread(self.train, job)
            version = await asyncio.to_thread(self.registry.publish, folder, model)
            await asyncio.to_thread(self.registry.promote, model, version.version, CHALLENGER)
            traffic = await asyncio.to_thread(self.registry.traffic, model)
            await asyncio.to_thread(self.registry.set_traffic, model, traffic["canary"], traffic["weight"], CHALLENGER)
            await self.deployments.sync(model)
        except Exception as exc:  # whatever went wrong, the run ends, says why, and the next one may start
            await self._finish(run, "failed", f"training the challenger failed: {exc}")
            return run
        run.state, run.challenger, run.shadow_since = "shadow", version.version, self.clock()
        self._shadowing.labels(model).set(1)
        await asyncio.to_thread(self._save, run)
        return run

    def _due(self, policy: Policy) -> str | None:
        last = self.runs(policy.model)
        if last and self.clock() - last[0].started < policy.cooldown_ms:
            return None
        if policy.on == "schedule":
            since = last[0].started if last else self._since
            return f"schedule (every {policy.every_ms} ms)" if self.clock() - since >= (policy.every_ms or 0) else None
        key = prediction_key(policy.model, policy.signal)
        rows = [r for r in self.store.latest().to_pylist() if r["key"] == key]  # measured fleet-wide, kept
        value = max(rows, key=lambda r: r["ts"])["value"] if rows else None  # on one device each time: the newest
        if value is not None and value > policy.above:
            return f"drift: {policy.signal} = {value:.3g} > {policy.above:g}"
        return None

    def _job(self, policy: Policy, champion: Any, now: int) -> Job:
        card = champion.card
        data = card.get("data") or {}
        kind = data.get("device_type")
        devices = (
            [d.device_id for d in self.store.devices() if d.type == kind] if kind else list(data.get("devices", []))
        )
        if not devices:
            raise ModelNotFound(f"model {policy.model!r}: no devices to retrain it on (its card names none)")
        out = tempfile.mkdtemp(prefix=f"prognos-challenger-{policy.model}-")
        step = int((card.get("output") or {}).get("step_ms") or 1000)
        return Job(
            policy.model,
            card["task"],
            kind,
            devices,
            now - policy.train_ms,
            now,
            int(card["window"]),
            step,
            policy.labels,
            champion.path,
            out,
        )

    async def _decide(self, policy: Policy, run: Run) -> None:
        champion = await asyncio.to_thread(self.registry.get, run.model, run.champion)
        challenger = await asyncio.to_thread(self.registry.get, run.model, run.challenger)
        versions = (int(run.champion or 0), int(run.challenger or 0))
        since = run.started - 86_400_000  # window ends lag the wall clock a little, never a day
        found = await asyncio.to_thread(verdict, self.store, policy, versions, since, (champion.card, challenger.card))
        if found is None:
            return  # too few windows scored by both yet
        metrics, better, reason = found
        run.metrics = metrics
        traffic = await asyncio.to_thread(self.registry.traffic, run.model)
        await asyncio.to_thread(self.registry.set_traffic, run.model, traffic["canary"], traffic["weight"], None)
        if better:
            await asyncio.to_thread(self.registry.promote, run.model, int(run.challenger or 0), CHAMPION)
        await self.deployments.sync(run.model)
        await self._finish(run, "promoted" if better else "kept", reason)

    async def _finish(self, run: Run, state: str, reason: str) -> None:
        run.state, run.reason, run.decided = state, reason, self.clock()
        self.active.pop(run.model, None)
        self._runs.labels(run.model, state).inc()
        self._shadowing.labels(run.model).set(0)
        log.info("retraining %s: %s — %s", run.model, state, reason)
        await asyncio.to_thread(self._save, run)

    def _save(self, run: Run) -> None:
        self.store.put_record(KIND, run.id, run.to_dict(), replace=True)


def _metrics(registry: Any) -> tuple[Any, Any]:
    from prometheus_client import CollectorRegistry, Counter, Gauge

    r = registry or CollectorRegistry()
    runs = Counter(
        "prognos_retrain_runs",
        "Retraining runs ended, by model and outcome (promoted, kept, failed)",
        ("model", "outcome"),
        registry=r,
    )
    shadowing = Gauge("prognos_retrain_shadow", "1 while a challenger runs in shadow", ("model",), registry=r)
    return runs, shadowing
