"""HTTP ingestion: ThingsBoard-style telemetry POSTs, acknowledged once durable.

``POST /api/v1/devices/{device_id}/telemetry`` takes one item, an array, or bare key/values;
``POST /api/v1/telemetry`` takes the gateway form. 200 means every reading is stored; with
some items rejected the answer is still 200 and lists them (index, field, value, reason); with
nothing storable it is 400. Oversize bodies get 413 before they are read in full (a body that stalls is the
connection's to time out: `prognos.server.listen`). The app holds an
`Intake` as ``app.state.intake``: where the readings go and what is accepted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from prognos.errors import InvalidInput, PayloadTooLarge
from prognos.ingest.payload import Decoded, Limits, decode_device, decode_gateway
from prognos.types import Reading

Submit = Callable[[list[Reading]], "Future[int]"]  # BatchWriter.submit: the future completes once durable
OFFLOAD = 256 * 1024  # bodies larger than this are decoded off the event loop


@dataclass(frozen=True)
class Intake:
    submit: Submit
    limits: Limits = Limits()
    max_body: int = 16 * 1024 * 1024  # bytes


async def device_telemetry(request: Request) -> Response:
    intake: Intake = request.app.state.intake
    device_id = request.path_params["device_id"]
    body = await read_body(request, intake.max_body)
    return await _ingest(intake, body, lambda b: decode_device(b, device_id, intake.limits))


async def gateway_telemetry(request: Request) -> Response:
    intake: Intake = request.app.state.intake
    body = await read_body(request, intake.max_body)
    return await _ingest(intake, body, lambda b: decode_gateway(b, intake.limits))


ROUTES = [
    Route("/api/v1/devices/{device_id}/telemetry", device_telemetry, methods=["POST"]),
    Route("/api/v1/telemetry", gateway_telemetry, methods=["POST"]),
]


async def _ingest(intake: Intake, body: bytes, decode: Callable[[bytes], Decoded]) -> Response:
    decoded = await run_in_threadpool(decode, body) if len(body) > OFFLOAD else decode(body)
    if decoded.readings:
        await asyncio.wrap_future(intake.submit(decoded.readings))
    result: dict[str, Any] = {
        "readings": len(decoded.readings),
        "values": decoded.values,
        "rejected": [r.as_dict() for r in decoded.rejections],
    }
    if not decoded.readings:
        first = decoded.rejections[0] if decoded.rejections else None
        raise InvalidInput(
            f"nothing to store: {len(decoded.rejections)} item(s) rejected"
            + (f", first: {first.field}: {first.reason}" if first else ""),
            field=first.field if first else "body",
            value=result["rejected"],
        )
    return Response(orjson.dumps(result), 200, media_type="application/json")


async def read_body(request: Request, max_body: int) -> bytes:
    """The request body, refusing (413) as soon as it passes ``max_body`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_body:
        raise PayloadTooLarge(f"body of {declared} bytes exceeds the limit of {max_body}", field="body")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_body:
            raise PayloadTooLarge(f"body exceeds the limit of {max_body} bytes", field="body")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_object(request: Request, max_body: int = 64 * 1024, what: str = "a JSON object") -> dict[str, Any]:
    """A small JSON object body (API calls, not telemetry), or a 400 that says what was wrong."""
    try:
        body = orjson.loads(await read_body(request, max_body))
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"malformed JSON: {exc}", field="body") from None
    if not isinstance(body, dict):
        raise InvalidInput(f"expected {what}", field="body", value=body)
    return body
