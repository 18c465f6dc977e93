"""A trained model as files: ONNX (float and int8), and a model card that says everything about it.

    <dir>/model.onnx        float32, dynamic batch
    <dir>/model.int8.onnx   dynamically quantised; its accuracy delta against float is in the card
    <dir>/card.json         task, input schema, window, scaler, metrics, params, data hash, versions, sha256 of files

The card is plain JSON so the registry and the server read it without torch.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import platform
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch

from prognos import __version__
from prognos.errors import InvalidInput
from prognos.features.drift import output_columns, reference
from prognos.train.export import parity


@dataclass(frozen=True)
class Spec:
    """What the model eats: the feature pipeline a server must reproduce."""

    task: str
    sensors: list[str]
    window: int
    scaler: dict[str, Any]
    output: dict[str, Any]


def data_hash(*arrays: np.ndarray) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass
class Fitted:
    """A fitted estimator (with ``net_`` and ``to_onnx``) and the windows it was fitted on: what `package` writes."""

    model: Any
    spec: Spec
    x: np.ndarray  # training windows: the export's example and the drift reference
    held_out: np.ndarray  # windows it did not train on: ONNX parity and the int8 delta are measured there
    seconds: float  # training time
    metrics: dict[str, Any] = field(default_factory=dict)  # what training measured of it (a contest's table)


def package(fitted: Fitted, out: str | Path, *, name: str, metrics: dict[str, Any], data: dict[str, Any]) -> Path:
    """Write the artifact folder of ``fitted``; return the card's path."""
    model, spec, example, held_out = fitted.model, fitted.spec, fitted.x, fitted.held_out
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    fp32 = model.to_onnx(out / "model.onnx", example)
    diff = parity(model.net_, fp32, held_out)
    int8 = quantise(fp32, out / "model.int8.onnx")
    weights = out / "model.pt"  # the PyTorch weights: what --init-from fine-tunes
    torch.save(model.net_.state_dict(), weights)
    card = {
        "name": name,
        "task": spec.task,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "input": {
            "name": "x",
            "dtype": "float32",
            "shape": [None, spec.window, len(spec.sensors)],
            "sensors": spec.sensors,
        },
        "output": {"name": "y", "dtype": "float32", **spec.output},
        "window": spec.window,
        "scaler": spec.scaler,
        "metrics": metrics,
        "onnx_parity_max_abs_diff": diff,
        "int8": int8_delta(fp32, int8, held_out),
        "reference": _reference(example, spec.sensors),
        "reference_output": _reference_output(fp32, example, spec),
        "params": model.get_params(),
        "data": data,
        "training_seconds": fitted.seconds,
        "versions": _versions(),
        "files": {p.name: sha256(p) for p in (fp32, int8, weights)},
    }
    path = out / "card.json"
    path.write_text(json.dumps(card, indent=1, default=_jsonable))
    return path


def quantise(fp32: Path, out: Path) -> Path:
    """Dynamic int8 (weights int8, activations quantised at run time); measure before shipping it (see card)."""
    import tempfile

    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory() as tmp:
        # The exporter annotates intermediate shapes that the quantiser's own inference contradicts;
        # they are redundant (ONNX re-infers them), so drop them before quantising.
        graph = onnx.load(str(fp32))
        del graph.graph.value_info[:]
        prepared = Path(tmp) / "prepared.onnx"
        onnx.save(graph, str(prepared))
        logging.disable(logging.WARNING)  # the quantiser logs every tensor it leaves alone
        try:
            quantize_dynamic(str(prepared), str(out), weight_type=QuantType.QInt8)
        finally:
            logging.disable(logging.NOTSET)
    return out


def int8_delta(fp32: Path, int8: Path, x: np.ndarray) -> dict[str, float]:
    """How far int8 strays from float on held-out windows (in the model's output units)."""
    import onnxruntime as ort

    outs = []
    for path in (fp32, int8):
        s = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        outs.append(s.run(None, {s.get_inputs()[0].name: x.astype(np.float32)})[0])
    d = np.abs(outs[0] - outs[1])
    return {"max_abs_diff": float(d.max()), "mean_abs_diff": float(d.mean())}


def _reference(example: np.ndarray, sensors: list[str]) -> dict[str, Any] | None:
    """What training inputs looked like (scaled units, each window's latest row): drift is measured against it."""
    rows = example[:, -1, :] if example.ndim == 3 else example
    return reference(rows, sensors) if rows.ndim == 2 and rows.shape[1] == len(sensors) else None


def _reference_output(fp32: Path, example: np.ndarray, spec: Spec) -> dict[str, Any]:
    """What the model said about its training windows: prediction drift is measured against it."""
    import onnxruntime as ort

    s = ort.InferenceSession(str(fp32), providers=["CPUExecutionProvider"])
    y = s.run(None, {s.get_inputs()[0].name: example.astype(np.float32)})[0]
    cols = output_columns(spec.task, y, spec.output)
    return reference(np.column_stack(list(cols.values())), list(cols))


def _versions() -> dict[str, str]:
    out = {"prognos": __version__, "python": platform.python_version()}
    for pkg in ("torch", "onnx", "onnxruntime", "numpy", "scikit-learn"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[pkg] = metadata.version(pkg)
    return out


def _jsonable(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    return str(v)


def parent(path: str | Path, task: str) -> dict[str, Any]:
    """The card of an artifact to fine-tune from, checked: same task, weights present and intact."""
    card_path = Path(path) / "card.json"
    if not card_path.is_file():
        raise InvalidInput(f"--init-from {path}: no model card there", field="init_from", value=str(path))
    card = json.loads(card_path.read_text())
    if card["task"] != task:
        raise InvalidInput(
            f"--init-from {path}: a {card['task']} model cannot start a {task} model",
            field="init_from",
            value=card["task"],
        )
    weights = Path(path) / "model.pt"
    if "model.pt" not in card["files"] or not weights.is_file() or sha256(weights) != card["files"]["model.pt"]:
        raise InvalidInput(
            f"--init-from {path}: model.pt is missing or does not match its checksum",
            field="init_from",
            value=str(weights),
        )
    return card
