"""One readable training loop: mini-batches, Adam, early stopping on held-out units, best weights kept."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from prognos.errors import InvalidInput

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


@dataclass(frozen=True)
class Schedule:
    """How a network is trained: Adam's settings, the batches, and early stopping on the validation loss."""

    epochs: int = 60
    batch: int = 256
    lr: float = 1e-3
    weight_decay: float = 1e-5
    patience: int = 10  # epochs without a better validation loss before stopping
    seed: int = 0
    progress: bool = True
    desc: str = "train"


def fit(
    model: nn.Module,
    loss: Loss,
    train: tuple[np.ndarray, np.ndarray],
    validation: tuple[np.ndarray, np.ndarray],
    schedule: Schedule = Schedule(),
    on_epoch: EpochHook | None = None,
) -> History:
    """Train ``model`` in place on ``train`` = (x, y); on return it holds the weights of the best ``validation`` epoch.

    ``on_epoch(epoch, validation_loss)`` runs after every epoch; it may raise to stop (a search pruning).
    """
    s = schedule
    seed_everything(s.seed)
    xt, yt = (torch.as_tensor(a, dtype=torch.float32) for a in train)
    xv, yv = (torch.as_tensor(a, dtype=torch.float32) for a in validation)
    opt = torch.optim.Adam(model.parameters(), lr=s.lr, weight_decay=s.weight_decay)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=max(1, s.patience // 3))
    gen = torch.Generator().manual_seed(s.seed)
    history, best, best_state = History(), float("inf"), copy.deepcopy(model.state_dict())
    bar = tqdm(range(s.epochs), desc=s.desc, disable=not s.progress, leave=False)
    for epoch in bar:
        model.train()
        total = 0.0
        for idx in torch.randperm(len(xt), generator=gen).split(s.batch):
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
        elif epoch - history.best_epoch >= s.patience:
            break
    model.load_state_dict(best_state)
    model.eval()
    return history


def warm_start(model: nn.Module, artifact: str | None) -> None:
    """Start from an artifact's weights (fine-tuning) instead of a random initialisation."""
    if artifact is not None:
        load_weights(model, artifact)


def load_weights(net: Any, path: str | Path) -> None:
    """Copy an artifact's weights into ``net``; a network of another shape is refused by name."""
    state = torch.load(Path(path) / "model.pt", weights_only=True)
    try:
        net.load_state_dict(state)
    except RuntimeError as exc:
        detail = str(exc).strip().splitlines()[-1].strip()
        raise InvalidInput(
            f"--init-from {path}: its network does not fit this data ({detail})", field="init_from", value=str(path)
        ) from None


def predict(model: nn.Module, x: np.ndarray, batch: int = 4096) -> np.ndarray:
    model.eval()
    with torch.no_grad():
        xt = torch.as_tensor(x, dtype=torch.float32)
        return torch.cat([model(part) for part in xt.split(batch)]).numpy().astype(np.float64)
