"""Serving models without torch: an ONNX Runtime session per version (runtime), adaptive batching (batching), what
each model name serves and its hot swaps (deployments), Prometheus metrics (metrics), sampled payloads (recording)."""

from prognos.inference.batching import Batcher, BatchOptions, Result
from prognos.inference.deployments import Deployments, Route, Served
from prognos.inference.runtime import Model, load

__all__ = ["BatchOptions", "Batcher", "Deployments", "Model", "Result", "Route", "Served", "load"]
