"""PyTorch → ONNX, with the parity check every exported model must pass."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from prognos.errors import PrognosError

PARITY_TOLERANCE = 1e-4


class ParityError(PrognosError, AssertionError):
    """The ONNX model does not reproduce the PyTorch model within tolerance."""


def to_onnx(
    model: nn.Module, example: np.ndarray, path: str | Path, input_name: str = "x", output_name: str = "y"
) -> Path:
    """Export with a dynamic batch dimension to one self-contained file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model.eval()
    x = torch.as_tensor(example[:2], dtype=torch.float32)
    for name in ("onnx_ir", "onnxscript"):  # and as INFO logs
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.getLogger("torch.onnx._internal.exporter._registration").setLevel(logging.ERROR)  # "no torchvision"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter narrates its passes as warnings
        torch.onnx.export(
            model,
            (x,),
            str(path),
            input_names=[input_name],
            output_names=[output_name],
            dynamic_shapes={"x": {0: torch.export.Dim("batch")}},
            dynamo=True,
            external_data=False,
            verbose=False,
        )
    return path


def parity(model: nn.Module, path: str | Path, x: np.ndarray) -> float:
    """Max |ONNX - PyTorch| over ``x``; raises `ParityError` above `PARITY_TOLERANCE`."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    got = session.run(None, {name: x.astype(np.float32)})[0]
    model.eval()
    with torch.no_grad():
        want = model(torch.as_tensor(x, dtype=torch.float32)).numpy()
    diff = float(np.max(np.abs(got - want)))
    if not diff <= PARITY_TOLERANCE:
        raise ParityError(f"ONNX differs from PyTorch by {diff:.3g} (tolerance {PARITY_TOLERANCE})")
    return diff
