"""AI4I 2020 failure classification (a sanity check; no standard split): our deep classifier and
logistic regression, beside the published range (F1 ≈ 0.8–0.9, tree ensembles).

The protocol is in prognos.evaluate.ai4i; this prints the table (medians over seeds, training wall time on this
machine) and writes benchmarks/out/ai4i.{json,md}.

    python benchmarks/quality_ai4i.py [--seeds 3] [--data ../shared/data]
"""

from __future__ import annotations

from _common import quality

if __name__ == "__main__":
    quality("ai4i", __doc__ or "")
