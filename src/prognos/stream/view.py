"""What the stream scorer needs from a served version's card: the window recipe and how to read outputs.

The recipe (sensors, window length, grid step, scaler) is the one training used, so the scorer builds
the very windows the model learned from. `View.read` turns one row of the model's outputs into the
signals the rules see — ``anomaly.score`` (and ``anomaly.ratio`` to the card's threshold) with the top
contributing sensors as explanation, ``classify.class`` / ``classify.prob``, ``rul.p10|p50|p90`` — plus
``raw.<sensor>``, the window's latest value of each input.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from prognos.features.scaling import RegimeScaler
from prognos.inference.deployments import Served
from prognos.monitor.drift import Drift, outputs

Recipe = tuple[tuple[str, ...], int, int]  # sensors, window, step_ms


class View:
    def __init__(self, served: Served) -> None:
        card = served.model.card
        self.served, self.name, self.version = served, served.model.name, served.model.version
        self.task = card.get("task", "custom")
        self.sensors: list[str] = list((card.get("input") or {}).get("sensors") or [])
        self.window = int(card.get("window") or 1)
        out = card.get("output") or {}
        self.step = int(out.get("step_ms") or card.get("step_ms") or 1000)
        self.output = out
        self.scaler = RegimeScaler.from_dict(card["scaler"]) if card.get("scaler") else None
        self.input = served.model.inputs[0].name
        ref, ref_out = card.get("reference"), card.get("reference_output")
        # Fleet-wide, per model version: what the model sees, and what it says, against training.
        self.drift = Drift(ref, self.sensors) if ref else None
        self.pred_drift = Drift(ref_out, list(ref_out["features"]), prefix="drift.pred") if ref_out else None

    def recipe(self) -> Recipe:
        return tuple(self.sensors), self.window, self.step

    def feed(self, windows: list[np.ndarray]) -> dict[str, np.ndarray]:
        x = np.stack(windows)  # (n, window, sensors), raw units
        if self.scaler is not None:
            n, w, s = x.shape
            x = self.scaler.transform(x.reshape(-1, s)).reshape(n, w, s)
        return {self.input: x.astype(np.float32)}

    def drifts(self, feed: dict[str, np.ndarray], y: np.ndarray) -> dict[str, float]:
        """Input and prediction drift signals after adding this batch (each latest row, each output)."""
        out: dict[str, float] = {}
        if self.drift is not None:
            out |= self.drift.add(feed[self.input][:, -1, :])
        if self.pred_drift is not None:
            cols = outputs(self.task, y, self.output)
            out |= self.pred_drift.add(np.column_stack([cols[n] for n in self.pred_drift.names]))
        return out

    def read(self, y: np.ndarray, raw: np.ndarray) -> tuple[dict[str, Any], dict[str, Any]]:
        """Signals and explanation of one output row ``y`` (``raw``: its unscaled window)."""
        signals: dict[str, Any] = {f"raw.{s}": float(raw[-1, j]) for j, s in enumerate(self.sensors)}
        explanation: dict[str, Any] = {}
        if self.task == "anomaly":
            contrib = np.asarray(y, dtype=float).ravel()
            score = float(contrib.sum())
            signals["anomaly.score"] = score
            threshold = self.output.get("threshold")
            if threshold:
                signals["anomaly.ratio"] = score / float(threshold)
            order = np.argsort(-contrib)[:3]
            explanation["top_sensors"] = [[self.sensors[j], float(contrib[j])] for j in order if j < len(self.sensors)]
            explanation["contributions"] = {s: float(c) for s, c in zip(self.sensors, contrib, strict=False)}
        elif self.task == "classify":
            p = np.asarray(y, dtype=float).ravel()
            if not np.isclose(p.sum(), 1.0, atol=1e-3) or (p < 0).any():
                p = np.exp(p - p.max()) / np.exp(p - p.max()).sum()  # logits → probabilities
            k = int(p.argmax())
            classes = self.output.get("classes") or list(range(len(p)))
            signals |= {"classify.class": str(classes[k]), "classify.prob": float(p[k]), "classify.index": k}
        elif self.task == "rul":
            q = np.asarray(y, dtype=float).ravel() * float(self.output.get("scale") or 1.0)
            levels = self.output.get("quantiles", [0.5])
            signals |= {f"rul.p{round(a * 100)}": float(v) for a, v in zip(levels, q, strict=False)}
        else:
            signals[f"{self.name}.out"] = float(np.asarray(y).ravel()[0])
        return signals, explanation
