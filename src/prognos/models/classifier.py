"""Fault / device-state network: a 1D-CNN over a window, emitting class probabilities."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


class WindowClassifier(nn.Module):
    """(batch, window, sensors) → (batch, classes) probabilities.

    Two convolutions find local patterns; the head reads their average over the window and their
    value at the latest step (a state is what the device is doing now). The softmax is part of the
    graph, so the exported model answers in probabilities.
    """

    def __init__(
        self, sensors: int, classes: int, channels: int = 32, kernel: int = 5, hidden: int = 64, dropout: float = 0.2
    ) -> None:
        super().__init__()
        self.sensors, self.classes = sensors, classes
        self.conv = nn.Sequential(
            nn.Conv1d(sensors, channels, kernel, padding="same"),
            nn.ReLU(),
            nn.Conv1d(channels, channels, kernel, padding="same"),
            nn.ReLU(),
        )
        self.head = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(2 * channels + sensors, hidden), nn.ReLU(), nn.Linear(hidden, classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.conv(x.transpose(1, 2))  # (batch, channels, window)
        features = torch.cat([z.mean(dim=2), z[:, :, -1], x[:, -1]], dim=1)
        return torch.softmax(self.head(features), dim=1)


def weighted_nll(weights: torch.Tensor) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """Cross-entropy on probabilities, with per-class weights against rare faults being ignored."""

    def loss(prob: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return nn.functional.nll_loss(torch.log(prob.clamp_min(1e-9)), target.long(), weight=weights)

    return loss
