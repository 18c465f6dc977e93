"""Open Inference Protocol v2 over HTTP (the protocol of KServe and Triton), with its binary tensor extension.

    GET  /v2                                       server metadata
    GET  /v2/health/live | /v2/health/ready
    GET  /v2/models/{name}[/versions/{v}]          model metadata
    GET  /v2/models/{name}[/versions/{v}]/ready
    POST /v2/models/{name}[/versions/{v}]/infer
    POST /v2/repository/index | /v2/repository/models/{name}/load | .../unload

A name alone is the champion (or the canary, for its share of devices); ``{name}@{alias}`` and
``/versions/{alias}`` address an alias, ``/versions/{n}`` a version. Errors answer
``{"error": "..."}`` with a 4xx/5xx status, never a crash.

The infer route is the hot path, so it bypasses the framework: `InferenceApp` answers it as a bare
ASGI handler and passes every other request to the Starlette app behind it.
"""

from __future__ import annotations

import itertools
import logging
import math
import os
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from prognos import __version__
from prognos.errors import (
    InvalidInput,
    ModelNotFound,
    ModelNotReady,
    NotFound,
    Overloaded,
    PayloadTooLarge,
    PrognosError,
)
from prognos.inference.deployments import Deployments, Served
from prognos.inference.recording import PAYLOAD, SHADOW, Recorder
from prognos.inference.runtime import DATATYPES
from prognos.server.responses import error_status

log = logging.getLogger("prognos.server")
access = logging.getLogger("prognos.access")

HEADER_LENGTH = "inference-header-content-length"
_INTEGERS = {k for k, v in DATATYPES.items() if k != "BOOL" and np.dtype(v).kind in "iu"}
_FLOATS = {"FP16", "FP32", "FP64"}

Scope = dict[str, Any]
ASGI = Callable[
    [Scope, Callable[[], Awaitable[dict[str, Any]]], Callable[[dict[str, Any]], Awaitable[None]]], Awaitable[None]
]


@dataclass
class InferRequest:
    id: str | None
    parameters: dict[str, Any]
    tensors: Mapping[str, tuple[str, np.ndarray, Mapping[str, Any]]]
    outputs: list[tuple[str, bool]] | None  # requested outputs and whether each goes back as binary
    binary: bool  # every output binary unless named otherwise


# -- decoding --------------------------------------------------------------------------------------
def decode(body: bytes, header_length: int | None) -> InferRequest:
    """Parse an infer request (JSON, or JSON header + binary tensors), naming the first thing wrong."""
    head, blob = (body, b"") if header_length is None else (body[:header_length], body[header_length:])
    if header_length is not None and not 0 < header_length <= len(body):
        raise InvalidInput(
            f"{HEADER_LENGTH}: {header_length} does not fit a {len(body)}-byte body",
            field=HEADER_LENGTH,
            value=header_length,
        )
    try:
        doc = orjson.loads(head)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"malformed JSON: {exc}", field="body") from None
    if not isinstance(doc, dict):
        raise InvalidInput("request: expected a JSON object", field="body", value=type(doc).__name__)
    inputs = doc.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise InvalidInput("inputs: expected a non-empty list of tensors", field="inputs", value=inputs)
    parameters = _object(doc.get("parameters"), "parameters")
    tensors, offset = {}, 0
    for i, t in enumerate(inputs):
        name, datatype, array, params, offset = _tensor(t, i, blob, offset)
        if name in tensors:
            raise InvalidInput(f"inputs[{i}]: input {name!r} given twice", field=f"inputs[{i}].name", value=name)
        tensors[name] = (datatype, array, params)
    if offset != len(blob):
        raise InvalidInput(f"binary data: {len(blob) - offset} bytes after the last tensor", field="body")
    rid = doc.get("id")
    return InferRequest(
        id=str(rid) if rid is not None else None,
        parameters=parameters,
        tensors=tensors,
        outputs=_requested(doc.get("outputs")),
        binary=bool(parameters.get("binary_data_output", False)),
    )


def _tensor(t: Any, i: int, blob: bytes, offset: int) -> tuple[str, str, np.ndarray, dict[str, Any], int]:
    where = f"inputs[{i}]"
    if not isinstance(t, dict):
        raise InvalidInput(f"{where}: expected a tensor object", field=where, value=t)
    name, datatype, shape = t.get("name"), t.get("datatype"), t.get("shape")
    if not isinstance(name, str) or not name:
        raise InvalidInput(f"{where}.name: expected a string", field=f"{where}.name", value=name)
    if datatype not in DATATYPES:
        raise InvalidInput(
            f"{where}.datatype: {datatype!r} is not one of {sorted(DATATYPES)}",
            field=f"{where}.datatype",
            value=datatype,
        )
    if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        raise InvalidInput(
            f"{where}.shape: expected a list of sizes ≥ 0, got {shape!r}", field=f"{where}.shape", value=shape
        )
    params = _object(t.get("parameters"), f"{where}.parameters")
    size = math.prod(shape)
    dtype = DATATYPES[datatype]
    if "binary_data_size" in params:
        n = params["binary_data_size"]
        if not isinstance(n, int) or n < 0 or offset + n > len(blob):
            raise InvalidInput(
                f"{where}.parameters.binary_data_size: {n!r} bytes are not in the body",
                field=f"{where}.parameters.binary_data_size",
                value=n,
            )
        if datatype == "BYTES":
            raise InvalidInput(f"{where}: binary BYTES tensors are not supported", field=f"{where}.datatype")
        raw = blob[offset : offset + n]
        if n != size * np.dtype(dtype).itemsize:
            raise InvalidInput(
                f"{where}: shape {shape} of {datatype} needs {size * np.dtype(dtype).itemsize} bytes, got {n}",
                field=f"{where}.parameters.binary_data_size",
                value=n,
            )
        return name, datatype, np.frombuffer(raw, dtype).reshape(shape), params, offset + n
    if "data" not in t:
        raise InvalidInput(f"{where}.data: missing (or give parameters.binary_data_size)", field=f"{where}.data")
    data = t["data"]
    if datatype in _FLOATS and isinstance(data, list) and len(data) == size and isinstance(data[0], float | int):
        try:  # the common case, flat numbers: fromiter skips numpy's nesting inference
            return name, datatype, np.fromiter(data, dtype, size).reshape(shape), params, offset
        except (ValueError, TypeError):
            pass  # a stray non-number: the general path below says what is wrong
    try:
        if datatype in _INTEGERS or datatype == "BOOL":  # numpy would truncate 1.5 to 1 without a word
            kind = np.array(t["data"]).dtype.kind
            if kind not in ("b" if datatype == "BOOL" else "iub") and np.size(t["data"]):
                raise ValueError(f"{'booleans' if datatype == 'BOOL' else 'integers'} expected")
        array = np.array(t["data"], dtype=dtype)
    except (ValueError, TypeError, OverflowError) as exc:
        raise InvalidInput(f"{where}.data: not a {datatype} array ({exc})", field=f"{where}.data") from None
    if array.size != size:
        raise InvalidInput(
            f"{where}.data: shape {shape} needs {size} values, got {array.size}",
            field=f"{where}.data",
            value=array.size,
        )
    return name, datatype, array.reshape(shape), params, offset


def _requested(outputs: Any) -> list[tuple[str, bool]] | None:
    if outputs is None:
        return None
    if not isinstance(outputs, list):
        raise InvalidInput("outputs: expected a list of {name, parameters}", field="outputs", value=outputs)
    found = []
    for i, o in enumerate(outputs):
        if not isinstance(o, dict) or not isinstance(o.get("name"), str):
            raise InvalidInput(f"outputs[{i}]: expected an object with a name", field=f"outputs[{i}]", value=o)
        params = _object(o.get("parameters"), f"outputs[{i}].parameters")
        found.append((o["name"], bool(params.get("binary_data", False))))
    return found


def _object(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput(f"{where}: expected an object", field=where, value=value)
    return value


# -- encoding --------------------------------------------------------------------------------------
def encode(served: Served, request: InferRequest, outputs: list[np.ndarray]) -> tuple[bytes, int | None]:
    """The response body and, when tensors go back as binary, the length of its JSON header."""
    model = served.model
    by_name = dict(zip(model.output_names, outputs, strict=True))
    wanted = request.outputs or [(n, request.binary) for n in model.output_names]
    tensors, blobs = [], []
    for name, binary in wanted:
        if name not in by_name:
            raise InvalidInput(
                f"{model.label}: unknown output {name!r} (outputs: {model.output_names})", field="outputs", value=name
            )
        y = by_name[name]
        t: dict[str, Any] = {"name": name, "shape": list(y.shape), "datatype": _datatype(y)}
        if binary or (request.binary and request.outputs is None):
            raw = np.ascontiguousarray(y).tobytes()
            t["parameters"] = {"binary_data_size": len(raw)}
            blobs.append(raw)
        else:
            t["data"] = y.ravel().tolist()
        tensors.append(t)
    doc: dict[str, Any] = {"model_name": model.name, "model_version": str(model.version), "outputs": tensors}
    if request.id is not None:
        doc["id"] = request.id
    head = orjson.dumps(doc)
    return (head + b"".join(blobs), len(head)) if blobs else (head, None)


def _datatype(y: np.ndarray) -> str:
    for name, dtype in DATATYPES.items():
        if y.dtype == dtype:
            return name
    return "BYTES"


# -- the hot path ------------------------------------------------------------------------------------
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
        self._shadows: set[Any] = set()

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
        model_label, version_label, outcome, status = "", "", "ok", 200
        served: Served | None = None
        extra_headers: list[tuple[bytes, bytes]] = []
        try:
            name, ref = _target(scope["path"])
            body = await _read(receive, self.max_body)
            length = headers.get(HEADER_LENGTH.encode())
            request = decode(body, _int_header(length) if length is not None else None)
            device = request.parameters.get("device_id")
            device = str(device) if device is not None else None
            served, shadow = await self.deployments.resolve(name, ref, device)
            model_label, version_label = served.model.name, str(served.model.version)
            stats = self.metrics.of(served.model.name, served.model.version)
            stats.in_flight.inc()
            try:
                feed = served.model.validate(request.tensors)
                result = await served.infer(feed)
                payload, head_length = encode(served, request, result.outputs)
            finally:
                stats.in_flight.dec()
            stats.queue_seconds.observe(result.queue_s)
            if head_length is not None:
                extra_headers.append((b"inference-header-content-length", str(head_length).encode()))
            if shadow is not None:
                self._shadow(shadow, served, feed, result.outputs, rid, device)
            if self.recorder and self.payload_sample and random.random() < self.payload_sample:
                self._record(served, request, result.outputs, rid, device)
        except PrognosError as exc:
            status, outcome = error_status(exc), _outcome(exc)
            payload, head_length = orjson.dumps({"error": str(exc)}), None
            if status == 503:
                extra_headers.append((b"retry-after", b"1"))
        except Exception:  # a bug: answer 500 with the request id and keep serving
            log.exception("infer failed, request %s", rid)
            status, outcome = 500, "error"
            payload, head_length = orjson.dumps({"error": f"internal error, request id {rid}"}), None
        kind = b"application/octet-stream" if head_length is not None else b"application/json"
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", kind),
                    (b"content-length", str(len(payload)).encode()),
                    (b"x-request-id", rid.encode()),
                    *extra_headers,
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})
        seconds = time.perf_counter() - started
        if outcome == "ok" and served is not None:
            stats.ok.inc()
            stats.request_seconds.observe(seconds)
        else:
            known = model_label or ("" if outcome == "not_found" else "-")
            self.metrics.requests.labels(known, version_label, outcome).inc()
        if self.access_log and access.isEnabledFor(logging.INFO):
            access.info(
                orjson.dumps(
                    {
                        "request_id": rid,
                        "path": scope["path"],
                        "model": model_label or None,
                        "version": served.model.version if served else None,
                        "status": status,
                        "outcome": outcome,
                        "ms": round(seconds * 1000, 3),
                    }
                ).decode()
            )

    def _shadow(
        self, shadow: Served, primary: Served, feed: Any, outputs: list[np.ndarray], rid: str, device: str | None
    ) -> None:
        """Run the shadow on a copy of the request after answering it; record both outputs side by side."""
        labels = (shadow.model.name, str(shadow.model.version))
        try:
            future = shadow.batcher.submit(shadow.model.validate({n: (_datatype(a), a, {}) for n, a in feed.items()}))
        except PrognosError:  # full queue or another contract: skip, never slow the primary down
            self.metrics.shadow.labels(*labels, "skipped").inc()
            return

        def done(f: Any) -> None:
            if f.cancelled() or f.exception() is not None:
                self.metrics.shadow.labels(*labels, "error").inc()
                return
            self.metrics.shadow.labels(*labels, "ok").inc()
            if self.recorder:
                ts = int(time.time() * 1000)
                doc = {
                    "request_id": rid,
                    "ts": ts,
                    "device_id": device,
                    "model": primary.model.name,
                    "version": primary.model.version,
                    "shadow_version": shadow.model.version,
                    "outputs": _lists(primary.model.output_names, outputs),
                    "shadow_outputs": _lists(shadow.model.output_names, f.result().outputs),
                }
                self.recorder.add(SHADOW, f"{primary.model.name}/{ts:013d}/{rid}", doc)

        future.add_done_callback(done)

    def _record(
        self, served: Served, request: InferRequest, outputs: list[np.ndarray], rid: str, device: str | None
    ) -> None:
        assert self.recorder is not None
        ts = int(time.time() * 1000)
        doc = {
            "request_id": rid,
            "ts": ts,
            "device_id": device,
            "model": served.model.name,
            "version": served.model.version,
            "inputs": {
                n: {"shape": list(a.shape), "data": a.ravel().tolist()} for n, (_, a, _) in request.tensors.items()
            },
            "outputs": _lists(served.model.output_names, outputs),
        }
        self.recorder.add(PAYLOAD, f"{served.model.name}/{ts:013d}/{rid}", doc)


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


# -- the rest of the protocol (control plane, through Starlette) -------------------------------------
def routes(deployments: Deployments, respond: Callable[..., Response]) -> list[Route]:
    def oip_error(exc: PrognosError) -> Response:
        return respond({"error": str(exc)}, error_status(exc))

    async def server(request: Request) -> Response:
        return respond(
            {"name": "prognos", "version": __version__, "extensions": ["model_repository", "binary_tensor_data"]}
        )

    async def live(request: Request) -> Response:
        return respond({"live": True})

    async def ready(request: Request) -> Response:
        ok = deployments.started
        return respond({"ready": ok}, 200 if ok else 503)

    async def served_for(request: Request) -> Served:
        name, alias = _name(request.path_params["name"])
        ref = request.path_params.get("version") or alias
        served, _ = await deployments.resolve(name, ref, None)
        return served

    async def metadata(request: Request) -> Response:
        try:
            served = await served_for(request)
        except PrognosError as exc:
            return oip_error(exc)
        doc = served.model.metadata()
        name = served.model.name
        route = deployments.routes.get(name)
        doc["versions"] = sorted({str(k[1]) for k in deployments.loaded if k[0] == name})
        doc["parameters"]["serving"] = route.versions() if route else None
        return respond(doc)

    async def model_ready(request: Request) -> Response:
        """200 when the name (champion), alias or version answers; otherwise the reason, 404 or 503."""
        name, alias = _name(request.path_params["name"])
        try:
            await deployments.resolve(name, request.path_params.get("version") or alias, None)
        except PrognosError as exc:
            return respond({"name": name, "ready": False, "error": str(exc)}, error_status(exc))
        return respond({"name": name, "ready": True})

    async def index(request: Request) -> Response:
        names = await deployments.control(deployments.registry.names)
        rows = []
        for name in names:
            ok, reason = deployments.status(name)
            route = deployments.routes.get(name)
            version = str(route.primary.model.version) if route else ""
            rows.append({"name": name, "version": version, "state": "READY" if ok else "UNAVAILABLE", "reason": reason})
        return respond(rows)

    async def load(request: Request) -> Response:
        try:
            route = await deployments.load_name(request.path_params["name"])
        except PrognosError as exc:
            return oip_error(exc)
        return respond({"name": request.path_params["name"], "serving": route.versions()})

    async def unload(request: Request) -> Response:
        try:
            await deployments.unload_name(request.path_params["name"])
        except PrognosError as exc:
            return oip_error(exc)
        return respond({"name": request.path_params["name"], "state": "UNAVAILABLE"})

    return [
        Route("/v2", server, methods=["GET"]),
        Route("/v2/health/live", live, methods=["GET"]),
        Route("/v2/health/ready", ready, methods=["GET"]),
        Route("/v2/models/{name}", metadata, methods=["GET"]),
        Route("/v2/models/{name}/ready", model_ready, methods=["GET"]),
        Route("/v2/models/{name}/versions/{version}", metadata, methods=["GET"]),
        Route("/v2/models/{name}/versions/{version}/ready", model_ready, methods=["GET"]),
        Route("/v2/repository/index", index, methods=["POST"]),
        Route("/v2/repository/models/{name}/load", load, methods=["POST"]),
        Route("/v2/repository/models/{name}/unload", unload, methods=["POST"]),
    ]


def _name(text: str) -> tuple[str, str | None]:
    name, _, alias = text.partition("@")
    return name, alias or None
