"""Retraining: when a model's inputs drift (or on a schedule), train a challenger on recent data, run it in
shadow beside the champion, and make it champion only if it does better on what both scored — else say why.

A run, kept as a ``retrain-run`` record (`GET /api/v1/retraining`), goes

    training → shadow → promoted | kept          (or failed, with the reason)

- **training**: the devices of the champion's type, the last ``train`` of their readings, the champion's
  recipe (sensors, window, grid) and weights to start from; a `Train` callable does the work — by default
  `subprocess_trainer`, which exports the readings to Parquet and trains in another process
  (`prognos.train.retrain`), so torch never enters the server;
- **shadow**: the new version is published, takes the ``challenger`` alias and the model's shadow slot; the
  stream scorer scores every window with both and stores both (``pred.<model>.…`` and ``pred.<model>.shadow.…``);
- **decision**, once ``evaluate`` has passed: over the windows both scored, with labels (``labels:`` a truth or
  labels file) anomaly models are compared by event F1, classifiers by accuracy, RUL models by RMSE; without
  labels an anomaly model by its alarm rate (the window is presumed mostly normal: a drifted champion alarms
  on the new normal) and the others cannot be compared — the champion stays, and the record says why.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from prognos.act.rulesfile import Policy
from prognos.errors import Conflict, ModelNotFound, PrognosError
from prognos.inference.deployments import Deployments
from prognos.registry import CHAMPION, Registry
from prognos.store import Store
from prognos.types import now_ms

log = logging.getLogger(__name__)

KIND = "retrain-run"
CHALLENGER = "challenger"
MIN_WINDOWS = 20  # fewer windows scored by both: no decision yet


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
        registry: Registry,
        deployments: Deployments,
        policies: list[Policy],
        train: Train | None = None,
        interval: float = 5.0,
        clock: Callable[[], int] = now_ms,
        metrics: Any = None,
        epochs: int | None = None,
    ) -> None:
        self.store, self.registry, self.deployments = store, registry, deployments
        self.policies = {p.model: p for p in policies}
        self.train = train or subprocess_trainer(store)
        self.interval, self.clock, self.epochs = interval, clock, epochs
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
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

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
        key = f"pred.{policy.model}.{policy.signal}"
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
            self.epochs,
        )

    async def _decide(self, policy: Policy, run: Run) -> None:
        champion = await asyncio.to_thread(self.registry.get, run.model, run.champion)
        challenger = await asyncio.to_thread(self.registry.get, run.model, run.challenger)
        found = await asyncio.to_thread(self._evaluate, policy, run, champion.card, challenger.card)
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

    def _evaluate(
        self, policy: Policy, run: Run, champ: dict[str, Any], chall: dict[str, Any]
    ) -> tuple[dict[str, Any], bool, str] | None:
        from prognos.train.telemetry import Labels

        task = champ.get("task")
        signal = {"anomaly": "anomaly.ratio", "classify": "classify.index", "rul": "rul.p50"}.get(str(task))
        if signal is None:
            return {}, False, f"a {task} model cannot be compared: kept the champion"
        pairs = self._pairs(run, signal, (champ.get("data") or {}).get("device_type"))
        n = sum(len(p[0]) for p in pairs.values())
        if n < MIN_WINDOWS:
            return None
        labels = Labels.load(policy.labels) if policy.labels else None
        a, b, name, lower = compare(str(task), pairs, labels, champ, chall)
        metrics = {"metric": name, "champion": a, "challenger": b, "windows": n, "lower_is_better": lower}
        if a is None or b is None:
            return metrics, False, f"{name}: cannot compare without labels for this task: kept the champion"
        gain = (a - b) if lower else (b - a)
        verdict = "better" if gain > policy.min_gain else "not better"
        reason = f"{name}: challenger v{run.challenger} {b:.4g} vs champion v{run.champion} {a:.4g} over {n} windows"
        return metrics, gain > policy.min_gain, f"{reason} — {verdict} (min gain {policy.min_gain:g})"

    def _pairs(self, run: Run, signal: str, kind: str | None) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Per device: (ts, champion value, challenger value) of the windows both scored since the shadow began."""
        m = run.model
        keys = [f"pred.{m}.{signal}", f"pred.{m}.version", f"pred.{m}.shadow.{signal}", f"pred.{m}.shadow.version"]
        out = {}
        since = run.started - 86_400_000  # window ends lag the wall clock a little, never a day
        for device in (d.device_id for d in self.store.devices() if kind is None or d.type == kind):
            t = self.store.read(device, since, 2**62, keys)
            cols: dict[str, dict[int, float]] = {k: {} for k in keys}
            for ts, key, value in zip(*(t.column(c).to_pylist() for c in ("ts", "key", "value")), strict=True):
                cols[key][ts] = value
            both = sorted(
                ts
                for ts, v in cols[keys[3]].items()
                if v == run.challenger
                and cols[keys[1]].get(ts) == run.champion
                and ts in cols[keys[0]]
                and ts in cols[keys[2]]
            )
            if both:
                out[device] = (
                    np.array(both),
                    np.array([cols[keys[0]][t] for t in both]),
                    np.array([cols[keys[2]][t] for t in both]),
                )
        return out

    async def _finish(self, run: Run, state: str, reason: str) -> None:
        run.state, run.reason, run.decided = state, reason, self.clock()
        self.active.pop(run.model, None)
        self._runs.labels(run.model, state).inc()
        self._shadowing.labels(run.model).set(0)
        log.info("retraining %s: %s — %s", run.model, state, reason)
        await asyncio.to_thread(self._save, run)

    def _save(self, run: Run) -> None:
        self.store.put_record(KIND, run.id, run.to_dict(), replace=True)


def compare(
    task: str,
    pairs: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
    labels: Any,
    champ: dict[str, Any],
    chall: dict[str, Any],
) -> tuple[float | None, float | None, str, bool]:
    """(champion's figure, challenger's, the figure's name, whether lower is better) over the paired windows."""
    from prognos.train.metrics import event_f1, events, rmse

    if task == "anomaly":
        if labels is None:
            rate = [float(np.mean(np.concatenate([p[i] for p in pairs.values()]) > 1.0)) for i in (1, 2)]
            return rate[0], rate[1], "alarm rate (no labels)", True
        f1 = [
            event_f1([events(p[0], p[i] > 1.0, [(x.start, x.end) for x in labels.of(d)]) for d, p in pairs.items()])[
                "event_f1"
            ]
            for i in (1, 2)
        ]
        return f1[0], f1[1], "event F1", False
    if labels is None:
        return None, None, "accuracy" if task == "classify" else "RUL RMSE", task == "rul"
    if task == "classify":
        acc = []
        for i, card in ((1, champ), (2, chall)):
            classes = (card.get("output") or {}).get("classes") or []
            hits = [
                str(classes[int(v)]) == _label(labels, d, int(t))
                for d, p in pairs.items()
                for t, v in zip(p[0], p[i], strict=True)
                if int(v) < len(classes)
            ]
            acc.append(float(np.mean(hits)) if hits else 0.0)
        return acc[0], acc[1], "accuracy", False
    cap = float((champ.get("output") or {}).get("scale") or 3600.0)
    truth = {d: np.minimum((labels.failures[d] - p[0]) / 1000.0, cap) for d, p in pairs.items() if d in labels.failures}
    if not truth:
        return None, None, "RUL RMSE (no failure among the evaluated devices)", True
    errs = [rmse(np.concatenate([pairs[d][i] for d in truth]), np.concatenate(list(truth.values()))) for i in (1, 2)]
    return errs[0], errs[1], "RUL RMSE", True


def _label(labels: Any, device: str, ts: int) -> str:
    for i in labels.of(device):
        if i.start <= ts < i.end:
            return str(i.label)
    return "normal"


def subprocess_trainer(store: Store, python: str = sys.executable, timeout: float = 3600.0) -> Train:
    """Export the job's readings to Parquet, then train in ``python -m prognos.train.retrain``."""

    def train(job: Job) -> Path:
        import pyarrow as pa
        import pyarrow.parquet as pq

        out = Path(job.out)
        tables = []
        for device in job.devices:
            t = store.read(device, job.start, job.end)
            t = t.filter(pa.compute.invert(pa.compute.starts_with(t["key"], "pred.")))
            tables.append(t.append_column("device_id", pa.array([device] * t.num_rows, pa.string())))
        data = out.with_suffix(".parquet")
        pq.write_table(pa.concat_tables(tables), data)
        spec = out.with_suffix(".json")
        spec.write_text(json.dumps(asdict(job) | {"data": str(data)}))
        done = subprocess.run(
            [python, "-m", "prognos.train.retrain", str(spec)], capture_output=True, text=True, timeout=timeout
        )
        if done.returncode != 0:
            tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise PrognosError(f"the training process exited with {done.returncode}: {tail}")
        return out

    return train


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
