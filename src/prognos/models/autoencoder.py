"""Anomaly network: a convolutional autoencoder whose output is the per-sensor reconstruction error.

The graph ends in the explanation, not the reconstruction: ONNX gives the server one (batch, sensors)
tensor per call — each sensor's share of the anomaly — and the score is its sum. Nothing about the
error has to be recomputed outside the model, so training, export and serving agree by construction.
"""

from __future__ import annotations

import torch
from torch import nn


class ConvAutoencoder(nn.Module):
    """(batch, window, sensors) → (batch, sensors): mean squared reconstruction error of each sensor,
    divided by that sensor's typical error on normal training data (``scale``, set after fitting)."""

    def __init__(self, sensors: int, window: int, channels: int = 32, kernel: int = 7, dropout: float = 0.2) -> None:
        super().__init__()
        pad = kernel // 2
        self.sensors, self.window = sensors, window
        self.encode = nn.Sequential(
            nn.Conv1d(sensors, channels, kernel, stride=2, padding=pad),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Conv1d(channels, channels // 2, kernel, stride=2, padding=pad),
            nn.ReLU(),
        )
        self.decode = nn.Sequential(
            nn.ConvTranspose1d(channels // 2, channels // 2, kernel, stride=2, padding=pad, output_padding=1),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.ConvTranspose1d(channels // 2, channels, kernel, stride=2, padding=pad, output_padding=1),
            nn.ReLU(),
            nn.Conv1d(channels, sensors, kernel, padding=pad),
        )
        self.scale: torch.Tensor
        self.register_buffer("scale", torch.ones(sensors))

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        z = x.transpose(1, 2)  # (batch, sensors, window)
        return self.decode(self.encode(z))[:, :, : self.window].transpose(1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return ((self.reconstruct(x) - x) ** 2).mean(dim=1) / self.scale


def reconstruction_loss(errors: torch.Tensor, _target: torch.Tensor) -> torch.Tensor:
    """The training loss is the model's own output, averaged: it already is the reconstruction error."""
    return errors.mean()
