"""Settings: explicit values, read from the environment once, at the edge (the CLI).

Library objects never read the environment; they take these values as arguments. The settings of each
concern are a section of their own — the server, MQTT, inference, the stream, retraining — composed in
`Settings`, and every value has one flat *option* name: ``PROGNOS_<OPTION>`` in the environment, ``--option``
on the command line, a keyword of `Settings.of`.

>>> s = Settings.of(port=9000, mqtt="mqtt://broker:1883", max_batch=32)
>>> s.server.port, s.mqtt.url, s.inference.max_batch
(9000, 'mqtt://broker:1883', 32)
"""

from __future__ import annotations

import os
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass, replace
from typing import Any

from prognos.errors import ConfigError

DEFAULT_STORE = "duckdb:///prognos-data/prognos.duckdb"
DEFAULT_REGISTRY = "prognos-data/models"


def option(default: Any, name: str) -> Any:
    """A setting with its option name (``PROGNOS_<NAME>``, ``--name``)."""
    return field(default=default, metadata={"option": name})


@dataclass(frozen=True)
class ServerSettings:
    """The HTTP server, and what it accepts."""

    host: str = option("127.0.0.1", "host")
    port: int = option(8600, "port")
    max_body: int = option(16 * 1024 * 1024, "max_body")  # bytes of one request body
    request_idle: float = option(10.0, "request_idle")  # seconds a client may stall mid-request before 408
    max_future_ms: int = option(86_400_000, "max_future_ms")  # how far ahead a reading's timestamp may be
    max_pending: int = option(1_000_000, "max_pending")  # readings waiting for the store before 503
    retention_days: int | None = option(None, "retention_days")  # older data is dropped every retention_check s
    retention_check: int = option(3600, "retention_check")


@dataclass(frozen=True)
class MqttSettings:
    """The broker prognos ingests from (and sends commands and the stream bus through)."""

    url: str | None = option(None, "mqtt")  # mqtt://host:port, mqtts:// for TLS, user:password@ for credentials
    client_id: str | None = option(None, "mqtt_client_id")  # stable across restarts: the broker keeps the session
    group: str | None = option(None, "mqtt_group")  # shared subscription group: processes in one group split the load
    session_expiry: int = option(7 * 86_400, "mqtt_session_expiry")  # seconds the broker keeps a session


@dataclass(frozen=True)
class InferenceSettings:
    """Serving models: batching, the registry poll, recording."""

    max_batch: int = option(64, "max_batch")  # rows per ONNX Runtime call
    max_delay_ms: float = option(2.0, "max_delay_ms")  # how long a request may wait for others to batch with
    max_queue: int = option(1024, "max_queue")  # requests waiting per model version before new ones get 503
    model_poll: float = option(2.0, "model_poll")  # seconds between registry checks for promotions made elsewhere
    payload_sample: float = option(0.0, "payload_sample")  # share of requests whose inputs and outputs are recorded
    ort_threads: int = option(1, "ort_threads")  # ONNX Runtime intra-op threads per model
    access_log: bool = option(True, "access_log")  # one JSON line per request on the prognos.access logger


@dataclass(frozen=True)
class StreamSettings:
    """Scoring the stream, in the server or in `prognos stream` workers."""

    assignments: str | None = option(None, "stream")  # models per device type: "pump=pump-anomaly,pump-rul;*=generic"
    rules: str | None = option(None, "rules")  # the alert rules file (YAML)
    partitions: int = option(0, "partitions")  # stream bus: prognos/stream/0..N-1 (needs mqtt)
    worker: str = option("0/1", "worker")  # prognos stream: this worker's index / the number of workers
    group: str = option("prognos-stream", "stream_group")  # session ids and checkpoints of one deployment
    checkpoint_interval: float = option(1.0, "checkpoint_interval")  # seconds between checkpoints (and acks)
    retype_interval: float = option(30.0, "retype_interval")  # seconds between re-reads of every device's type
    alarm_budget: str | None = option(None, "alarm_budget")  # false alarms a device may raise: "1/week" (None)
    adapt: str | None = option(None, "adapt")  # how soon a change that stays becomes normal: "6h" (None), or "off"


@dataclass(frozen=True)
class RetrainSettings:
    """Retraining on drift or on a schedule (the policies are in the rules file)."""

    interval: float = option(5.0, "retrain_interval")  # seconds between looks at drift, schedules, shadow results
    epochs: int | None = option(None, "retrain_epochs")  # at most this many epochs per challenger (None: default)


@dataclass(frozen=True)
class Settings:
    store: str = option(DEFAULT_STORE, "store")
    registry: str = option(DEFAULT_REGISTRY, "registry")  # artifact folders of published model versions
    server: ServerSettings = field(default_factory=ServerSettings)
    mqtt: MqttSettings = field(default_factory=MqttSettings)
    inference: InferenceSettings = field(default_factory=InferenceSettings)
    stream: StreamSettings = field(default_factory=StreamSettings)
    retrain: RetrainSettings = field(default_factory=RetrainSettings)

    @classmethod
    def of(cls, **options: Any) -> Settings:
        """Settings from option values (``port=9000``); the rest at their defaults."""
        return cls().updated(**options)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ, **overrides: Any) -> Settings:
        """``PROGNOS_<OPTION>`` variables, then explicit overrides (CLI options) that are not None."""
        values = {}
        for name, (_, kind) in _OPTIONS.items():
            raw = environ.get(_env(name))
            if raw is not None:
                values[name] = _convert(name, raw, kind)
        return cls.of(**values).updated(**{k: v for k, v in overrides.items() if v is not None})

    def updated(self, **options: Any) -> Settings:
        """A copy with these option values (``mqtt="mqtt://…"``, ``max_batch=32``)."""
        unknown = sorted(set(options) - set(_OPTIONS))
        if unknown:
            raise ConfigError(f"unknown setting {unknown[0]!r}: expected one of {', '.join(sorted(_OPTIONS))}")
        out = self
        for name, value in options.items():
            section, _ = _OPTIONS[name]
            if section is None:
                out = replace(out, **{_field(Settings, name): value})
            else:
                part = getattr(out, section)
                out = replace(out, **{section: replace(part, **{_field(type(part), name): value})})
        return out


def _env(name: str) -> str:
    return f"PROGNOS_{name.upper()}"


def _field(section: type, name: str) -> str:
    return next(f.name for f in fields(section) if f.metadata.get("option") == name)


def _options() -> dict[str, tuple[str | None, Any]]:
    """option name → (the section holding it, or None for Settings itself; its type)."""
    hints = typing.get_type_hints(Settings)
    out: dict[str, tuple[str | None, Any]] = {}
    for f in fields(Settings):
        kind = hints[f.name]
        if is_dataclass(kind):
            sub = typing.get_type_hints(kind)
            out |= {g.metadata["option"]: (f.name, sub[g.name]) for g in fields(kind)}
        else:
            out[f.metadata["option"]] = (None, kind)
    return out


_OPTIONS = _options()


def _convert(name: str, raw: str, kind: Any) -> Any:
    base = _base(kind)
    if base is int:
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"{_env(name)}: expected an integer, got {raw!r}") from None
    if base is bool:
        if raw.lower() not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
            raise ConfigError(f"{_env(name)}: expected true or false, got {raw!r}")
        return raw.lower() in ("1", "true", "yes", "on")
    if base is float:
        try:
            return float(raw)
        except ValueError:
            raise ConfigError(f"{_env(name)}: expected a number, got {raw!r}") from None
    return raw


def _base(kind: Any) -> Any:
    """``int | None`` → int: the type a variable's text converts to."""
    if isinstance(kind, types.UnionType):
        return next(k for k in typing.get_args(kind) if k is not type(None))
    return kind
