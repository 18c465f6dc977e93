"""Settings: explicit values, read from the environment once, at the edge (the CLI).

Library objects never read the environment; they take these values as arguments.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from prognos.errors import ConfigError
from prognos.store import DEFAULT_URL


@dataclass(frozen=True)
class Settings:
    store: str = DEFAULT_URL
    registry: str = "prognos-data/models"  # artifact folders of published model versions
    host: str = "127.0.0.1"
    port: int = 8600
    mqtt: str | None = None  # mqtt://host:port
    mqtt_client_id: str | None = None  # stable across restarts: the broker keeps the session by it
    mqtt_group: str | None = None  # shared subscription group: processes in one group split the load
    mqtt_session_expiry: int = 7 * 86_400
    max_body: int = 16 * 1024 * 1024
    max_future_ms: int = 86_400_000
    max_pending: int = 1_000_000
    retention_days: int | None = None  # the server drops older data every retention_check seconds
    retention_check: int = 3600
    max_batch: int = 64  # inference: rows per ONNX Runtime call
    max_delay_ms: float = 2.0  # inference: how long a request may wait for others to batch with
    max_queue: int = 1024  # inference: requests waiting per model version before new ones get 503
    model_poll: float = 2.0  # inference: seconds between registry checks for promotions made elsewhere
    payload_sample: float = 0.0  # inference: share of requests whose inputs and outputs are recorded
    ort_threads: int = 1  # inference: ONNX Runtime intra-op threads per model
    access_log: bool = True  # inference: one JSON line per request on the prognos.access logger
    stream: str | None = None  # stream scoring: models per device type, "pump=pump-anomaly,pump-rul;*=generic"
    rules: str | None = None  # stream scoring: the alert rules file (YAML)
    partitions: int = 0  # stream bus: serve forwards committed readings to prognos/stream/0..N-1 (needs mqtt)
    worker: str = "0/1"  # prognos stream: this worker's index / the number of workers
    stream_group: str = "prognos-stream"  # prognos stream: session ids and checkpoints of one deployment
    checkpoint_interval: float = 1.0  # prognos stream: seconds between checkpoints (and acknowledgements)
    retrain_interval: float = 5.0  # retraining: seconds between looks at drift, schedules and shadow results
    retrain_epochs: int | None = None  # retraining: at most this many epochs per challenger (None: the default)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ, **overrides: Any) -> Settings:
        """``PROGNOS_<FIELD>`` variables, then explicit overrides (CLI options) that are not None."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = environ.get(f"PROGNOS_{f.name.upper()}")
            if raw is not None:
                values[f.name] = _convert(f.name, raw, f.type)
        settings = cls(**values)
        return replace(settings, **{k: v for k, v in overrides.items() if v is not None})


def _convert(name: str, raw: str, kind: Any) -> Any:
    if kind in ("int", int, "int | None"):
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"PROGNOS_{name.upper()}: expected an integer, got {raw!r}") from None
    if kind in ("bool", bool):
        if raw.lower() not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
            raise ConfigError(f"PROGNOS_{name.upper()}: expected true or false, got {raw!r}")
        return raw.lower() in ("1", "true", "yes", "on")
    if kind in ("float", float):
        try:
            return float(raw)
        except ValueError:
            raise ConfigError(f"PROGNOS_{name.upper()}: expected a number, got {raw!r}") from None
    return raw
