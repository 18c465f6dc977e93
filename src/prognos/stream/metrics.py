"""Prometheus metrics of stream scoring, beside the inference server's in the same registry.

What an operator watches: windows scored per model, how long a reading waits for its
decision, the backlog, late readings, alert transitions per rule, and the drift of every model
version's inputs and outputs (the numbers the drift rules see).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_SECONDS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0, 2.0, 5.0, 10.0)


class StreamMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        r = registry
        self.predictions = Counter(
            "prognos_stream_predictions", "Windows scored, by model and version", ("model", "version"), registry=r
        )
        self.decision_seconds = Histogram(
            "prognos_stream_decision_seconds",
            "From the arrival of the oldest reading of a scored batch to its rules decided",
            buckets=_SECONDS,
            registry=r,
        )
        self.backlog = Gauge("prognos_stream_backlog", "Batches of readings waiting to be scored", registry=r)
        self.late = Gauge(
            "prognos_stream_late_readings", "Readings that arrived for a closed grid cell (not scored)", registry=r
        )
        self.transitions = Counter(
            "prognos_alert_transitions",
            "Alert transitions by rule and kind (open, escalate, resolve)",
            ("rule", "kind"),
            registry=r,
        )
        self.drift = Gauge(
            "prognos_drift",
            "Drift of a model version's inputs (data) and outputs (prediction) against its training reference",
            ("model", "version", "of", "measure", "feature"),
            registry=r,
        )

    def watch(self, backlog: Callable[[], float], late: Callable[[], float]) -> None:
        self.backlog.set_function(backlog)
        self.late.set_function(late)

    def scored(self, model: str, version: int, n: int, drift: dict[str, Any]) -> None:
        self.predictions.labels(model, str(version)).inc(n)
        for name, value in drift.items():  # drift.psi.<sensor>, drift.pred.ks, …
            parts = name.split(".")
            of = "prediction" if parts[1] == "pred" else "data"
            rest = parts[2:] if of == "prediction" else parts[1:]
            self.drift.labels(model, str(version), of, rest[0], ".".join(rest[1:]) or "max").set(value)

    def decided(self, seconds: float) -> None:
        self.decision_seconds.observe(seconds)

    def transitioned(self, changes: Iterable[Any]) -> None:
        for t in changes:
            self.transitions.labels(t.rule, t.kind).inc()
