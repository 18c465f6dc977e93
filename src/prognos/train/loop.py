"""One readable training loop: mini-batches, Adam, early stopping on held-out units, best weights kept."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
EpochHook = Callable[[int, float], None]


@dataclass
class History:
    train: list[float] = field(default_factory=list)
    validation: list[float] = field(default_factory=list)
    best_epoch: int = 0


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed)


def fit(
    model: nn.Module,
    loss: Loss,
    x: np.ndarray,
    y: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    *,
    epochs: int = 60,
    batch: int = 256,
    lr: float = 1e-3,
    weight_decay: float = 1e-5,
    patience: int = 10,
    seed: int = 0,
    progress: bool = True,
    desc: str = "train",
    on_epoch: EpochHook | None = None,
) -> History:
    """Train ``model`` in place; on return it holds the weights of the best validation epoch.

    ``on_epoch(epoch, validation_loss)`` runs after every epoch; it may raise to stop (a search pruning).
    """
    seed_everything(seed)
    xt, yt = torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y, dtype=torch.float32)
    xv, yv = torch.as_tensor(x_val, dtype=torch.float32), torch.as_tensor(y_val, dtype=torch.float32)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=max(1, patience // 3))
    gen = torch.Generator().manual_seed(seed)
    history, best, best_state = History(), float("inf"), copy.deepcopy(model.state_dict())
    bar = tqdm(range(epochs), desc=desc, disable=not progress, leave=False)
    for epoch in bar:
        model.train()
        total = 0.0
        for idx in torch.randperm(len(xt), generator=gen).split(batch):
            opt.zero_grad()
            batch_loss = loss(model(xt[idx]), yt[idx])
            batch_loss.backward()
            opt.step()
            total += batch_loss.item() * len(idx)
        model.eval()
        with torch.no_grad():
            val = loss(model(xv), yv).item()
        sched.step(val)
        history.train.append(total / len(xt))
        history.validation.append(val)
        bar.set_postfix(loss=f"{history.train[-1]:.3f}", val=f"{val:.3f}")
        if on_epoch is not None:
            on_epoch(epoch, val)
        if val < best - 1e-6:
            best, best_state, history.best_epoch = val, copy.deepcopy(model.state_dict()), epoch
        elif epoch - history.best_epoch >= patience:
            break
    model.load_state_dict(best_state)
    model.eval()
    return history


def warm_start(model: nn.Module, artifact: str | None) -> None:
    """Start from an artifact's weights (fine-tuning) instead of a random initialisation."""
    if artifact is not None:
        from prognos.train.artifact import load_weights

        load_weights(model, artifact)


def predict(model: nn.Module, x: np.ndarray, batch: int = 4096) -> np.ndarray:
    model.eval()
    with torch.no_grad():
        xt = torch.as_tensor(x, dtype=torch.float32)
        return torch.cat([model(part) for part in xt.split(batch)]).numpy().astype(np.float64)
