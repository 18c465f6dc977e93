"""One loaded model version: an ONNX Runtime session, its tensor contract, and the checks on what it is fed.

No torch here: the server imports this. The contract comes from the ONNX graph itself (names, element
types, shapes) and the model card adds what the graph cannot say (which sensor each feature column is).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from prognos.contract import DATATYPES as ORT_TYPES
from prognos.errors import InvalidInput, ModelNotReady, require
from prognos.registry import Registry, Version

# What the OIP model metadata carries of an anomaly card's output: the cut, how it was set, the normal scores.
CALIBRATION = ("threshold", "calibration", "normal")

# Open Inference Protocol datatypes and their numpy types (BYTES: strings, carried as objects).
DATATYPES: dict[str, Any] = {
    "BOOL": np.bool_,
    "UINT8": np.uint8,
    "UINT16": np.uint16,
    "UINT32": np.uint32,
    "UINT64": np.uint64,
    "INT8": np.int8,
    "INT16": np.int16,
    "INT32": np.int32,
    "INT64": np.int64,
    "FP16": np.float16,
    "FP32": np.float32,
    "FP64": np.float64,
    "BYTES": np.object_,
}


@dataclass(frozen=True)
class TensorSpec:
    name: str
    datatype: str
    shape: tuple[int, ...]  # -1 where the graph leaves the size open

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "datatype": self.datatype, "shape": list(self.shape)}


class Model:
    """A published version, verified and loaded; ``run`` is synchronous and thread-safe (ORT sessions are)."""

    def __init__(self, version: Version, session: Any, load_seconds: float) -> None:
        self.name, self.version, self.card = version.name, version.version, version.card
        self.session = session
        self.load_seconds = load_seconds
        self.inputs = [_spec(t) for t in session.get_inputs()]
        self.outputs = [_spec(t) for t in session.get_outputs()]
        self.output_names = [t.name for t in self.outputs]
        self._by_name = {t.name: t for t in self.inputs}
        # Batches of requests are stacked on the first axis, so it must be open in every input.
        self.batchable = all(t.shape and t.shape[0] == -1 for t in self.inputs)
        self.sensors: list[str] | None = (self.card.get("input") or {}).get("sensors")

    @property
    def label(self) -> str:
        return f"{self.name} v{self.version}"

    def validate(self, tensors: Mapping[str, tuple[str, np.ndarray, Mapping[str, Any]]]) -> dict[str, np.ndarray]:
        """The ORT feed for request tensors ``name → (datatype, array, parameters)``, or a precise InvalidInput."""
        missing = [n for n in self._by_name if n not in tensors]
        if missing:
            raise InvalidInput(
                f"{self.label}: missing input {missing[0]!r} (inputs: {list(self._by_name)})",
                field="inputs",
                value=sorted(tensors),
            )
        feed = {}
        for name, (datatype, array, params) in tensors.items():
            spec = self._by_name.get(name)
            if spec is None:
                raise InvalidInput(
                    f"{self.label}: unknown input {name!r} (inputs: {list(self._by_name)})", field="inputs", value=name
                )
            if datatype != spec.datatype:
                raise InvalidInput(
                    f"{self.label}: input {name!r} has datatype {datatype}, expected {spec.datatype}",
                    field=f"inputs.{name}.datatype",
                    value=datatype,
                )
            _check_shape(self.label, spec, array.shape)
            if spec is self.inputs[0]:
                self._check_sensors(params.get("sensors"))
            feed[name] = array
        if self.batchable and len({a.shape[0] for a in feed.values()}) > 1:
            sizes = {n: a.shape[0] for n, a in feed.items()}
            raise InvalidInput(f"{self.label}: inputs disagree on the batch size: {sizes}", field="inputs", value=sizes)
        return feed

    def run(self, feed: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        return list(self.session.run(self.output_names, dict(feed)))

    def warm(self, rows: int) -> None:
        """Run zeros through at batch 1 and ``rows`` so the first real request pays no first-run allocation."""
        for n in sorted({1, max(1, rows)} if self.batchable else {1}):
            feed = {t.name: np.zeros(_example_shape(t.shape, n), DATATYPES[t.datatype]) for t in self.inputs}
            self.run(feed)

    def metadata(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "versions": [str(self.version)],
            "platform": "onnxruntime_onnx",
            "inputs": [t.to_dict() for t in self.inputs],
            "outputs": [t.to_dict() for t in self.outputs],
            "parameters": {
                "task": self.card.get("task"),
                "sensors": self.sensors,
                "window": self.card.get("window"),
                **{k: v for k, v in (self.card.get("output") or {}).items() if k in CALIBRATION},
            },
        }

    def _check_sensors(self, sensors: Any) -> None:
        """A client may name the sensor of each feature column; a different order would score garbage."""
        if sensors is None or self.sensors is None:
            return
        if list(sensors) != self.sensors:
            raise InvalidInput(
                f"{self.label}: sensors {list(sensors)} do not match the model's order {self.sensors}",
                field="parameters.sensors",
                value=list(sensors),
            )


def load(registry: Registry, version: Version, threads: int = 1) -> Model:
    """Verify the version's files against their checksums, then open an ORT session on its ONNX file."""
    ort = require("onnxruntime", "serve")
    started = time.perf_counter()
    folder = registry.verify(version)
    if version.archived:
        raise ModelNotReady(f"model {version.name} v{version.version} is archived")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3
    try:
        session = ort.InferenceSession(str(folder / "model.onnx"), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # ORT's own untyped errors: a file that passed its checksum but is not a model
        raise ModelNotReady(
            f"model {version.name} v{version.version}: ONNX Runtime cannot load it ({str(exc).splitlines()[0]})"
        ) from None
    return Model(version, session, time.perf_counter() - started)


def _spec(t: Any) -> TensorSpec:
    shape = tuple(d if isinstance(d, int) and d >= 0 else -1 for d in t.shape)
    return TensorSpec(t.name, ORT_TYPES.get(t.type, t.type), shape)


def _check_shape(label: str, spec: TensorSpec, shape: tuple[int, ...]) -> None:
    fits = len(shape) == len(spec.shape) and all(e in (-1, g) for e, g in zip(spec.shape, shape, strict=True))
    if not fits:
        raise InvalidInput(
            f"{label}: input {spec.name!r} has shape {list(shape)}, expected {list(spec.shape)} (-1: any size)",
            field=f"inputs.{spec.name}.shape",
            value=list(shape),
        )


def _example_shape(shape: tuple[int, ...], rows: int) -> tuple[int, ...]:
    return tuple(rows if i == 0 and d == -1 else (1 if d == -1 else d) for i, d in enumerate(shape))
