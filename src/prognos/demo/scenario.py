"""The demo's story: a fleet with a past to learn from and a present worth watching.

The simulated fleet has ``history`` seconds behind it and ``live`` seconds ahead. Per machine type,
one machine wears out and fails in the history (remaining-life training needs a failure to learn
from), one wears out during the live window (its short-life alert is the one to watch), and the
others carry a fault in the history (the fault classifier needs examples) and another in the live
window (the anomaly detector should catch it). Random faults come on top, as in any simulation.

What the models may learn from is the history's truth alone (`history_truth`): faults that began
before the live window, failures that happened in it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from prognos.sim.fleet import CHUNK_S, FAULTS, Fleet

RULES = """rules:
  - name: anomaly
    signal: anomaly.ratio        # the score over the threshold learned from normal data
    above: 1.0
    exit: 0.7
    n_of_m: [3, 5]
    cooldown: 5m
    severity: warning
    escalate: {{after: 2m, severity: critical}}
    actions: [{{webhook: {{url: "{hook}", secret: "{secret}"}}}}]
  - name: fault
    signal: classify.class
    equals: [{faults}]
    n_of_m: [4, 5]
    cooldown: 5m
    severity: warning
    actions: [{{webhook: {{url: "{hook}", secret: "{secret}"}}}}]
  - name: short-life
    signal: rul.p50              # seconds to failure, the median of the predicted interval
    below: 900
    exit: 1500
    n_of_m: [3, 5]
    severity: critical
    actions: [{{webhook: {{url: "{hook}", secret: "{secret}"}}}}]
  - name: drift
    signal: drift.psi            # inputs unlike the training data, fleet-wide
    above: 0.5
    exit: 0.3
    dedup: "{{rule}}"
    severity: info
retrain:                         # once during the live window: a challenger for the pump detector, shadowed
  - model: pump-anomaly
    on: schedule
    every: {every}
    train: 1h
    evaluate: {evaluate}
    labels: "{labels}"
"""
WATCHED = ("anomaly", "fault")  # the rules whose alerts are scored against the faults
LIFE = "short-life"  # the rule whose alerts are scored against wear


@dataclass(frozen=True)
class Scenario:
    fleet: Fleet
    history_chunks: int  # the first chunks are the past; the rest is streamed live

    @property
    def live_start(self) -> int:
        return self.fleet.start + self.history_chunks * CHUNK_S * 1000

    @property
    def end(self) -> int:
        return self.fleet.start + int(self.fleet.duration * 1000)

    def history_truth(self) -> dict[str, Any]:
        """The ground truth as known at the start of the live window: what training may use."""
        truth = self.fleet.truth()
        cut = self.live_start
        faults = [f | {"end": min(f["end"], cut)} for f in truth["faults"] if f["start"] < cut]
        devices = [
            d | ({} if d["failure"] and d["failure"] < cut else {"failure": None, "degradation_start": None})
            for d in truth["devices"]
        ]
        return truth | {"end": cut, "faults": faults, "devices": devices}


def plan(devices: int, history_s: float, live_s: float, seed: int, now: int) -> Scenario:
    chunks = max(1, round(history_s / CHUNK_S))
    history_ms, live_ms = chunks * CHUNK_S * 1000, int(live_s * 1000)
    start = now - history_ms
    fleet = Fleet(devices, 1.0, chunks * CHUNK_S + live_s, seed=seed, start=start, failing=0.0, faults_per_device=0.3)
    live = start + history_ms
    rng = np.random.default_rng([seed, 0xDE70])
    kinds = sorted({d.type for d in fleet.devices})
    for k, kind in enumerate(kinds):
        group = [d for d in fleet.devices if d.type == kind]
        if len(group) >= 2:
            failure = start + int(history_ms * 0.8)
            fleet.fail(group[0], failure, failure - int(min(2_700_000, history_ms * 0.6)))
        if len(group) >= 3:
            failure = live + int(live_ms * 0.9)
            fleet.fail(group[1], failure, failure - 2_400_000)
        for j, dev in enumerate(group[2:] if len(group) >= 3 else group[-1:]):
            kind_past, kind_now = FAULTS[(k + j) % len(FAULTS)], FAULTS[(k + j + 2) % len(FAULTS)]
            past = start + int(history_ms * rng.uniform(0.3, 0.6))
            fleet.inject(dev, kind_past, past, int(history_ms * 0.08))
            fleet.inject(dev, kind_now, live + int(live_ms * rng.uniform(0.1, 0.35)), int(live_ms * 0.5))
    return Scenario(fleet, chunks)


def rules(hook: str, secret: str, labels: str, live_s: float) -> str:
    every, evaluate = f"{max(1, round(live_s * 0.2))}s", f"{max(1, round(live_s * 0.3))}s"
    return RULES.format(
        hook=hook, secret=secret, faults=", ".join(FAULTS), labels=labels, every=every, evaluate=evaluate
    )
