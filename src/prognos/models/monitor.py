"""The classic multivariate monitor as a graph: PCA's Hotelling T² plus Q, per sensor, on a window's latest row.

It holds no learned weights of its own — the fitted PCA's mean, components and variances are buffers — so
the baseline exports to ONNX and serves exactly as the deep detector does, and the two can be compared and
swapped under one contract.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


class PCAMonitor(nn.Module):
    """(batch, window, sensors) → (batch, sensors): Q (the squared residual off the model plane) of each sensor in
    units of its mean on training data, plus T² (in units of its mean) spread evenly over the sensors."""

    def __init__(self, mean: np.ndarray, components: np.ndarray, variance: np.ndarray, t2_ref: float, q_ref: float):
        super().__init__()
        self.sensors = int(components.shape[1])
        self.mean: torch.Tensor
        self.components: torch.Tensor
        self.variance: torch.Tensor
        for name, value in (("mean", mean), ("components", components), ("variance", variance)):
            self.register_buffer(name, torch.as_tensor(np.asarray(value), dtype=torch.float32))
        self.t2_ref, self.q_ref = float(t2_ref), float(q_ref)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = x[:, -1, :] - self.mean
        t = p @ self.components.T
        t2 = (t * t / self.variance).sum(dim=1, keepdim=True) / self.t2_ref
        q = (p - t @ self.components) ** 2 / self.q_ref
        return q + t2 / self.sensors
