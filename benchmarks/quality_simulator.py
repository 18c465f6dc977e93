"""The simulated fleet: anomaly event-F1 and detection delay, fault macro-F1 and RUL RMSE against the
simulator's ground truth, per device type on held-out devices (no published figures exist for it).

The protocol is in prognos.evaluate.simulator; this prints the table (medians over
seeds, training wall time) and writes benchmarks/out/simulator.{json,md}.

    python benchmarks/quality_simulator.py [--seeds 3]
"""

from __future__ import annotations

from _common import quality

if __name__ == "__main__":
    quality("simulator", __doc__ or "")
