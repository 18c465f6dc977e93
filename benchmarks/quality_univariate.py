"""Univariate streams that are not the fleet's — seasonality, trends, level shifts that become normal, missing data,
rare spikes — scored by early detection inside labelled windows with every false alarm charged, the detectors that
never and always alarm in the same table (prognos.evaluate.univariate has the protocol). The baseline is never
alarming: the score is normalised so that it is 0 (and detecting every window at its start 100).

    python benchmarks/quality_univariate.py [--seeds 3]
"""

from __future__ import annotations

from _common import quality

if __name__ == "__main__":
    quality("univariate", __doc__ or "")
