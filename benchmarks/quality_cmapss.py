"""C-MAPSS RUL quality under the published protocol: our deep model and a classic baseline, beside the best published.

Protocol (../shared/data/cmapss/README.md): piece-wise linear RUL capped at 125; scaler fitted and
early stopping done on training units only (20 % of them held out for validation); one prediction
per test unit on the window ending at its last cycle; RMSE and NASA score against the raw
RUL_FD00x.txt. Figures are medians over seeds; training wall time is per model on this machine.

    python benchmarks/quality_cmapss.py [--subsets FD001,FD002,FD003,FD004] [--seeds 3] [--data ../shared/data/cmapss]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

from prognos.datasets import cmapss
from prognos.train import cmapss as pipeline
from prognos.train.baselines import GradientBoostingRUL
from prognos.train.metrics import nasa_score, rmse

# Best published (RMSE, score) per subset, from the data README's table.
PUBLISHED = {"FD001": (10.61, 169), "FD002": (12.55, 772), "FD003": (10.71, 154.9), "FD004": (14.08, 1149)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--subsets", default="FD001,FD002,FD003,FD004")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "cmapss"))
    args = p.parse_args()
    print("C-MAPSS RUL, strict protocol (cap 125, last window per test unit, selection on training units only)")
    print(
        f"{'subset':<7} {'model':<27} {'RMSE':>6} {'score':>8} {'RMSE*':>6} {'80% cover':>9} {'train s':>7}   "
        "best published (RMSE / score)"
    )
    print("  RMSE and score against the raw RUL file (primary); RMSE* against truth clipped at 125, as some papers do")
    for name in args.subsets.split(","):
        data = cmapss.load(args.data, name)
        deep, base = [], []
        for seed in range(args.seeds):
            model, prepared, r = pipeline.train(data, seed=seed, progress=False)
            clipped = np.minimum(prepared.y_test, 125.0)
            mid = model.predict(prepared.x_test)[:, 1]
            deep.append((r.rmse, r.score, rmse(mid, clipped), r.coverage_80, r.train_seconds))
            t = time.perf_counter()
            gb = GradientBoostingRUL(seed=seed).fit(prepared.x, prepared.y)
            seconds = time.perf_counter() - t
            mid = gb.predict(prepared.x_test)[:, 1]
            base.append((rmse(mid, prepared.y_test), nasa_score(mid, prepared.y_test), rmse(mid, clipped),
                         float("nan"), seconds))  # fmt: skip
        best = PUBLISHED[name]
        for label, runs in (("1D-CNN quantile (deep)", deep), ("gradient boosting (classic)", base)):
            med = [statistics.median(v[i] for v in runs) for i in range(5)]
            print(f"{name:<7} {label:<27} {med[0]:>6.2f} {med[1]:>8.1f} {med[2]:>6.2f} {med[3]:>9.2f} {med[4]:>7.1f}   "
                  f"{best[0]} / {best[1]}   (RMSE per seed: {', '.join(f'{v[0]:.2f}' for v in runs)})")  # fmt: skip


if __name__ == "__main__":
    main()
