"""JSON responses, the one place prognos errors become HTTP statuses and error bodies, and the ``limit`` parameter."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import orjson
from starlette.exceptions import HTTPException
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
    SlowRequest,
    StoreError,
)

log = logging.getLogger("prognos.server")


def respond(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(payload), status, headers, media_type="application/json")


STATUSES: list[tuple[type[Exception] | tuple[type[Exception], ...], int]] = [  # the first that matches decides
    (PayloadTooLarge, 413),
    (SlowRequest, 408),
    (InvalidInput, 400),
    (NotFound, 404),
    ((Conflict, IntegrityError), 409),
    ((Overloaded, ModelNotReady, StoreError, BrokerUnavailable), 503),
]


def error_status(exc: Exception) -> int:
    """The HTTP status of each prognos error: decided here and nowhere else (anything else is a bug: 500)."""
    return next((status for kinds, status in STATUSES if isinstance(exc, kinds)), 500)


async def on_error(request: Request, exc: Exception) -> Response:
    """Every error an endpoint raises, as its status and body: ``{"error": "…"}`` under /v2 (the inference
    protocol's own), else ``{"error": {type, message, field, value}}``; a bug is a 500 with a request id, logged."""
    if isinstance(exc, HTTPException):
        if request.url.path.startswith("/v2"):
            return respond({"error": f"{exc.detail}: {request.method} {request.url.path}"}, exc.status_code)
        return respond({"error": {"type": "HTTPError", "message": exc.detail}}, exc.status_code)
    status = error_status(exc)
    headers = {"Retry-After": "1"} if status == 503 else {"Connection": "close"} if status == 408 else None
    if request.url.path.startswith("/v2") and status != 500:
        return respond({"error": str(exc)}, status, headers)
    body: dict[str, Any] = {"type": type(exc).__name__, "message": str(exc)}
    if isinstance(exc, InvalidInput):
        body |= {"field": exc.field, "value": exc.value if _small(exc.value) else None}
    if status == 500:
        request_id = uuid.uuid4().hex
        log.exception("unhandled error, request %s", request_id)
        body = {"type": "InternalError", "message": f"internal error, request id {request_id}"}
    return respond({"error": body}, status, headers)


def limit_param(request: Request, default: int = 1000, most: int = 100_000) -> int:
    """The ``limit`` query parameter of a listing, checked."""
    text = request.query_params.get("limit", str(default))
    if not text.isdigit() or not 0 < int(text) <= most:
        raise InvalidInput(f"limit: expected 1 to {most}, got {text!r}", field="limit", value=text)
    return int(text)


def _small(value: Any) -> bool:
    return len(orjson.dumps(value, default=repr)) <= 4096
