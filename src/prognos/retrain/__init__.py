"""Retraining, at the edge of the house: it drives training (in another process), the registry, the deployments
and the stream's shadow — retrainer.py (policies → runs → decisions), compare.py (champion against challenger),
challenger.py (a challenger trained in a process of its own)."""

from prognos.retrain.retrainer import Job, Retrainer, Run

__all__ = ["Job", "Retrainer", "Run"]
