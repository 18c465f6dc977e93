"""JSON responses and the one place prognos errors become HTTP statuses."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

from prognos.errors import (
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
    if isinstance(exc, Overloaded | ModelNotReady | StoreError):
        return 503
    return 500
