"""Hyper-parameter search with Optuna: TPE sampling, median pruning on the validation loss per epoch.

Model selection uses validation data drawn from the training data only. With ``storage`` (an
Optuna RDB URL such as ``postgresql://…``) several ``prognos train --trials`` processes on several
machines share one study: that is how the search scales out, with no cluster code of our own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from prognos.errors import require

Objective = Callable[[dict[str, Any], Callable[[int, float], None]], float]

# task -> trial -> hyper-parameters of that task's deep estimator
SPACES: dict[str, Callable[[Any], dict[str, Any]]] = {
    "rul": lambda t: {
        "hidden": t.suggest_categorical("hidden", [32, 64, 128]),
        "dropout": t.suggest_float("dropout", 0.0, 0.5),
        "noise": t.suggest_float("noise", 0.0, 0.6),
        "lr": t.suggest_float("lr", 3e-4, 3e-3, log=True),
    },
    "anomaly": lambda t: {
        "channels": t.suggest_categorical("channels", [16, 32, 64]),
        "kernel": t.suggest_categorical("kernel", [3, 5, 7, 9]),
        "dropout": t.suggest_float("dropout", 0.0, 0.4),
        "lr": t.suggest_float("lr", 3e-4, 3e-3, log=True),
    },
    "classify": lambda t: {
        "channels": t.suggest_categorical("channels", [16, 32, 64]),
        "hidden": t.suggest_categorical("hidden", [32, 64, 128]),
        "dropout": t.suggest_float("dropout", 0.0, 0.5),
        "lr": t.suggest_float("lr", 3e-4, 3e-3, log=True),
    },
}


@dataclass(frozen=True)
class Search:
    """A hyper-parameter search: how many trials, and where the study lives (None: in memory, this process only)."""

    trials: int = 0
    storage: str | None = None  # an Optuna RDB URL (postgresql://…) shared by several searching processes
    study: str | None = None  # the study's name (joined if it exists in ``storage``)


def tune(task: str, objective: Objective, search: Search, seed: int = 0) -> dict[str, Any]:
    """Run ``search.trials`` trials of ``objective(params, report)`` (lower is better); return the best
    params with a summary of the search, for the model card."""
    optuna = require("optuna", "train")
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    def run(trial: Any) -> float:
        def report(epoch: int, value: float) -> None:
            trial.report(value, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()

        return objective(SPACES[task](trial), report)

    s = optuna.create_study(
        direction="minimize",
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=3),
        storage=search.storage,
        study_name=search.study,
        load_if_exists=search.study is not None,
    )
    s.optimize(run, n_trials=search.trials, show_progress_bar=True)
    states = [t.state.name for t in s.trials]
    where = search.storage and search.storage.split("@")[-1]  # never the credentials
    return {
        "params": s.best_params,
        "best_validation_loss": s.best_value,
        "trials": len(states),
        "pruned": states.count("PRUNED"),
        "study": s.study_name,
        "storage": where,
    }
