"""``prognos train``: a source and a task in, an artifact folder out (library side of the command)."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from prognos.errors import InvalidInput

TASKS = ("rul",)  # anomaly and classify arrive with their model families
SOURCES = ("cmapss:FD001", "cmapss:FD002", "cmapss:FD003", "cmapss:FD004")


def train_benchmark(task: str, source: str, data_root: str | Path, out: str | Path, seed: int = 0,
                    epochs: int | None = None, progress: bool = True) -> Path:  # fmt: skip
    """Train ``task`` on a public benchmark ``source``; return the model card's path."""
    from prognos.datasets import cmapss
    from prognos.train import cmapss as pipeline
    from prognos.train.artifact import Spec, data_hash, package

    if task not in TASKS:
        raise InvalidInput(f"unknown or not yet available task {task!r}: available: {', '.join(TASKS)}", field="task",
                           value=task)  # fmt: skip
    kind, _, subset = source.partition(":")
    if kind != "cmapss" or not subset:
        raise InvalidInput(f"unknown benchmark {source!r}: available: {', '.join(SOURCES)}", field="source",
                           value=source)  # fmt: skip
    data = cmapss.load(data_root, subset)
    cfg = pipeline.RULConfig() if epochs is None else replace(pipeline.RULConfig(), epochs=epochs)
    t = time.perf_counter()
    model, p, result = pipeline.train(data, cfg, seed=seed, progress=progress)
    spec = Spec("rul", p.sensors, cfg.window, p.scaler.to_dict(),
                {"quantiles": [0.1, 0.5, 0.9], "scale": cfg.cap, "unit": "cycles"})  # fmt: skip
    metrics = {"rmse": result.rmse, "nasa_score": result.score, "coverage_80": result.coverage_80,
               "protocol": "C-MAPSS test units, last window, raw RUL file, cap 125"}  # fmt: skip
    return package(model, spec, out, name=f"{kind}-{data.name.lower()}-rul", example=p.x, held_out=p.x_test,
                   metrics=metrics, data={"source": source, "hash": data_hash(p.x, p.y), "train_windows": len(p.x)},
                   training_seconds=time.perf_counter() - t)  # fmt: skip
