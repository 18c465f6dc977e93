"""Prometheus metrics of the inference server, per model and version, in their own registry.

A registry per server (not the process-global one) keeps two servers in one process, as in tests,
from counting into each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

# Latency buckets from 0.1 ms: a small model answers in well under a millisecond.
_SECONDS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_ROWS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


@dataclass(frozen=True)
class VersionMetrics:
    ok: Any
    request_seconds: Any
    queue_seconds: Any
    in_flight: Any


class Metrics:
    def __init__(self) -> None:
        self._versions: dict[tuple[str, int], VersionMetrics] = {}
        self.registry = r = CollectorRegistry()
        labels = ("model", "version")
        outcomes = "ok, invalid, not_found, overloaded, unavailable, error"
        self.requests = Counter(
            "prognos_inference_requests",
            f"Inference requests by outcome ({outcomes})",
            (*labels, "outcome"),
            registry=r,
        )
        self.request_seconds = Histogram(
            "prognos_inference_request_seconds",
            "Time from request read to answer",
            labels,
            buckets=_SECONDS,
            registry=r,
        )
        self.queue_seconds = Histogram(
            "prognos_inference_queue_seconds",
            "Time a request waited for its batch",
            labels,
            buckets=_SECONDS,
            registry=r,
        )
        self.compute_seconds = Histogram(
            "prognos_inference_compute_seconds", "ONNX Runtime time per batch", labels, buckets=_SECONDS, registry=r
        )
        self.batch_rows = Histogram(
            "prognos_inference_batch_size", "Rows per ONNX Runtime call", labels, buckets=_ROWS, registry=r
        )
        self.in_flight = Gauge("prognos_inference_in_flight", "Requests being answered", ("model",), registry=r)
        self.load_seconds = Gauge(
            "prognos_model_load_seconds", "Time to verify, load and warm the version", labels, registry=r
        )
        self.loaded = Gauge("prognos_model_loaded", "1 while the version is loaded", labels, registry=r)
        self.swaps = Counter("prognos_model_swaps", "Times a model's serving versions changed", ("model",), registry=r)
        self.load_failures = Counter("prognos_model_load_failures", "Versions that failed to load", labels, registry=r)
        self.shadow = Counter(
            "prognos_shadow_requests",
            "Copies of traffic sent to a shadow version by outcome (ok, skipped, error)",
            (*labels, "outcome"),
            registry=r,
        )
        self.recorded = Counter(
            "prognos_payloads_recorded",
            "Payload and shadow records written or dropped",
            ("kind", "outcome"),
            registry=r,
        )

    def of(self, model: str, version: int) -> VersionMetrics:
        """The hot-path series of one version, looked up once (``labels()`` costs more than the update)."""
        key = (model, version)
        found = self._versions.get(key)
        if found is None:
            v = str(version)
            found = self._versions[key] = VersionMetrics(
                self.requests.labels(model, v, "ok"),
                self.request_seconds.labels(model, v),
                self.queue_seconds.labels(model, v),
                self.in_flight.labels(model),
            )
        return found

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
