"""SKAB outlier detection under the current leaderboard's protocol: our Conv-AE and the PCA T²+Q
baseline, beside the best published (Conv-AE / MSET, F1 0.78).

The protocol is in prognos.evaluate.skab; this prints the table (medians over seeds, wall time to train
and score all 34 files on this machine) and writes benchmarks/out/skab.{json,md}.

    python benchmarks/quality_skab.py [--seeds 3] [--data ../shared/data]
"""

from __future__ import annotations

from _common import quality

if __name__ == "__main__":
    quality("skab", __doc__ or "")
