"""The one error tree of prognos.

Library code raises these; only the edges translate them (the CLI into a message and an exit
code, the server into an error body and a status), each in one place.

    PrognosError
    ├── ConfigError            (ValueError)    a setting, URL or option is wrong
    ├── InvalidInput           (ValueError)    data that cannot be accepted; names field, value, expectation
    │   ├── PayloadTooLarge                    a body over the configured limit (413)
    │   └── SlowRequest                        a body that stalled or trickled in too slowly (408)
    ├── NotFound               (LookupError)
    │   └── DeviceNotFound
    ├── Conflict                               the request contradicts the current state
    ├── IntegrityError                         an artifact no longer matches its checksum: never served
    ├── Overloaded             (RuntimeError)  a bounded queue is full: retry later (503)
    ├── ModelNotReady          (RuntimeError)  the model is loading, unloaded or failed to load (503)
    ├── StoreError             (RuntimeError)  the store failed to read or write
    │   └── StoreUnavailable                   cannot connect, or the file is locked by another process
    ├── BrokerUnavailable      (RuntimeError)  the MQTT broker did not take a message in time (503)
    └── MissingExtra           (ImportError)   an optional dependency is not installed
"""

from __future__ import annotations

from typing import Any


class PrognosError(Exception):
    """Base of every error prognos raises on purpose."""


class ConfigError(PrognosError, ValueError):
    pass


class InvalidInput(PrognosError, ValueError):
    """Input that cannot be accepted. ``field`` and ``value`` say where and what."""

    def __init__(self, message: str, *, field: str | None = None, value: Any = None) -> None:
        super().__init__(message)
        self.field = field
        self.value = value


class PayloadTooLarge(InvalidInput):
    pass


class SlowRequest(InvalidInput):
    """The client sent its body too slowly: refused so that it cannot hold a connection and its memory."""


class NotFound(PrognosError, LookupError):
    pass


class DeviceNotFound(NotFound):
    def __init__(self, device_id: str) -> None:
        super().__init__(f"device {device_id!r} not found")
        self.device_id = device_id


class ModelNotFound(NotFound):
    pass


class Conflict(PrognosError):
    """The request contradicts the current state (an archived version promoted, an alias with no history)."""


class IntegrityError(PrognosError):
    """A stored artifact no longer matches the checksum recorded when it was published: never served."""


class Overloaded(PrognosError, RuntimeError):
    """More work is waiting than the configured bound (readings for the store, requests for a model)."""


class ModelNotReady(PrognosError, RuntimeError):
    """The model exists but cannot answer now: not loaded, unloaded, or its load failed (reason in the text)."""


class StoreError(PrognosError, RuntimeError):
    pass


class StoreUnavailable(StoreError):
    pass


class BrokerUnavailable(PrognosError, RuntimeError):
    """The MQTT broker is away or did not acknowledge in time: what depended on it is retried."""


class MissingExtra(PrognosError, ImportError):
    def __init__(self, module: str, extra: str) -> None:
        super().__init__(f"{module} is not installed: run  pip install 'prognos[{extra}]'")
        self.extra = extra


def require(module: str, extra: str) -> Any:
    """Import an optional dependency, or say which extra brings it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtra(module, extra) from exc
