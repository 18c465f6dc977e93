"""What every estimator shares (scikit-learn's contract): the constructor stores hyper-parameters, ``fit`` learns —
its state ends in ``_`` — and returns self, ``get_params`` gives the hyper-parameters back for the model card.
The deep ones learn a PyTorch network ``net_`` whose graph computes ``predict`` (exported to ONNX as it is)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from prognos.train import export, loop
from prognos.train.estimators.inputs import windows


class Estimator:
    def get_params(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if not k.endswith("_")}


class Deep:
    """Mixed into an estimator whose learned state is the network ``net_``: its output is what the graph outputs."""

    net_: Any  # an nn.Module whose ``sensors`` is its input's width

    def forward(self, x: np.ndarray) -> np.ndarray:
        """The network's output on windows ``x`` (checked against the sensors it was trained on)."""
        return loop.predict(self.net_, windows(x, "x", self.net_.sensors))

    def to_onnx(self, path: str | Path, example: np.ndarray) -> Path:
        return export.to_onnx(self.net_, example, path)
