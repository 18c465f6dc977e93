"""The inference hot path: ``POST /v2/models/{name}[@alias][/versions/{v}]/infer``, answered as bare ASGI.

`InferenceApp` answers infer requests itself and passes every other request to the Starlette app behind it: the
framework's routing and middleware cost more than a small model's inference. A request is decoded
(`prognos.inference.codec`), routed to the version that answers its device (the champion, or the canary for its
share of devices), batched with others, answered; then, off the answer's path, a shadow version runs on a copy
and both outputs are recorded, and a sampled share of payloads is kept with the request id.
"""

from __future__ import annotations

import itertools
import logging
import os
import random
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from prognos.errors import (
    InvalidInput,
    ModelNotFound,
    ModelNotReady,
    NotFound,
    Overloaded,
    PayloadTooLarge,
    PrognosError,
)
from prognos.inference.codec import HEADER_LENGTH, InferRequest, datatype_of, decode, encode
from prognos.inference.deployments import Deployments, Served
from prognos.inference.metrics import VersionMetrics
from prognos.inference.recording import PAYLOAD, SHADOW, Recorder
from prognos.server.responses import error_status

log = logging.getLogger("prognos.server")
access = logging.getLogger("prognos.access")

Scope = dict[str, Any]


@dataclass(slots=True)
class _Answer:
    """What an infer request came to: the response, and what the metrics and access log say of it."""

    status: int = 200
    outcome: str = "ok"  # ok, invalid, not_found, overloaded, unavailable, error
    payload: bytes = b""
    header_length: int | None = None  # binary tensors follow a JSON header this long
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    served: Served | None = None
    stats: VersionMetrics | None = None


class InferenceApp:
    """ASGI: answers ``POST /v2/models/.../infer`` itself, everything else goes to ``inner``."""

    def __init__(
        self,
        inner: Any,
        deployments: Deployments,
        recorder: Recorder | None = None,
        max_body: int = 16 * 1024 * 1024,
        payload_sample: float = 0.0,
        access_log: bool = True,
    ) -> None:
        self.inner, self.deployments, self.recorder = inner, deployments, recorder
        self.metrics = deployments.metrics
        self.max_body, self.payload_sample, self.access_log = max_body, payload_sample, access_log
        self._ids = itertools.count(1)
        self._boot = os.urandom(4).hex()

    @property
    def state(self) -> Any:
        return self.inner.state

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and path.endswith("/infer")
            and path[:11] == "/v2/models/"
        ):
            await self.infer(scope, receive, send)
        else:
            await self.inner(scope, receive, send)

    async def infer(self, scope: Scope, receive: Any, send: Any) -> None:
        started = time.perf_counter()
        headers = dict(scope["headers"])
        rid = headers.get(b"x-request-id", b"").decode("latin-1") or f"{self._boot}-{next(self._ids)}"
        answer = _Answer()
        try:
            await self._answer(scope, headers, receive, rid, answer)
        except PrognosError as exc:
            answer.status, answer.outcome = error_status(exc), _outcome(exc)
            answer.payload, answer.header_length = orjson.dumps({"error": str(exc)}), None
            if answer.status == 503:
                answer.headers.append((b"retry-after", b"1"))
        except Exception:  # a bug: answer 500 with the request id and keep serving
            log.exception("infer failed, request %s", rid)
            answer.status, answer.outcome = 500, "error"
            answer.payload = orjson.dumps({"error": f"internal error, request id {rid}"})
            answer.header_length = None
        await _send(send, answer, rid)
        self._count(scope["path"], answer, rid, time.perf_counter() - started)

    async def _answer(self, scope: Scope, headers: dict[bytes, bytes], receive: Any, rid: str, answer: _Answer) -> None:
        """Decode, route, batch and encode one request into ``answer``; the shadow and the recording after."""
        name, ref = _target(scope["path"])
        body = await _read(receive, self.max_body)
        length = headers.get(HEADER_LENGTH.encode())
        request = decode(body, _int_header(length) if length is not None else None)
        device = request.parameters.get("device_id")
        device = str(device) if device is not None else None
        served, shadow = await self.deployments.resolve(name, ref, device)
        answer.served = served
        answer.stats = stats = self.metrics.of(served.model.name, served.model.version)
        stats.in_flight.inc()
        try:
            feed = served.model.validate(request.tensors)
            result = await served.infer(feed)
            answer.payload, answer.header_length = encode(served.model, request, result.outputs)
        finally:
            stats.in_flight.dec()
        stats.queue_seconds.observe(result.queue_s)
        if answer.header_length is not None:
            answer.headers.append((b"inference-header-content-length", str(answer.header_length).encode()))
        if shadow is not None:
            self._shadow(shadow, served, feed, result.outputs, rid, device)
        if self.recorder and self.payload_sample and random.random() < self.payload_sample:
            self._record(served, request, result.outputs, rid, device)

    def _count(self, path: str, answer: _Answer, rid: str, seconds: float) -> None:
        """The request in the metrics, and (when on) its line in the access log."""
        served = answer.served
        if answer.outcome == "ok" and answer.stats is not None:
            answer.stats.ok.inc()
            answer.stats.request_seconds.observe(seconds)
        else:
            model = served.model.name if served else ("" if answer.outcome == "not_found" else "-")
            self.metrics.requests.labels(model, str(served.model.version) if served else "", answer.outcome).inc()
        if self.access_log and access.isEnabledFor(logging.INFO):
            line = {
                "request_id": rid,
                "path": path,
                "model": served.model.name if served else None,
                "version": served.model.version if served else None,
                "status": answer.status,
                "outcome": answer.outcome,
                "ms": round(seconds * 1000, 3),
            }
            access.info(orjson.dumps(line).decode())

    def _shadow(
        self, shadow: Served, primary: Served, feed: Any, outputs: list[np.ndarray], rid: str, device: str | None
    ) -> None:
        """Run the shadow on a copy of the request after answering it; record both outputs side by side."""
        labels = (shadow.model.name, str(shadow.model.version))
        try:
            future = shadow.batcher.submit(shadow.model.validate({n: (datatype_of(a), a, {}) for n, a in feed.items()}))
        except PrognosError:  # full queue or another contract: skip, never slow the primary down
            self.metrics.shadow.labels(*labels, "skipped").inc()
            return

        def done(f: Any) -> None:
            if f.cancelled() or f.exception() is not None:
                self.metrics.shadow.labels(*labels, "error").inc()
                return
            self.metrics.shadow.labels(*labels, "ok").inc()
            if self.recorder:
                key, doc = _entry(primary, rid, device)
                doc["shadow_version"] = shadow.model.version
                doc["outputs"] = _lists(primary.model.output_names, outputs)
                doc["shadow_outputs"] = _lists(shadow.model.output_names, f.result().outputs)
                self.recorder.add(SHADOW, key, doc)

        future.add_done_callback(done)

    def _record(
        self, served: Served, request: InferRequest, outputs: list[np.ndarray], rid: str, device: str | None
    ) -> None:
        assert self.recorder is not None
        key, doc = _entry(served, rid, device)
        tensors = request.tensors.items()
        doc["inputs"] = {n: {"shape": list(a.shape), "data": a.ravel().tolist()} for n, (_, a, _) in tensors}
        doc["outputs"] = _lists(served.model.output_names, outputs)
        self.recorder.add(PAYLOAD, key, doc)


def _entry(served: Served, rid: str, device: str | None) -> tuple[str, dict[str, Any]]:
    """A recorded request's key (model, then time: the log reads in order) and the fields every record has."""
    ts = int(time.time() * 1000)
    doc = {"request_id": rid, "ts": ts, "device_id": device, "model": served.model.name}
    doc["version"] = served.model.version
    return f"{served.model.name}/{ts:013d}/{rid}", doc


async def _send(send: Any, answer: _Answer, rid: str) -> None:
    kind = b"application/octet-stream" if answer.header_length is not None else b"application/json"
    head = [
        (b"content-type", kind),
        (b"content-length", str(len(answer.payload)).encode()),
        (b"x-request-id", rid.encode()),
    ]
    await send({"type": "http.response.start", "status": answer.status, "headers": head + answer.headers})
    await send({"type": "http.response.body", "body": answer.payload})


def _lists(names: list[str], arrays: list[np.ndarray]) -> dict[str, Any]:
    return {n: {"shape": list(a.shape), "data": a.ravel().tolist()} for n, a in zip(names, arrays, strict=True)}


def _target(path: str) -> tuple[str, str | None]:
    """(name, version or alias) from /v2/models/{name}[@alias][/versions/{v}]/infer."""
    parts = path[len("/v2/models/") : -len("/infer")].split("/")
    if len(parts) == 1 and parts[0]:
        name, _, alias = parts[0].partition("@")
        return name, alias or None
    if len(parts) == 3 and parts[1] == "versions" and parts[0] and parts[2]:
        return parts[0], parts[2]
    raise ModelNotFound(f"no route POST {path}: expected /v2/models/NAME[/versions/V]/infer")


async def _read(receive: Any, limit: int) -> bytes:
    chunks, size, more = [], 0, True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise InvalidInput("the client went away before sending the whole body", field="body")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"body over {limit} bytes", field="body", value=size)
        chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)


def _int_header(raw: bytes) -> int:
    try:
        return int(raw)
    except ValueError:
        raise InvalidInput(f"{HEADER_LENGTH}: expected an integer, got {raw!r}", field=HEADER_LENGTH) from None


def _outcome(exc: Exception) -> str:
    if isinstance(exc, InvalidInput):
        return "invalid"
    if isinstance(exc, NotFound):
        return "not_found"
    if isinstance(exc, Overloaded):
        return "overloaded"
    if isinstance(exc, ModelNotReady):
        return "unavailable"
    return "error"
