"""Retraining: a challenger trained, shadowed beside the champion on the live stream, promoted when better,
refused (with the figures) when worse; drift and schedules trigger it; the real trainer runs in a subprocess."""

from __future__ import annotations

import asyncio
import json
import shutil

import numpy as np
import pytest

from prognos.act.rulesfile import Policy, parse_policies
from prognos.errors import InvalidInput
from prognos.features import RegimeScaler
from prognos.inference.deployments import Deployments
from prognos.registry import Registry
from prognos.retrain import Retrainer
from prognos.retrain.challenger import subprocess_trainer
from prognos.store import open_store
from prognos.stream import Planner, Scorer, parse_assignments
from prognos.types import Reading
from tests.stream.test_scorer import STEP, toy_anomaly

T0 = 1_700_000_000_000
DEVICES = ("pump-1", "pump-2", "pump-3")
FAULTS = [(d, T0 + (150 + 60 * i) * STEP, T0 + (175 + 60 * i) * STEP) for i, d in enumerate(DEVICES)]


def toy(folder, threshold: float):
    """The test's toy model (score = Σ mean x² per sensor), with its alarm threshold in the card."""
    toy_anomaly(folder, RegimeScaler().fit(np.random.default_rng(1).normal(size=(500, 2))))
    card = json.loads((folder / "card.json").read_text())
    card["output"]["threshold"] = threshold
    card["data"] = {"devices": list(DEVICES), "device_type": None}
    (folder / "card.json").write_text(json.dumps(card))
    return folder


def stream(n=360, seed=2):
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        for d in DEVICES:
            ts = T0 + i * STEP
            hot = any(d == fd and a <= ts < b for fd, a, b in FAULTS)
            out.append(Reading(d, ts, {"a": float(rng.normal() * (6 if hot else 1)), "b": float(rng.normal())}))
    return out


@pytest.mark.parametrize(("champion", "challenger", "promoted"), [(500.0, 8.0, True), (8.0, 1.2, False)])
def test_a_challenger_is_promoted_when_better_and_refused_when_worse(tmp_path, champion, challenger, promoted):
    store = open_store("memory://")
    reg = Registry(store, tmp_path / "models")
    reg.publish(toy(tmp_path / "v1", champion))
    reg.promote("toy", 1)
    labels = tmp_path / "labels.csv"
    labels.write_text("device_id,start,end,label\n" + "".join(f"{d},{a},{b},spike\n" for d, a, b in FAULTS))
    jobs = []

    def train(job):  # the training itself is not under test here: a prepared challenger
        jobs.append(job)
        return toy(tmp_path / "v2", challenger)

    policy = Policy("toy", "schedule", every_ms=0, evaluate_ms=0, labels=str(labels), cooldown_ms=0)
    data = stream()

    async def main():
        d = Deployments(reg, poll=0)
        await d.start()
        scorer = Scorer(Planner(d, parse_assignments("*=toy")), keep=store.write)
        retrainer = Retrainer(store, d, [policy], train=train, clock=lambda: T0)
        await scorer.score(data[:300])
        await retrainer.step()  # due: trains, publishes, shadows
        run = retrainer.active["toy"]
        assert (run.state, run.champion, run.challenger) == ("shadow", 1, 2)
        assert reg.traffic("toy")["shadow"] == "challenger" and reg.aliases("toy")["challenger"] == 2
        for i in range(300, len(data), 90):
            await scorer.score(data[i : i + 90])  # both score every window now
        await retrainer.step()  # the evaluation window is over: decide
        serving = d.routes["toy"].versions()
        await d.close()
        return retrainer.runs("toy"), serving

    (run,), serving = asyncio.run(main())
    assert jobs[0].init_from.endswith("/toy/1") and jobs[0].window == 4 and jobs[0].devices == list(DEVICES)
    assert run.state == ("promoted" if promoted else "kept") and run.metrics["metric"] == "event F1", run.reason
    a, b = run.metrics["champion"], run.metrics["challenger"]
    assert (b > a) == promoted and run.metrics["windows"] > 500
    assert f"challenger v2 {b:.4g} vs champion v1 {a:.4g}" in run.reason
    assert reg.aliases("toy")["champion"] == (2 if promoted else 1) and reg.traffic("toy")["shadow"] is None
    assert serving["champion"] == (2 if promoted else 1) and serving["shadow"] is None  # swapped at once


def test_drift_over_the_threshold_is_due_and_a_cooldown_holds_it_back(tmp_path):
    store = open_store("memory://")
    reg = Registry(store, tmp_path / "models")
    policy = Policy("toy", "drift", signal="drift.psi", above=0.25, cooldown_ms=3_600_000)
    r = Retrainer(store, Deployments(reg, poll=0), [policy], train=lambda job: tmp_path, clock=lambda: T0)
    store.write(
        [Reading("pump-1", T0, {"pred.toy.drift.psi": 0.9}), Reading("pump-2", T0 + 1, {"pred.toy.drift.psi": 0.2})]
    )
    assert r._due(policy) is None  # the newest measurement counts, not an old one kept on another device
    store.write([Reading("pump-1", T0 + 2, {"pred.toy.drift.psi": 0.4})])
    assert r._due(policy) == "drift: drift.psi = 0.4 > 0.25"
    store.put_record(
        "retrain-run",
        f"toy/{T0 - 60_000:013d}",
        {"id": "x", "model": "toy", "trigger": "t", "started": T0 - 60_000, "state": "kept"},
    )
    assert r._due(policy) is None  # retrained a minute ago: cooling down


def test_policies_in_the_rules_file_are_checked_with_line_and_field():
    ok = parse_policies("rules: []\nretrain:\n  - {model: m, on: schedule, every: 6h, evaluate: 5m}\n")
    assert ok == [Policy("m", "schedule", every_ms=6 * 3_600_000, evaluate_ms=300_000)]
    bad = {
        "rules: []\nretrain:\n  - {model: m, on: sometimes}\n": "3: retrain[0].on: expected drift or schedule",
        "rules: []\nretrain:\n  - {model: m, on: schedule}\n": "3: retrain[0].every: a schedule needs every",
        "rules: []\nretrain:\n  - {model: m, on: drift, above: high}\n": "3: retrain[0].above: expected a number",
        "rules: []\nretrain:\n  - {model: m, on: drift, train: soon}\n": "3: retrain[0].train: expected a duration",
        "rules: []\nretrain:\n  - {on: drift}\n": "retrain[0].model: every policy names the model",
        "rules: []\nretrain:\n  - {model: m, on: drift, typo: 1}\n": "3: retrain[0].typo: unknown field",
        "rules: []\nretrain: {model: m}\n": "2: retrain: expected a list",
    }
    for text, message in bad.items():
        with pytest.raises(InvalidInput, match=message.replace("[", r"\[").replace("]", r"\]")):
            parse_policies(text, "f.yaml")


def test_the_real_trainer_trains_the_challenger_in_a_subprocess_on_recent_data(tmp_path):
    """No torch in the server: the readings go to Parquet, a training process fine-tunes the champion."""
    from prognos.sim.fleet import Fleet
    from prognos.sim.send import seconds
    from prognos.train.tasks import Config, Selection, train_store

    store = open_store("memory://")
    fleet = Fleet(6, 1.0, 1800, seed=3, start=T0, failing=0.0)
    for d in fleet.devices:
        store.update_device(d.device_id, {"type": d.type}, create=True)
    for batch in seconds(fleet):
        store.write(batch)
    selection = Selection(T0, T0 + 1_800_000, device_type="pump")
    deep = Config(window=30, epochs=1, detectors=("conv-ae",))  # a network, whose weights a challenger starts from
    card = train_store("anomaly", store, selection, tmp_path / "champion", cfg=deep)
    reg = Registry(store, tmp_path / "models")
    reg.publish(card.parent)
    reg.promote("pump-anomaly", 1)
    champion = reg.get("pump-anomaly")
    policy = Policy("pump-anomaly", "schedule", every_ms=0, train_ms=1_200_000)
    trainer = subprocess_trainer(store, epochs=1)
    retrainer = Retrainer(store, Deployments(reg, poll=0), [policy], trainer, clock=lambda: T0 + 1_800_000)
    job = retrainer._job(policy, champion, T0 + 1_800_000)
    folder = retrainer.train(job)
    new = json.loads((folder / "card.json").read_text())
    assert new["name"] == "pump-anomaly" and new["input"]["sensors"] == champion.card["input"]["sensors"]
    assert new["window"] == 30 and new["data"]["start"] == T0 + 600_000 and new["data"]["device_type"] == "pump"
    assert new["params"]["init_from"] == champion.path  # fine-tuned from the champion's weights
    shutil.rmtree(folder)
