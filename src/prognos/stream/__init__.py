"""Scoring the incoming stream, device by device: plan.py (which versions score a device, on which windows),
windows.py (each window, and its state across restarts), predictions.py (a batch's answer read into predictions,
and their stored form), runner.py (the pipelined run loop), scorer.py (all of it, per batch), sink.py (where the
decisions go), view.py (a model card read as a window recipe and signals), bus.py and worker.py (scale-out over
MQTT), metrics.py."""

from prognos.stream.plan import Planner, parse_assignments
from prognos.stream.predictions import Prediction
from prognos.stream.scorer import Scorer
from prognos.stream.sink import Sink

__all__ = ["Planner", "Prediction", "Scorer", "Sink", "parse_assignments"]
