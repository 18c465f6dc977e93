"""What a model artifact's card promises, checked against what its ONNX graph takes and gives.

The card says which input the stream builds — its window, its sensors, in that order — and which output it
reads; the graph decides what ONNX Runtime accepts. An artifact whose two disagree (a card for 30-step windows
on a graph that takes 50, four sensors for a graph with three feature columns, an output the graph lacks) would
load and then fail every window it is given, so publishing refuses it and says what disagrees.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NoReturn

from prognos.errors import InvalidInput, require

# ONNX Runtime's element types as Open Inference Protocol datatypes.
DATATYPES = {
    "tensor(bool)": "BOOL",
    "tensor(uint8)": "UINT8",
    "tensor(uint16)": "UINT16",
    "tensor(uint32)": "UINT32",
    "tensor(uint64)": "UINT64",
    "tensor(int8)": "INT8",
    "tensor(int16)": "INT16",
    "tensor(int32)": "INT32",
    "tensor(int64)": "INT64",
    "tensor(float16)": "FP16",
    "tensor(float)": "FP32",
    "tensor(double)": "FP64",
    "tensor(string)": "BYTES",
}
_CARD_DTYPES = {"float32": "FP32", "float64": "FP64", "float16": "FP16", "int64": "INT64", "int32": "INT32"}

Tensor = dict[str, Any]  # {"name", "shape" (None where open), "datatype"}


def graph(path: Path) -> tuple[list[Tensor], list[Tensor]]:
    """The inputs and outputs of the ONNX file at ``path``, or InvalidInput when ONNX Runtime cannot load it."""
    ort = require("onnxruntime", "serve")
    try:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as exc:  # ORT raises its own untyped errors for a file that is not a model
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InvalidInput(
            f"{path}: not a loadable ONNX model ({reason})", field="model.onnx", value=str(path)
        ) from None
    return _tensors(session.get_inputs()), _tensors(session.get_outputs())


def check(card: dict[str, Any], inputs: list[Tensor], outputs: list[Tensor], where: str) -> None:
    """Refuse (InvalidInput naming the card's field) a card that promises what the graph does not do."""
    for kind, actual in (("inputs", inputs), ("outputs", outputs)):
        for i, declared in enumerate(card.get(kind) or []):
            field = f"card.{kind}[{i}]"
            _same(field, declared, _named(actual, declared.get("name"), f"{field}.name", where), where)
    declared_in = card.get("input") or {}
    graph_in = (
        _named(inputs, declared_in.get("name"), "card.input.name", where) if declared_in.get("name") else inputs[0]
    )
    _same("card.input", {"shape": declared_in.get("shape"), "dtype": declared_in.get("dtype")}, graph_in, where)
    if card.get("window") is not None:
        _stream_input(card, graph_in, where)
    output = (card.get("output") or {}).get("name")
    if output is not None:
        _named(outputs, output, "card.output.name", where)


def _stream_input(card: dict[str, Any], tensor: Tensor, where: str) -> None:
    """The stream feeds a windowed model (batch, window, sensors): the graph must take that."""
    shape, window = tensor["shape"], int(card["window"])
    if len(shape) != 3:
        _refuse(
            where,
            "card.window",
            window,
            f"the stream feeds (batch, window, sensors); input {tensor['name']!r} is {shape}",
        )
    if shape[1] is not None and shape[1] != window:
        _refuse(
            where, "card.window", window, f"the card's window is {window}, the graph's input takes {shape[1]} steps"
        )
    sensors = (card.get("input") or {}).get("sensors")
    if sensors is not None and shape[2] is not None and len(sensors) != shape[2]:
        _refuse(
            where, "card.input.sensors", sensors, f"the card names {len(sensors)} sensors, the graph takes {shape[2]}"
        )


def _same(field: str, declared: dict[str, Any], actual: Tensor, where: str) -> None:
    shape = declared.get("shape")
    if shape is not None:
        open_or_equal = all(d is None or g is None or d == g for d, g in zip(shape, actual["shape"], strict=False))
        if len(shape) != len(actual["shape"]) or not open_or_equal:
            _refuse(where, f"{field}.shape", shape, f"{actual['name']!r} has shape {actual['shape']} in the graph")
    datatype = declared.get("datatype") or _CARD_DTYPES.get(declared.get("dtype") or "")
    if datatype is not None and datatype != actual["datatype"]:
        _refuse(where, f"{field}.datatype", datatype, f"{actual['name']!r} is {actual['datatype']} in the graph")


def _named(tensors: list[Tensor], name: Any, field: str, where: str) -> Tensor:
    found = next((t for t in tensors if t["name"] == name), None)
    if found is None:
        _refuse(where, field, name, f"the graph has no {name!r} (it has {[t['name'] for t in tensors]})")
    return found


def _refuse(where: str, field: str, value: Any, why: str) -> NoReturn:
    raise InvalidInput(f"{where}: card and graph disagree: {field}: {why}", field=field, value=value)


def _tensors(items: Any) -> list[Tensor]:
    return [
        {
            "name": t.name,
            "shape": [d if isinstance(d, int) and d >= 0 else None for d in t.shape],
            "datatype": DATATYPES.get(t.type, t.type),
        }
        for t in items
    ]
