"""Remaining-useful-life network: a 1D-CNN over a window, emitting three quantiles of RUL."""

from __future__ import annotations

import torch
from torch import nn

QUANTILES = (0.1, 0.5, 0.9)


class RULNet(nn.Module):
    """(batch, window, sensors) → (batch, 3): the 10 %, 50 % and 90 % quantiles of RUL.

    Convolutions along time find local degradation patterns in all sensors at once; a small dense
    head reads the whole window. The outer quantiles are the median minus/plus a softplus, so they
    can never cross: the interval is well formed by construction, in PyTorch and in ONNX alike.
    """

    def __init__(self, sensors: int, window: int, channels: int = 64, kernel: int = 5, layers: int = 3,
                 hidden: int = 64, dropout: float = 0.2) -> None:  # fmt: skip
        super().__init__()
        self.sensors = sensors
        blocks: list[nn.Module] = []
        for i in range(layers):
            blocks += [nn.Conv1d(sensors if i == 0 else channels, channels, kernel, padding="same"), nn.ReLU()]
        self.conv = nn.Sequential(*blocks)
        self.head = nn.Sequential(
            nn.Flatten(), nn.Dropout(dropout), nn.Linear(channels * window, hidden), nn.ReLU(), nn.Linear(hidden, 3)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.conv(x.transpose(1, 2))  # (batch, sensors, window) -> (batch, channels, window)
        q = self.head(z)  # (batch, 3)
        mid = q[:, 1]
        lo = mid - nn.functional.softplus(q[:, 0])
        hi = mid + nn.functional.softplus(q[:, 2])
        return torch.stack([lo, mid, hi], dim=1)


def pinball(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Squared error of the centre (RMSE is what the protocol scores) plus pinball loss of the outer quantiles."""
    q = torch.tensor(QUANTILES[::2], dtype=pred.dtype)
    err = target[:, None] - pred[:, ::2]  # (batch, 2): outer quantiles
    outer = torch.maximum(q * err, (q - 1) * err).sum(dim=1).mean()
    return ((pred[:, 1] - target) ** 2).mean() + outer
