"""Evaluation under the published protocols, as a table and as JSON + Markdown reports.

C-MAPSS (../shared/data/cmapss/README.md): piece-wise linear RUL capped at 125; scaler fitted and
early stopping done on training units only; one prediction per test unit on the window ending at its
last cycle; RMSE and NASA score against the raw RUL file (primary) and RMSE against truth clipped at
125 (as some papers report). Medians over seeds.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from prognos.datasets import cmapss
from prognos.train import cmapss as pipeline
from prognos.train.baselines import GradientBoostingRUL
from prognos.train.metrics import nasa_score, rmse

# Best published (RMSE, score) per subset, from the data README's table (STAR 2024, FFVE, DAST).
PUBLISHED = {"FD001": (10.61, 169.0), "FD002": (12.55, 772.0), "FD003": (10.71, 154.9), "FD004": (14.08, 1149.0)}


@dataclass
class Row:
    subset: str
    model: str
    rmse: float
    score: float
    rmse_clipped: float
    coverage_80: float | None
    train_seconds: float
    rmse_per_seed: list[float]
    published_rmse: float
    published_score: float


def cmapss_rows(root: str | Path, subsets: list[str], seeds: int = 3, epochs: int | None = None) -> list[Row]:
    cfg = pipeline.RULConfig() if epochs is None else replace(pipeline.RULConfig(), epochs=epochs)
    rows = []
    for name in subsets:
        data = cmapss.load(root, name)
        runs: dict[str, list[tuple[float, float, float, float | None, float]]] = {"deep": [], "classic": []}
        for seed in range(seeds):
            model, p, r = pipeline.train(data, cfg, seed=seed, progress=False)
            clipped = np.minimum(p.y_test, cfg.cap)
            mid = model.predict(p.x_test)[:, 1]
            runs["deep"].append((r.rmse, r.score, rmse(mid, clipped), r.coverage_80, r.train_seconds))
            t = time.perf_counter()
            gb = GradientBoostingRUL(seed=seed).fit(p.x, p.y)
            seconds = time.perf_counter() - t
            mid = gb.predict(p.x_test)[:, 1]
            classic = (rmse(mid, p.y_test), nasa_score(mid, p.y_test), rmse(mid, clipped), None, seconds)
            runs["classic"].append(classic)
        for key, label in (("deep", "1D-CNN quantile (deep)"), ("classic", "gradient boosting (classic)")):
            v = runs[key]
            cov = [x[3] for x in v if x[3] is not None]
            rows.append(
                Row(
                    subset=data.name,
                    model=label,
                    rmse=statistics.median(x[0] for x in v),
                    score=statistics.median(x[1] for x in v),
                    rmse_clipped=statistics.median(x[2] for x in v),
                    coverage_80=statistics.median(cov) if cov else None,
                    train_seconds=statistics.median(x[4] for x in v),
                    rmse_per_seed=[x[0] for x in v],
                    published_rmse=PUBLISHED[data.name][0],
                    published_score=PUBLISHED[data.name][1],
                )
            )
    return rows


def markdown(rows: list[Row]) -> str:
    lines = [
        "| subset | model | RMSE | NASA score | RMSE (truth ≤ 125) | 80 % interval coverage | train s "
        "| best published RMSE / score |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]  # fmt: skip
    for r in rows:
        cov = "–" if r.coverage_80 is None else f"{r.coverage_80:.2f}"
        lines.append(f"| {r.subset} | {r.model} | {r.rmse:.2f} | {r.score:.1f} | {r.rmse_clipped:.2f} | {cov} | "
                     f"{r.train_seconds:.1f} | {r.published_rmse} / {r.published_score} |")  # fmt: skip
    return "\n".join(lines) + "\n"


def write_report(rows: list[Row], out: str | Path) -> tuple[Path, Path]:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    js, md = out / "cmapss.json", out / "cmapss.md"
    js.write_text(json.dumps({"protocol": __doc__, "rows": [asdict(r) for r in rows]}, indent=1))
    md.write_text("# C-MAPSS remaining useful life\n\n" + (__doc__ or "").strip().split("\n\n", 1)[1] + "\n\n"
                  + markdown(rows))  # fmt: skip
    return js, md
