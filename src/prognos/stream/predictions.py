"""What a model version said about a device's window, from the answer to its batch to the reading it is stored as.

A `Job` is one served version's windows of a batch, submitted to its batcher the moment they are complete; its
`predictions` await the answer and read it through the version's `View` into signals. A prediction is stored as a
reading of its device, every numeric signal under ``pred.<model>.<signal>`` (``pred.<model>.shadow.…`` for a
shadow version) with ``pred.<model>.version`` beside them (the key scheme is `prognos.types.prediction_key`), so it
charts and queries like a sensor.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from prognos.inference.batching import Result
from prognos.stream.metrics import StreamMetrics
from prognos.stream.view import View, Window
from prognos.types import Reading, prediction_key

log = logging.getLogger(__name__)

DRIFTS = frozenset({"drift.psi", "drift.ks", "drift.pred.psi", "drift.pred.ks"})  # on every prediction


@dataclass
class Prediction:
    device_id: str
    ts: int  # the window's end
    model: str
    version: int
    signals: dict[str, Any]
    device_type: str | None = None
    explanation: dict[str, Any] = field(default_factory=dict)
    output: Any = field(default=None, repr=False)  # the model's output row, for `explain`
    view: View | None = field(default=None, repr=False)
    drifts: dict[str, float] = field(default_factory=dict, repr=False)  # every drift figure, on the measuring one

    def explain(self) -> dict[str, Any]:
        """The explanation with the top sensors (computed now: most predictions never need it)."""
        return {**(self.view.explain(self.output) if self.view is not None else {}), **self.explanation}

    def reading(self, shadow: bool = False) -> Reading:
        """The prediction as a reading of its device: its version and every numeric signal (raw inputs left out)."""
        head = prediction_key(self.model, "", shadow)  # "pred.<model>." or "pred.<model>.shadow."
        values = {f"{head}version": float(self.version)}
        for k, v in (self.signals | self.drifts).items():
            if type(v) in (int, float) and not k.startswith("raw."):
                values[f"{head}{k}"] = float(v)
        return Reading(self.device_id, self.ts, values)


@dataclass(frozen=True)
class Watch:
    """What a prediction carries beside the model's own signals: ``raw.<sensor>`` only when a rule reads one, and
    which drift figures (the fleet-wide ones always, per-sensor ones when read)."""

    raw: bool = False
    drifts: frozenset[str] = DRIFTS

    @classmethod
    def of(cls, signals: frozenset[str]) -> Watch:
        """For rules that read ``signals``."""
        return cls(any(s.startswith("raw.") for s in signals), DRIFTS | {s for s in signals if s.startswith("drift.")})


@dataclass
class Job:
    """One served version's windows of a batch, submitted: what is known of them before the answer."""

    view: View
    items: list[Window]
    types: dict[str, str | None]  # each device's type, for its rules
    latest: np.ndarray  # each window's latest scaled row as training would see it: input drift is measured on it
    answer: asyncio.Future[Result] | None  # None: not taken (logged)
    shadow: bool
    drifts: dict[str, float] = field(default_factory=dict)
    remeasured: bool = False  # the drift figures were measured anew with this batch

    @classmethod
    def submit(cls, view: View, items: list[Window], types: dict[str, str | None], shadow: bool) -> Job:
        """The windows to the version's batcher now: a large batch computes while the caller goes on."""
        latest = np.empty((0, 0))
        answer = None
        try:
            feed, latest = view.feed(items)
            answer = view.served.infer(feed)
        except Exception as exc:  # this version's windows are lost; the other models' are not
            not_scored(view, items, exc)
        return cls(view, items, types, latest, answer, shadow)

    def measure_inputs(self) -> None:
        """Input drift with this batch's windows (no answer needed: it runs while the model computes)."""
        if not self.shadow and self.answer is not None:
            self.drifts, self.remeasured = self.view.input_drift(self.latest)

    async def predictions(self, watch: Watch, metrics: StreamMetrics | None = None) -> list[Prediction]:
        """The answer, read into a prediction per window (none when the version could not answer)."""
        if self.answer is None:
            return []
        try:
            result = await self.answer
        except Exception as exc:  # ONNX Runtime refusing the windows, say: only this version's are lost
            not_scored(self.view, self.items, exc)
            return []
        view, y = self.view, result.outputs[0]
        drifts, remeasured = self.drifts, self.remeasured
        if not self.shadow:
            more, again = view.output_drift(y)
            drifts, remeasured = drifts | more, remeasured or again
        if metrics is not None:
            metrics.scored(view.name, view.version, len(self.items), drifts)
        common = {k: v for k, v in drifts.items() if k in watch.drifts}
        span = (view.window - 1) * view.step
        out = []
        devices = [device for device, _, _ in self.items]
        for i, ((device, end, x), signals) in enumerate(zip(self.items, view.signals(y, devices), strict=True)):
            if common:
                signals |= common
            if watch.raw:
                signals |= view.raw(x)
            window = {"window": [end - span, end]}
            out.append(
                Prediction(device, end, view.name, view.version, signals, self.types[device], window, y[i], view)
            )
        if remeasured and out:
            out[0].drifts = drifts  # every drift figure, kept once per measurement rather than per window
        return out


def not_scored(view: View, items: Sequence[Any], exc: Exception) -> None:
    """Windows lost to a version's failure: counted for health, logged once per run of the same failure."""
    why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if view.lose(len(items), why):
        log.error("%s: %d windows not scored: %s", view.served.model.label, len(items), why)
