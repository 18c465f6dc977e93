"""JSON responses, the one place prognos errors become HTTP statuses, and the shared ``limit`` parameter."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from prognos.errors import (
    BrokerUnavailable,
    Conflict,
    IntegrityError,
    InvalidInput,
    ModelNotReady,
    NotFound,
    Overloaded,
    PayloadTooLarge,
    StoreError,
)


def respond(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(payload), status, headers, media_type="application/json")


def error_status(exc: Exception) -> int:
    """The HTTP status of each prognos error: decided here and nowhere else."""
    if isinstance(exc, PayloadTooLarge):
        return 413
    if isinstance(exc, InvalidInput):
        return 400
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, Conflict | IntegrityError):
        return 409
    if isinstance(exc, Overloaded | ModelNotReady | StoreError | BrokerUnavailable):
        return 503
    return 500


def limit_param(request: Request, default: int = 1000, most: int = 100_000) -> int:
    """The ``limit`` query parameter of a listing, checked."""
    text = request.query_params.get("limit", str(default))
    if not text.isdigit() or not 0 < int(text) <= most:
        raise InvalidInput(f"limit: expected 1 to {most}, got {text!r}", field="limit", value=text)
    return int(text)
