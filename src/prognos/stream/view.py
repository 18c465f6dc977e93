"""What the stream scorer needs from a served version's card: the window recipe and how to read outputs.

The recipe (sensors, window length, grid step, scaler) is the one training used, so the scorer builds
the very windows the model learned from. `View.signals` turns a batch of the model's outputs into the
signals the rules see — ``anomaly.score`` (the raw score), ``anomaly.p`` (how rarely normal data scores as high:
the card's normal reference, `prognos.features.calibration`) and ``anomaly.ratio`` (that probability on the alarm
budget's scale: 1 at the budget's cut; for a card without the reference, the score over the card's threshold),
``classify.class`` / ``classify.prob`` / ``classify.index``, ``rul.p10|p50|p90`` — and `View.raw` adds
``raw.<sensor>``, the window's latest value of each input, when a rule watches one. `View.explain`
gives the top contributing sensors, asked only for the predictions that move an alert.

An anomaly model's normal keeps learning per device (`prognos.features.adapt`, ``--adapt``, 6 h by default): each
window's inputs are measured from where the device's inputs now sit and its score from how high the device's scores
now run, running medians that absorb a change that stays within the stated time and only a step of a spike; input
drift is measured before that, against training. A view's `trackers` are part of the scorer's checkpoint.

A view also knows when its version cannot serve the stream: `fault` when the card and graph cannot make a window
(no sensors named, a window or a sensor count the graph does not take), `trouble` when windows failed to score
in the last minute — what health reports for the stream, so a model nobody can use is never invisible.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from prognos import contract
from prognos.errors import InvalidInput
from prognos.features.adapt import DEFAULT_ABSORB, Step, Tracker
from prognos.features.calibration import DEFAULT_BUDGET, Budget, Normal, ratio
from prognos.features.drift import Drift, output_columns
from prognos.features.scaling import RegimeScaler
from prognos.inference.deployments import Served
from prognos.inference.runtime import Model

RECENT_S = 60.0  # windows lost this recently show in health

Recipe = tuple[tuple[str, ...], int, int]  # sensors, window, step_ms
Window = tuple[str, int, np.ndarray]  # device id, the window's end, its rows (window, sensors) in raw units


@dataclass(frozen=True)
class Judge:
    """How the stream judges an anomaly model's scores: against an alarm budget, from a normal that keeps learning
    for ``adapt`` (an absorb time like "6h"; None: a fixed normal, training's)."""

    budget: Budget = field(default_factory=lambda: Budget.parse(DEFAULT_BUDGET))
    adapt: str | None = None

    @classmethod
    def of(cls, budget: str | None = None, adapt: str | None = DEFAULT_ABSORB) -> Judge:
        """From settings: the budget ("1/week" when None), the absorb time (its default when None; "off": none)."""
        absorb = DEFAULT_ABSORB if adapt is None else adapt
        judge = cls(Budget.parse(budget or DEFAULT_BUDGET), None if absorb.strip().lower() == "off" else absorb)
        if judge.adapt is not None:
            Step.parse(judge.adapt, 1000)  # refused now, naming the setting, rather than at the first window
        return judge


class View:
    def __init__(
        self, served: Served, judge: Judge | None = None, trackers: Mapping[str, list[float]] | None = None
    ) -> None:
        card = served.model.card
        self.served, self.name, self.version = served, served.model.name, served.model.version
        self.task = card.get("task", "custom")
        self.sensors: list[str] = list((card.get("input") or {}).get("sensors") or [])
        self.window = int(card.get("window") or 1)
        out = card.get("output") or {}
        self.step = int(out.get("step_ms") or card.get("step_ms") or 1000)
        self.output = out
        self.normal = Normal.from_dict(out["normal"]) if self.task == "anomaly" and out.get("normal") else None
        judge = judge or Judge()
        self.risk = judge.budget.risk(self.step)  # per window: the budget's cut
        # Normal that keeps learning, per device: for an anomaly model whose card says what its normal scores are.
        self.steps = Step.parse(judge.adapt, self.step) if judge.adapt and self.normal is not None else None
        self.trackers: dict[str, Tracker] = {}
        if self.steps is not None:
            self.trackers = {d: Tracker.from_list(list(v), self.steps) for d, v in (trackers or {}).items()}
        self.scaler = RegimeScaler.from_dict(card["scaler"]) if card.get("scaler") else None
        self.input = served.model.inputs[0].name
        ref, ref_out = card.get("reference"), card.get("reference_output")
        # Fleet-wide, per model version: what the model sees, and what it says, against training.
        self.drift = Drift(ref, self.sensors) if ref else None
        self.pred_drift = Drift(ref_out, list(ref_out["features"]), prefix="drift.pred") if ref_out else None
        self.fault = fault(served.model, self.sensors, self.window)  # why the stream cannot use it (None: it can)
        self.lost, self.lost_at, self.lost_why = 0, -1e9, ""

    def lose(self, windows: int, why: str) -> bool:
        """Count windows this version could not score; whether this starts a new run of failures (to log)."""
        now = time.monotonic()
        new = now - self.lost_at >= RECENT_S or why != self.lost_why
        self.lost = windows + (0 if now - self.lost_at >= RECENT_S else self.lost)
        self.lost_at, self.lost_why = now, why
        return new

    def trouble(self) -> str | None:
        """What keeps this version from scoring the stream now, or None."""
        label = self.served.model.label
        if self.fault:
            return f"{label} cannot score the stream: {self.fault}"
        if time.monotonic() - self.lost_at < RECENT_S:
            return f"{label}: {self.lost} windows not scored in the last minute: {self.lost_why}"
        return None

    def recipe(self) -> Recipe:
        return tuple(self.sensors), self.window, self.step

    def feed(self, items: list[Window]) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """The model's input for a batch's windows, and their latest scaled rows as training would see them (what
        input drift is measured on); each device's window measured from its normal now, which then learns from it."""
        x = np.stack([w for _, _, w in items])  # (n, window, sensors), raw units
        if self.scaler is not None:
            n, w, s = x.shape
            x = self.scaler.transform(x.reshape(-1, s)).reshape(n, w, s)
        latest = x[:, -1, :].copy()
        if self.steps is not None:  # in item order: a device's windows of one batch come in time order
            for i, (device, _, _) in enumerate(items):
                tracker = self._tracker(device)
                x[i] = tracker.inputs(x[i])
                tracker.see(latest[i])
        return {self.input: x.astype(np.float32)}, latest

    def false_alarm(self, device: str, score: float) -> bool:
        """A person said a window scoring ``score`` on ``device`` was normal: the device's typical score rises so that
        a score as high reads halfway to the cut (anomaly.ratio 0.5, p = √risk). Like any change it is forgotten as
        the device's scores show otherwise, within the absorb time. False when this version does not adapt."""
        if self.steps is None or self.normal is None or not score > 0:
            return False
        tracker = self._tracker(device)
        tracker.level = max(tracker.level, math.log(score * self.normal.typical / self.normal.cut(self.risk**0.5)))
        return True

    def _tracker(self, device: str) -> Tracker:
        found = self.trackers.get(device)
        if found is None:
            assert self.steps is not None and self.normal is not None
            found = self.trackers[device] = Tracker.start(len(self.sensors), self.normal.typical, self.steps)
        return found

    def input_drift(self, latest: np.ndarray) -> tuple[dict[str, float], bool]:
        """Input drift signals after adding this batch's latest rows, and whether they were measured anew. It
        needs no output, so the scorer takes it while the model runs."""
        return _added(self.drift, lambda: latest)

    def output_drift(self, y: np.ndarray) -> tuple[dict[str, float], bool]:
        """Prediction drift signals after adding this batch's outputs, and whether they were measured anew."""
        return _added(self.pred_drift, lambda: self._cols(y))

    def _cols(self, y: np.ndarray) -> np.ndarray:
        assert self.pred_drift is not None
        cols = output_columns(self.task, y, self.output)
        return np.column_stack([cols[n] for n in self.pred_drift.names])

    def signals(self, y: np.ndarray, devices: Sequence[str] = ()) -> list[dict[str, Any]]:
        """The signals of every row of a batch's output ``y`` (the windows of ``devices``), for the batch at once."""
        y = np.asarray(y, dtype=float).reshape(len(y), -1)
        if self.task == "anomaly":
            score = y.sum(axis=1)
            if self.normal is not None:
                p = self.normal.p(self._against_normal(score, devices))
                return [
                    {"anomaly.score": s, "anomaly.p": q, "anomaly.ratio": r}
                    for s, q, r in zip(score.tolist(), p.tolist(), ratio(p, self.risk).tolist(), strict=True)
                ]
            threshold = float(self.output.get("threshold") or 0.0)
            if not threshold:
                return [{"anomaly.score": s} for s in score.tolist()]
            return [
                {"anomaly.score": s, "anomaly.ratio": r}
                for s, r in zip(score.tolist(), (score / threshold).tolist(), strict=True)
            ]
        if self.task == "classify":
            p = y
            if not (np.allclose(p.sum(axis=1), 1.0, atol=1e-3) and (p >= 0).all()):  # logits → probabilities
                e = np.exp(p - p.max(axis=1, keepdims=True))
                p = e / e.sum(axis=1, keepdims=True)
            k = p.argmax(axis=1)
            classes = [str(c) for c in (self.output.get("classes") or range(p.shape[1]))]
            return [
                {"classify.class": classes[i], "classify.prob": q, "classify.index": i}
                for i, q in zip(k.tolist(), p[np.arange(len(p)), k].tolist(), strict=True)
            ]
        if self.task == "rul":
            q = np.maximum(y * float(self.output.get("scale") or 1.0), 0.0)  # never below zero, whatever the graph
            names = [f"rul.p{round(a * 100)}" for a in self.output.get("quantiles", [0.5])]
            return [dict(zip(names, row, strict=False)) for row in q.tolist()]
        return [{f"{self.name}.out": v} for v in y[:, 0].tolist()]

    def _against_normal(self, score: np.ndarray, devices: Sequence[str]) -> np.ndarray:
        """Scores in units of each device's typical score now, which then learns from them; as they are without
        adaptation."""
        if self.steps is None or self.normal is None:
            return score
        level = np.empty(len(score))
        for i, device in enumerate(devices):  # in order: a device's windows of one batch come in time order
            tracker = self._tracker(device)
            level[i] = tracker.typical()
            tracker.scored(float(score[i]))
        return score * self.normal.typical / level

    def raw(self, x: np.ndarray) -> dict[str, float]:
        """``raw.<sensor>``: the window's latest (unscaled) value of each input."""
        return {f"raw.{s}": v for s, v in zip(self.sensors, x[-1].tolist(), strict=True)}

    def explain(self, y: np.ndarray) -> dict[str, Any]:
        """Why one row said what it said; asked only for predictions that move an alert."""
        if self.task != "anomaly":
            return {}
        contrib = np.asarray(y, dtype=float).ravel()
        order = np.argsort(-contrib)[:3]
        return {
            "top_sensors": [[self.sensors[j], float(contrib[j])] for j in order if j < len(self.sensors)],
            "contributions": {s: float(c) for s, c in zip(self.sensors, contrib, strict=False)},
        }


def fault(model: Model, sensors: list[str], window: int) -> str | None:
    """Why the stream cannot feed ``model`` (None: it can): it builds one float32 (batch, window, sensors) input."""
    if not sensors:
        return "its card names no sensors, so no window can be built (publish a prognos artifact, or name them)"
    if len(model.inputs) != 1:
        return f"the stream feeds one input, the graph takes {len(model.inputs)}"
    graph = [
        {"name": t.name, "shape": [d if d >= 0 else None for d in t.shape], "datatype": t.datatype}
        for t in model.inputs
    ]
    try:
        contract.check({"window": window, "input": {"sensors": sensors, "dtype": "float32"}}, graph, [], model.label)
    except InvalidInput as exc:
        return str(exc).split("card and graph disagree: ", 1)[-1]
    return None


def _added(drift: Drift | None, rows: Callable[[], np.ndarray]) -> tuple[dict[str, float], bool]:
    if drift is None:
        return {}, False
    before = drift.measured
    out = drift.add(rows())
    return out, drift.measured != before
