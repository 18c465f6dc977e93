"""Models scored under the published protocols of public benchmarks, beside the best published figures.

One module per benchmark — cmapss.py (remaining life), skab.py (anomalies), ai4i.py (failure classification),
simulator.py (all three on the simulated fleet), univariate.py (single-metric streams, early detection at an alarm
budget) — each with its protocol, its runs of our deep model and a classic
baseline, and a `Benchmark` (report.py) that `prognos evaluate` runs; metrics.py holds the protocols' measures.
"""

from __future__ import annotations

from prognos.evaluate.report import Benchmark


def benchmarks() -> dict[str, Benchmark]:
    """Every benchmark `prognos evaluate` runs, by name."""
    # torch: the benchmarks train models; metrics.py, which the server's retraining reads, must not pull it in
    from prognos.evaluate import ai4i, cmapss, simulator, skab, univariate

    found = (cmapss.BENCHMARK, skab.BENCHMARK, ai4i.BENCHMARK, simulator.BENCHMARK, univariate.BENCHMARK)
    return {b.name: b for b in found}
