"""C-MAPSS RUL quality under the published protocol: our deep model and a classic baseline, beside the best published.

The protocol is in prognos.evaluate.cmapss; this prints the table (medians over seeds, training wall
time per model on this machine) and writes benchmarks/out/cmapss.{json,md}.

    python benchmarks/quality_cmapss.py [--subsets FD001,FD002,FD003,FD004] [--seeds 3] [--data ../shared/data/cmapss]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from prognos.evaluate import cmapss
from prognos.evaluate.report import Run, write_report

HERE = Path(__file__).resolve().parent


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--subsets", default="FD001,FD002,FD003,FD004")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--data", default=str(HERE.parents[1] / "shared" / "data" / "cmapss"))
    args = p.parse_args()
    rows = cmapss.rows(Run(args.data, args.seeds, subsets=args.subsets.split(",")))
    print(cmapss.markdown(rows))
    for r in rows:
        print(f"{r.subset} {r.model}: RMSE per seed {', '.join(f'{v:.2f}' for v in r.rmse_per_seed)}")
    print("reports:", *write_report(cmapss.BENCHMARK, rows, HERE / "out"))


if __name__ == "__main__":
    main()
