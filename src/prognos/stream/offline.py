"""A recording scored offline exactly as the stream would score it live: the same plan, windows and signals.

`score` runs readings — a file's rows, a recording kept elsewhere — in time order through a `Scorer` over the
registry's deployments (each model's champion, as live), and gives one row per window scored: the device, the
window's end, the model and version, the model's signals (``anomaly.score``, ``anomaly.p`` and ``anomaly.ratio``
on the alarm budget's scale, ``classify.class`` and ``classify.prob``, ``rul.p10|p50|p90``) and, for an anomaly
model, its decision: ``alarm`` when the ratio reaches 1. Causal by construction: a window's verdict uses the
readings up to its end and nothing after, so any data set can be judged the way the stream would decide on it.
`prognos score FILE` is this over a CSV or Parquet file.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from prognos.errors import InvalidInput, ModelNotReady
from prognos.inference.deployments import Deployments
from prognos.registry import Registry
from prognos.store import open_store
from prognos.stream.plan import Planner
from prognos.stream.predictions import Prediction
from prognos.stream.scorer import Scorer
from prognos.stream.view import Judge
from prognos.types import Reading, to_iso

BATCH = 5_000  # readings handed to the scorer at a time (as many as a busy second of a fleet)


def score(
    readings: Iterable[Reading],
    registry: Registry,
    models: Sequence[str],
    progress: Callable[[int], Any] | None = None,
    budget: str | None = None,
    adapt: str | None = None,
) -> pa.Table:
    """One row per window the ``models`` (names; each scores with its champion) complete in ``readings``; an
    anomaly model's ratio read against the alarm ``budget`` ("1/week", the default; `features.calibration`), from a
    normal that keeps learning for ``adapt`` ("6h", the default; "off": training's, fixed; `features.adapt`)."""
    if not models:
        raise InvalidInput("name at least one model to score with", field="model")
    ordered = sorted(readings, key=lambda r: r.ts)  # as they would arrive: in time order, whatever the file's
    judge = Judge.of(budget, adapt)
    return table(asyncio.run(_score(ordered, registry, list(models), progress, judge)))


def score_folders(
    readings: Iterable[Reading],
    folders: Sequence[str | Path],
    progress: Callable[[int], Any] | None = None,
    budget: str | None = None,
    adapt: str | None = None,
) -> pa.Table:
    """`score` with artifact folders in hand (`prognos.train.tasks.fit`, `prognos train --out`) instead of a
    registry's champions: each is checked as publishing checks it, and scores as it would once published."""
    with tempfile.TemporaryDirectory(prefix="prognos-score-") as tmp:
        registry = Registry(open_store("memory://"), tmp)  # a registry of its own, gone after
        names = []
        for folder in folders:
            version = registry.publish(folder)
            registry.promote(version.name, version.version)
            names.append(version.name)
        return score(readings, registry, names, progress, budget, adapt)


def table(predictions: Iterable[Prediction]) -> pa.Table:
    """The predictions as rows: device, window end (ms and ISO), model, version, signals, decision."""
    rows = []
    for p in predictions:
        ratio = p.signals.get("anomaly.ratio")
        rows.append(
            {
                "device_id": p.device_id,
                "ts": p.ts,
                "time": to_iso(p.ts),
                "model": p.model,
                "version": p.version,
                **p.signals,
                **({"alarm": ratio >= 1.0} if ratio is not None else {}),
            }
        )
    return pa.Table.from_pylist(rows)


async def _score(
    readings: list[Reading],
    registry: Registry,
    models: list[str],
    progress: Callable[[int], Any] | None,
    judge: Judge,
) -> list[Prediction]:
    deployments = Deployments(registry, poll=0)
    await deployments.start()
    try:
        for name in models:
            ready, why = deployments.status(name)
            if not ready:
                raise ModelNotReady(f"model {name!r} cannot score: {why or 'it has no champion'}")
        scorer = Scorer(Planner(deployments, {None: models}, judge=judge))
        problems = scorer.problems()
        if problems:
            raise ModelNotReady("; ".join(problems))
        out: list[Prediction] = []
        for i in range(0, len(readings), BATCH):
            batch = readings[i : i + BATCH]
            out += await scorer.score(batch)
            if progress is not None:
                progress(len(batch))
        return out
    finally:
        await deployments.close()
