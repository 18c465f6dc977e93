"""The Open Inference Protocol v2 tensor codec (KServe's and Triton's), with its binary tensor extension.

A request is JSON — ``{"id", "parameters", "inputs": [{"name", "datatype", "shape", "data"}], "outputs"}`` —
optionally followed by binary tensors (an input's ``parameters.binary_data_size`` instead of its ``data``), the
JSON header's length given in the ``inference-header-content-length`` header; the answer has the same form.
`decode` names the first thing wrong with a request; `encode` writes a model's outputs as asked. No web framework
here: the server's hot path calls it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from prognos.errors import InvalidInput
from prognos.inference.runtime import DATATYPES, Model

HEADER_LENGTH = "inference-header-content-length"
_INTEGERS = {k for k, v in DATATYPES.items() if k != "BOOL" and np.dtype(v).kind in "iu"}
_FLOATS = {"FP16", "FP32", "FP64"}


@dataclass
class InferRequest:
    id: str | None
    parameters: dict[str, Any]
    tensors: Mapping[str, tuple[str, np.ndarray, Mapping[str, Any]]]
    outputs: list[tuple[str, bool]] | None  # requested outputs and whether each goes back as binary
    binary: bool  # every output binary unless named otherwise


# -- decoding ---------------------------------------------------------------------------------
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
    """One input tensor: (name, datatype, array, parameters, where the next binary tensor starts)."""
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
    if "binary_data_size" in params:
        array, offset = _binary(where, datatype, shape, params["binary_data_size"], blob, offset)
        return name, datatype, array, params, offset
    if "data" not in t:
        raise InvalidInput(f"{where}.data: missing (or give parameters.binary_data_size)", field=f"{where}.data")
    return name, datatype, _listed(where, datatype, shape, t["data"]), params, offset


def _binary(where: str, datatype: str, shape: list[int], n: Any, blob: bytes, offset: int) -> tuple[np.ndarray, int]:
    """A tensor sent in binary after the JSON header, ``n`` bytes from ``offset``; the offset after it."""
    if not isinstance(n, int) or n < 0 or offset + n > len(blob):
        raise InvalidInput(
            f"{where}.parameters.binary_data_size: {n!r} bytes are not in the body",
            field=f"{where}.parameters.binary_data_size",
            value=n,
        )
    if datatype == "BYTES":
        raise InvalidInput(f"{where}: binary BYTES tensors are not supported", field=f"{where}.datatype")
    dtype = np.dtype(DATATYPES[datatype])
    if n != math.prod(shape) * dtype.itemsize:
        raise InvalidInput(
            f"{where}: shape {shape} of {datatype} needs {math.prod(shape) * dtype.itemsize} bytes, got {n}",
            field=f"{where}.parameters.binary_data_size",
            value=n,
        )
    return np.frombuffer(blob[offset : offset + n], dtype).reshape(shape), offset + n


def _listed(where: str, datatype: str, shape: list[int], data: Any) -> np.ndarray:
    """A tensor given as JSON ``data`` (flat or nested), checked against its datatype and shape."""
    size, dtype = math.prod(shape), DATATYPES[datatype]
    if datatype in _FLOATS and isinstance(data, list) and len(data) == size and isinstance(data[0], float | int):
        try:  # the common case, flat numbers: fromiter skips numpy's nesting inference
            return np.fromiter(data, dtype, size).reshape(shape)
        except (ValueError, TypeError):
            pass  # a stray non-number: the general path below says what is wrong
    try:
        if datatype in _INTEGERS or datatype == "BOOL":  # numpy would truncate 1.5 to 1 without a word
            kind = np.array(data).dtype.kind
            if kind not in ("b" if datatype == "BOOL" else "iub") and np.size(data):
                raise ValueError(f"{'booleans' if datatype == 'BOOL' else 'integers'} expected")
        array = np.array(data, dtype=dtype)
    except (ValueError, TypeError, OverflowError) as exc:
        raise InvalidInput(f"{where}.data: not a {datatype} array ({exc})", field=f"{where}.data") from None
    if array.size != size:
        raise InvalidInput(
            f"{where}.data: shape {shape} needs {size} values, got {array.size}",
            field=f"{where}.data",
            value=array.size,
        )
    return array.reshape(shape)


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


# -- encoding ---------------------------------------------------------------------------------
def encode(model: Model, request: InferRequest, outputs: list[np.ndarray]) -> tuple[bytes, int | None]:
    """The response body and, when tensors go back as binary, the length of its JSON header."""
    by_name = dict(zip(model.output_names, outputs, strict=True))
    wanted = request.outputs or [(n, request.binary) for n in model.output_names]
    tensors, blobs = [], []
    for name, binary in wanted:
        if name not in by_name:
            raise InvalidInput(
                f"{model.label}: unknown output {name!r} (outputs: {model.output_names})", field="outputs", value=name
            )
        y = by_name[name]
        t: dict[str, Any] = {"name": name, "shape": list(y.shape), "datatype": datatype_of(y)}
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


def datatype_of(y: np.ndarray) -> str:
    for name, dtype in DATATYPES.items():
        if y.dtype == dtype:
            return name
    return "BYTES"
