"""The stream scorer: streaming predictions equal offline ones; signals reach rules, alerts and the store."""

from __future__ import annotations

import asyncio
import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from prognos.act.alerts import Alerts
from prognos.act.decisions import Decisions
from prognos.act.rules import Condition, Engine, Rule
from prognos.errors import ConfigError
from prognos.features import RegimeScaler
from prognos.features.calibration import Budget, ratio
from prognos.features.grid import align, phase
from prognos.inference.batching import OFFLOAD_ROWS
from prognos.inference.deployments import Deployments
from prognos.registry import Registry
from prognos.store import open_store
from prognos.stream import Planner, Scorer, parse_assignments
from prognos.stream.view import Judge
from prognos.train.estimators import thresholds
from prognos.train.telemetry import Series, windows
from prognos.types import Reading

SENSORS, WINDOW, STEP = ["a", "b"], 4, 1000


def toy_anomaly(folder, scaler: RegimeScaler, normal=None):
    """Per-sensor contributions = mean over the window of x², as the autoencoder's output is shaped."""
    folder.mkdir()
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", WINDOW, len(SENSORS)])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", len(SENSORS)])
    axes = helper.make_tensor("axes", TensorProto.INT64, [1], [1])
    nodes = [
        helper.make_node("Mul", ["x", "x"], ["sq"]),
        helper.make_node("ReduceMean", ["sq", "axes"], ["y"], keepdims=0),
    ]
    graph = helper.make_graph(nodes, "toy", [x], [y], [axes])
    onnx.save(
        helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=9), folder / "model.onnx"
    )
    card = {
        "name": "toy",
        "task": "anomaly",
        "window": WINDOW,
        "scaler": scaler.to_dict(),
        "input": {"name": "x", "shape": [None, WINDOW, len(SENSORS)], "sensors": SENSORS},
        "output": {"threshold": 2.0, "step_ms": STEP, **({"normal": normal} if normal else {})},
    }
    (folder / "card.json").write_text(json.dumps(card))
    return folder


def readings(seed=0, n=120, devices=("pump-1", "pump-2")):
    rng = np.random.default_rng(seed)
    out = []
    for d in devices:
        t = 1_700_000_000_000
        for _ in range(n):
            t += int(rng.integers(200, 1500)) + (9000 if rng.random() < 0.03 else 0)  # jitter, and a few gaps
            values = {s: float(rng.normal()) for s in SENSORS if rng.random() < 0.9}
            out.append(Reading(d, t, values))
    return out


def setup(tmp_path, store):
    scaler = RegimeScaler().fit(np.random.default_rng(1).normal(size=(200, 2)) * [1.0, 2.0] + [0.5, -1.0])
    reg = Registry(store, tmp_path / "models")
    reg.publish(toy_anomaly(tmp_path / "toy", scaler))
    reg.promote("toy", 1)
    return reg, scaler


def offline(series_readings, scaler, model_path):
    """The training path: grid.align, telemetry.windows with the scaler, ORT — per device."""
    sess = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    out = {}
    for device in sorted({r.device_id for r in series_readings}):
        rs = [r for r in series_readings if r.device_id == device]
        ts = np.array([r.ts for r in rs for _ in r.values])
        col = np.array([SENSORS.index(k) for r in rs for k in r.values])
        val = np.array([v for r in rs for v in r.values.values()])
        p = phase(device, STEP)  # the device's grid, as training aligns it
        start, end = (ts.min() - p) // STEP * STEP + p, ((ts.max() - p) // STEP + 1) * STEP + p
        grid_ts, x = align((ts, col, val), len(SENSORS), start, end, STEP)
        w = windows([Series(device, None, grid_ts, x, SENSORS)], WINDOW, scale=scaler.transform)
        y = sess.run(None, {"x": w.x.astype(np.float32)})[0]
        out |= {(device, int(e)): float(s) for e, s in zip(w.end, y.sum(axis=1), strict=True)}
    return out


def test_streaming_predictions_equal_the_offline_pipeline(tmp_path):
    store = open_store("memory://")
    reg, scaler = setup(tmp_path, store)
    data = readings()

    async def main():
        d = Deployments(reg, poll=0)
        await d.start()
        scorer = Scorer(Planner(d, parse_assignments("*=toy")))
        got = []
        for i in range(0, len(data), 37):  # arrival in uneven batches, devices interleaved
            got += await scorer.score(data[i : i + 37])
        await d.close()
        return got

    got = asyncio.run(main())
    expected = offline(data, scaler, tmp_path / "toy" / "model.onnx")
    streamed = {(p.device_id, p.ts): p.signals["anomaly.score"] for p in got}
    assert len(streamed) > 100 and set(streamed) <= set(expected)
    for key, score in streamed.items():
        assert abs(score - expected[key]) < 1e-4, key
    last = {d: max(t for dev, t in expected if dev == d) for d, _ in expected}
    assert set(expected) - set(streamed) <= {(d, t) for d, t in last.items()}  # only each device's still-open cell
    assert {p.version for p in got} == {1} and all(p.explanation["window"][1] == p.ts for p in got)


def test_an_anomaly_score_is_read_as_a_tail_probability_and_cut_by_the_alarm_budget(tmp_path):
    """With the card's normal reference, every window says how rarely normal data scores as high (anomaly.p) and
    where that stands against the budget's cut (anomaly.ratio, 1 at the cut): a looser budget alarms on more."""
    store = open_store("memory://")
    _, scaler = setup(tmp_path, store)
    data = readings(seed=5, n=300)
    calm = np.array(list(offline(readings(seed=9, n=400), scaler, tmp_path / "toy" / "model.onnx").values()))
    ref = thresholds.normal(calm)
    reg = Registry(store, tmp_path / "models")
    reg.publish(toy_anomaly(tmp_path / "calibrated", scaler, ref.to_dict()), "calibrated")
    reg.promote("calibrated", 1)

    async def scored(budget):
        d = Deployments(reg, poll=0)
        await d.start()
        try:
            return await Scorer(Planner(d, parse_assignments("*=calibrated"), judge=Judge(budget))).score(data)
        finally:
            await d.close()

    loose, strict = Budget.parse("1/min"), Budget.parse("1/week")
    by_loose, by_strict = asyncio.run(scored(loose)), asyncio.run(scored(strict))
    assert len(by_loose) > 200 and [p.ts for p in by_loose] == [p.ts for p in by_strict]
    for a, b in zip(by_loose, by_strict, strict=True):
        score, p = a.signals["anomaly.score"], a.signals["anomaly.p"]
        assert p == pytest.approx(float(ref.p(score))) and b.signals["anomaly.p"] == p
        assert a.signals["anomaly.ratio"] == pytest.approx(float(ratio(p, loose.risk(STEP))))
        assert (a.signals["anomaly.ratio"] >= 1) == (score >= ref.cut(loose.risk(STEP)) * (1 - 1e-9))
        assert b.signals["anomaly.ratio"] <= a.signals["anomaly.ratio"]
    alarms = [sum(q.signals["anomaly.ratio"] >= 1 for q in ps) for ps in (by_loose, by_strict)]
    assert alarms[0] > alarms[1]  # 1/min on a 1 s grid: 1 window in 60 may alarm; 1/week: 1 in 604,800


def calibrated(tmp_path, store):
    """The toy detector with the normal reference of its scores on normal readings, published as "calibrated"."""
    _, scaler = setup(tmp_path, store)
    calm = np.array(list(offline(readings(seed=9, n=400), scaler, tmp_path / "toy" / "model.onnx").values()))
    ref = thresholds.normal(calm)
    reg = Registry(store, tmp_path / "models")
    reg.publish(toy_anomaly(tmp_path / "calibrated", scaler, ref.to_dict()), "calibrated")
    reg.promote("calibrated", 1)
    return reg, scaler, ref


def shifted(n=400, at=100, by=(6.0, 0.0)):
    """One device a reading a second; from reading ``at`` on, its sensors sit ``by`` higher, and stay there."""
    rng = np.random.default_rng(3)
    t0 = 1_700_000_000_000
    return [
        Reading(
            "pump-1",
            t0 + i * STEP,
            {s: float(rng.normal() + (by[j] if i >= at else 0.0)) for j, s in enumerate(SENSORS)},
        )
        for i in range(n)
    ]


def test_a_level_that_shifts_and_stays_becomes_the_devices_normal_within_the_absorb_time(tmp_path):
    store = open_store("memory://")
    reg, _, _ = calibrated(tmp_path, store)
    data = shifted()

    async def scored(judge):
        d = Deployments(reg, poll=0)
        await d.start()
        try:
            return await Scorer(Planner(d, parse_assignments("*=calibrated"), judge=judge)).score(data)
        finally:
            await d.close()

    fixed, adapting = asyncio.run(scored(Judge())), asyncio.run(scored(Judge(adapt="2m")))
    t_shift = data[100].ts
    late = [p for p in fixed if p.ts >= t_shift + 150 * STEP]  # well past the absorb time
    assert late and all(p.signals["anomaly.ratio"] >= 1 for p in late)  # fixed: alarmed for good
    after = {p.ts: p.signals["anomaly.ratio"] for p in adapting if p.ts > t_shift}
    assert max(v for t, v in after.items() if t < t_shift + 10 * STEP) >= 1  # found at once
    assert all(v < 1 for t, v in after.items() if t >= t_shift + 150 * STEP)  # then learned as normal


def test_an_alarm_a_person_calls_false_stops_alarming_on_that_device_only(tmp_path):
    store = open_store("memory://")
    reg, _, _ = calibrated(tmp_path, store)
    data = shifted(n=300) + [Reading("pump-2", r.ts, r.values) for r in shifted(n=300)]
    data.sort(key=lambda r: r.ts)

    async def main():
        d = Deployments(reg, poll=0)
        await d.start()
        try:
            scorer = Scorer(Planner(d, parse_assignments("*=calibrated"), judge=Judge(adapt="1d")))
            head = await scorer.score(data[:260])  # 30 s into the shift: alarming on both
            alarmed = [p for p in head if p.device_id == "pump-1" and p.signals["anomaly.ratio"] >= 1]
            peak = max(p.signals["anomaly.score"] for p in alarmed)
            assert scorer.plan.false_alarm("pump-1", "calibrated", 1, peak)
            assert not scorer.plan.false_alarm("pump-1", "calibrated", 2, peak)  # no such version here
            return peak, await scorer.score(data[260:])
        finally:
            await d.close()

    peak, tail = asyncio.run(main())
    one = [p for p in tail if p.device_id == "pump-1" and p.signals["anomaly.score"] <= peak]
    two = [p for p in tail if p.device_id == "pump-2"]
    assert one and all(p.signals["anomaly.ratio"] < 0.6 for p in one)  # as high as the false alarm: about 0.5 now
    assert two and max(p.signals["anomaly.ratio"] for p in two) >= 1  # the other device still alarms


def test_a_restored_scorer_keeps_each_devices_learned_normal(tmp_path):
    store = open_store("memory://")
    reg, _, _ = calibrated(tmp_path, store)
    data = shifted(n=300)
    judge = Judge(adapt="2m")

    async def main():
        d = Deployments(reg, poll=0)
        await d.start()
        try:
            whole = await Scorer(Planner(d, parse_assignments("*=calibrated"), judge=judge)).score(data)
            first = Scorer(Planner(d, parse_assignments("*=calibrated"), judge=judge))
            head = await first.score(data[:200])
            doc = json.loads(json.dumps(first.checkpoint()))
            assert doc["trackers"]["calibrated@1"]["pump-1"]
            again = Scorer(Planner(d, parse_assignments("*=calibrated"), judge=judge, history=store.read_many))
            again.restore(doc)
            store.write(data[:200])
            tail = await again.score(data[200:])
            return whole, head + tail
        finally:
            await d.close()

    whole, resumed = asyncio.run(main())
    want = {p.ts: (p.signals["anomaly.p"], p.signals["anomaly.ratio"]) for p in whole}
    got = {p.ts: (p.signals["anomaly.p"], p.signals["anomaly.ratio"]) for p in resumed}
    assert len(got) > 250 and set(got) <= set(want)
    for ts, (p, r) in got.items():
        assert p == pytest.approx(want[ts][0], rel=1e-6, abs=1e-300) and r == pytest.approx(want[ts][1], rel=1e-6), ts


def test_signals_raise_alerts_with_explanations_and_predictions_are_stored(tmp_path):
    store = open_store("memory://")
    reg, _ = setup(tmp_path, store)
    alerts = Alerts(store)
    engine = Engine([Rule("hot", Condition("anomaly.score", above=50.0), device_type="pump")])
    t0 = 1_700_000_000_000
    calm = [Reading("pump-1", t0 + i * STEP, {"a": 0.5, "b": -1.0}) for i in range(8)]
    spike = [Reading("pump-1", t0 + (8 + i) * STEP, {"a": 40.0, "b": -1.0}) for i in range(6)]

    async def main():
        d = Deployments(reg, poll=0)
        await d.start()
        plan = Planner(d, parse_assignments("pump=toy"), lambda dev: "pump")
        scorer = Scorer(plan, Decisions(engine, alerts), keep=store.write)
        preds = await scorer.score(calm) + await scorer.score(spike)
        other = Scorer(Planner(d, parse_assignments("fan=toy"), lambda dev: "pump"))
        assert await other.score(calm + spike) == []  # no model assigned to pumps there
        await d.close()
        return preds

    preds = asyncio.run(main())
    assert len(preds) == len(calm) + len(spike) - WINDOW
    (alert,) = alerts.list()
    assert alert.rule == "hot" and alert.device_id == "pump-1" and alert.state == "open"
    assert alert.explanation["top_sensors"][0][0] == "a" and alert.explanation["model"] == "toy"
    assert alert.explanation["window"][1] - alert.explanation["window"][0] == (WINDOW - 1) * STEP
    stored = store.read("pump-1", t0, t0 + 20 * STEP, ["pred.toy.anomaly.score", "pred.toy.version"]).to_pylist()
    assert len([r for r in stored if r["key"] == "pred.toy.anomaly.score"]) == len(preds)
    assert {r["value"] for r in stored if r["key"] == "pred.toy.version"} == {1.0}


def test_assignments_parse():
    assert parse_assignments("pump=a,b; *=c") == {"pump": ["a", "b"], None: ["c"]}
    assert parse_assignments("only") == {None: ["only"]}
    for bad in ("pump=", "=model", "pump=,"):
        with pytest.raises(ConfigError, match="should read TYPE=MODEL"):
            parse_assignments(bad)


def test_inputs_unlike_training_raise_a_drift_alert_and_like_training_do_not(tmp_path):
    from prognos.features.drift import reference

    rng = np.random.default_rng(3)
    train = rng.normal(size=(4000, 2))
    scaler = RegimeScaler().fit(train)
    folder = toy_anomaly(tmp_path / "toy", scaler)
    card = json.loads((folder / "card.json").read_text())
    card["reference"] = reference(scaler.transform(train), SENSORS)
    (folder / "card.json").write_text(json.dumps(card))

    def run(shift: float):
        store = open_store("memory://")
        reg = Registry(store, tmp_path / f"models-{shift}")
        reg.publish(folder)
        reg.promote("toy", 1)
        alerts = Alerts(store)
        engine = Engine([Rule("drift", Condition("drift.psi", above=0.25), dedup="{rule}")])
        t0 = 1_700_000_000_000
        data = [
            Reading(f"pump-{d}", t0 + i * STEP, {"a": float(rng.normal() + shift), "b": float(rng.normal())})
            for i in range(120)
            for d in range(8)
        ]

        async def main():
            d = Deployments(reg, poll=0)
            await d.start()
            scorer = Scorer(Planner(d, parse_assignments("*=toy")), Decisions(engine, alerts))
            preds = []
            for i in range(0, len(data), 80):
                preds += await scorer.score(data[i : i + 80])
            await d.close()
            return preds

        preds = asyncio.run(main())
        return max(p.signals.get("drift.psi", 0.0) for p in preds), alerts.list()

    calm_psi, calm_alerts = run(0.0)
    shifted_psi, shifted_alerts = run(1.5)
    assert calm_psi < 0.1 and calm_alerts == []
    assert shifted_psi > 0.25 and [a.rule for a in shifted_alerts] == ["drift"]  # one fleet-wide alert (dedup)


@pytest.mark.parametrize("overlap", [0, 23])
def test_a_restored_scorer_resumes_where_its_checkpoint_stood(tmp_path, overlap):
    """Score everything in one life; then again with a restart from a checkpoint in the middle, the
    messages after it (and ``overlap`` before it: acknowledgements lost in the crash) delivered again.
    Both lives together give exactly the predictions and alerts of the single one."""
    store = open_store("memory://")
    reg, _ = setup(tmp_path, store)
    data = sorted(readings(seed=4, n=160), key=lambda r: r.ts)
    hot = {id(r) for r in data[100:160]}  # an episode that opens (and later resolves) alerts
    data = [Reading(r.device_id, r.ts, {k: v * 6 for k, v in r.values.items()}) if id(r) in hot else r for r in data]
    store.write(data)  # ingest committed all of it, further than scoring got
    rules = [Rule("hot", Condition("anomaly.score", above=8.0, exit=4.0), n_of_m=(2, 3))]

    async def life(chunks, alerts, checkpoint=None):
        d = Deployments(reg, poll=0)
        await d.start()
        plan = Planner(d, parse_assignments("*=toy"), history=store.read_many)
        scorer = Scorer(plan, Decisions(Engine(rules), alerts))
        if checkpoint is not None:
            scorer.restore(json.loads(json.dumps(checkpoint)))
        got = [p for chunk in chunks for p in await scorer.score(chunk)]
        await d.close()
        return got, scorer.checkpoint()

    def chunks(rows):
        return [rows[i : i + 29] for i in range(0, len(rows), 29)]

    single, restarted = Alerts(open_store("memory://")), Alerts(open_store("memory://"))
    once, _ = asyncio.run(life(chunks(data), single))
    cut = 29 * 4
    before, saved = asyncio.run(life(chunks(data[:cut]), restarted))
    after, _ = asyncio.run(life(chunks(data[cut - overlap :]), restarted, saved))

    def table(preds):
        return {(p.device_id, p.ts): p.signals["anomaly.score"] for p in preds}

    assert len(table(before)) + len(table(after)) == len(table(once)) == len(once) > 150  # none lost, none twice
    both = table(before) | table(after)
    assert both.keys() == table(once).keys()
    assert all(abs(both[k] - v) < 1e-6 for k, v in table(once).items())

    def outcome(book):
        return {a.id: (a.opened_ts, a.state, [h["event"] for h in a.history]) for a in book.list()}

    assert len(outcome(single)) >= 2 and outcome(restarted) == outcome(single)  # same ids, same history


def test_prediction_drift_and_shadow_predictions(tmp_path):
    """A card with a reference of its outputs gives drift.pred.* signals; a shadow version's predictions are
    stored beside the champion's and never reach the rules."""
    from prognos.features.drift import output_columns, reference

    rng = np.random.default_rng(5)
    train = rng.normal(size=(3000, 2))
    scaler = RegimeScaler().fit(train)
    folder = toy_anomaly(tmp_path / "toy", scaler)
    card = json.loads((folder / "card.json").read_text())
    windows_ = scaler.transform(train)[: 3000 // WINDOW * WINDOW].reshape(-1, WINDOW, 2)
    cols = output_columns("anomaly", (windows_**2).mean(axis=1), card["output"])
    card["reference_output"] = reference(np.column_stack(list(cols.values())), list(cols))
    (folder / "card.json").write_text(json.dumps(card))
    store = open_store("memory://")
    reg = Registry(store, tmp_path / "models")
    reg.publish(folder)
    reg.publish(folder)
    reg.promote("toy", 1)
    reg.promote("toy", 2, "challenger")
    reg.set_traffic("toy", shadow="challenger")
    engine = Engine([Rule("any", Condition("anomaly.score", above=-1.0))])
    t0 = 1_700_000_000_000
    data = [
        Reading(f"fan-{d}", t0 + i * STEP, {"a": float(rng.normal() * 3), "b": float(rng.normal())})
        for i in range(140)
        for d in range(6)
    ]

    async def main():
        d = Deployments(reg, poll=0)
        await d.start()
        scorer = Scorer(Planner(d, parse_assignments("*=toy")), Decisions(engine, Alerts(store)), keep=store.write)
        preds = [p for i in range(0, len(data), 60) for p in await scorer.score(data[i : i + 60])]
        await d.close()
        return preds

    preds = asyncio.run(main())
    assert preds and {p.version for p in preds} == {1}
    assert max(p.signals.get("drift.pred.psi", 0.0) for p in preds) > 0.25  # scores 9× the training ones
    got = store.read(
        "fan-0",
        t0,
        t0 + 200 * STEP,
        ["pred.toy.anomaly.score", "pred.toy.shadow.anomaly.score", "pred.toy.shadow.version"],
    ).to_pylist()
    by = {}
    for r in got:
        by.setdefault(r["key"], []).append(r["value"])
    assert by["pred.toy.shadow.anomaly.score"] == by["pred.toy.anomaly.score"] and set(
        by["pred.toy.shadow.version"]
    ) == {2}
    assert {a.device_id for a in Alerts(store).list()} == {f"fan-{d}" for d in range(6)}  # champion only: one each


def test_a_device_new_to_the_scorer_is_scored_at_once_from_the_stored_history(tmp_path):
    store = open_store("memory://")
    reg, _ = setup(tmp_path, store)
    data = sorted(readings(seed=6, n=80), key=lambda r: r.ts)
    store.write(data)

    async def score(rows, history):
        d = Deployments(reg, poll=0)
        await d.start()
        got = await Scorer(Planner(d, parse_assignments("*=toy"), history=history)).score(rows)
        await d.close()
        return {(p.device_id, p.ts): p.signals["anomaly.score"] for p in got}

    whole = asyncio.run(score(data, None))
    late = data[100:]  # a server started just now: only these arrive
    warm, cold = asyncio.run(score(late, store.read_many)), asyncio.run(score(late, None))
    firsts = {r.device_id: r.ts // STEP * STEP for r in reversed(late)}
    assert warm == {k: v for k, v in whole.items() if k[1] >= firsts[k[0]]}  # from its first cell on, as ever
    assert len(cold) <= len(warm) - (WINDOW - 1)  # without the history a window's time is lost


def test_a_device_whose_model_is_not_deployed_holds_no_other_device_up(tmp_path):
    store = open_store("memory://")
    reg, _ = setup(tmp_path, store)
    types = {"valve-1": "valve", "pump-1": "pump"}
    data = readings(seed=3, n=60, devices=("valve-1", "pump-1"))  # the valve speaks first, every batch
    batches = [data[i : i + 10] + data[60 + i : 70 + i] for i in range(0, 60, 10)]

    async def main():
        d = Deployments(reg, poll=0)
        await d.start()
        scorer = Scorer(Planner(d, parse_assignments("valve=valve-model;pump=toy"), types.get))
        got = [p for b in batches for p in await scorer.score(b)]
        await d.close()
        return got

    got = asyncio.run(main())
    assert got and {p.device_id for p in got} == {"pump-1"}  # the valve's model does not exist: only it waits
    assert len(got) == len(asyncio.run(_alone(reg, [r for r in data if r.device_id == "pump-1"])))


def test_a_version_that_fails_to_score_costs_only_its_own_windows_and_says_so(tmp_path):
    store = open_store("memory://")
    reg, _ = setup(tmp_path, store)
    folder = tmp_path / "twin"
    toy_anomaly(folder, RegimeScaler().fit(np.ones((10, 2))))
    reg.publish(folder, "twin")
    reg.promote("twin", 1)
    data = readings(seed=4, n=60, devices=("pump-1",))

    async def main():
        d = Deployments(reg, poll=0)
        await d.start()
        scorer = Scorer(Planner(d, parse_assignments("*=toy,twin")))

        class Refusing:  # what ONNX Runtime raises for windows it will not take
            def run(self, names, feed):
                raise RuntimeError("[ONNXRuntimeError] : 2 : INVALID_ARGUMENT : Got invalid dimensions for input: x")

        d.routes["twin"].primary.model.session = Refusing()
        assert scorer.problems() == []
        got = [p for i in range(0, 60, 10) for p in await scorer.score(data[i : i + 10])]
        problems = scorer.problems()
        await d.close()
        return got, problems

    got, problems = asyncio.run(main())
    assert got and {p.model for p in got} == {"toy"}
    assert len(got) == len(asyncio.run(_alone(reg, data)))  # toy scored every window it would alone
    assert len(problems) == 1 and problems[0].startswith("stream model twin v1: ")
    lost = int(problems[0].split(": ")[1].split()[0])
    assert lost == len(got) and "windows not scored in the last minute: [ONNXRuntimeError]" in problems[0]


async def _alone(reg, rows):
    d = Deployments(reg, poll=0)
    await d.start()
    got = await Scorer(Planner(d, parse_assignments("*=toy"))).score(rows)
    await d.close()
    return got


def test_fed_batches_are_decided_in_arrival_order_as_scoring_them_one_by_one_would(tmp_path):
    """The run loop pipelines (the next batch is pushed while one is inferred, a large one on the batcher's
    thread, a small one on the loop — so a later batch can be inferred first); rules must still see the
    batches in the order they arrived, so alerts open and resolve exactly as sequential scoring has them."""
    store = open_store("memory://")
    reg, _ = setup(tmp_path, store)
    t0, cells = 1_700_000_000_000, 50
    hot = np.random.default_rng(7).random(2 * cells) < 0.2  # pump-1 per cell: calm or hot, in and out of alert
    fleet = [f"fan-{i:03d}" for i in range(8 * OFFLOAD_ROWS)]  # enough windows at once to go to the thread

    def pump(j):
        return Reading("pump-1", t0 + j * STEP, {"a": 40.0 if hot[j] else 0.5, "b": -1.0})

    batches = []  # a large batch with pump-1's even cell, then a small one with its odd cell
    for i in range(cells):
        batches += [
            [Reading(d, t0 + i * STEP, {"a": 0.5, "b": -1.0}) for d in fleet] + [pump(2 * i)],
            [pump(2 * i + 1)],
        ]
    rule = [Rule("hot", Condition("anomaly.score", above=50.0, exit=5.0))]

    async def run(fed=0):
        d = Deployments(reg, poll=0)
        await d.start()
        alerts, scored = Alerts(open_store("memory://")), []
        decisions = Decisions(Engine(rule), alerts, tick=0)
        scorer = Scorer(Planner(d, parse_assignments("*=toy")), decisions, keep=scored.extend)
        if fed:
            await scorer.start()
            for b in batches:
                scorer.feed(b)
                await asyncio.sleep(0)  # one batch at a time into the run loop, not all of them merged into one
            for _ in range(1000):  # until every window is decided
                if len(scored) >= fed:
                    break
                await asyncio.sleep(0.01)
            await scorer.close()
        else:
            for b in batches:
                await scorer.score(b)
        await d.close()
        history = sorted((a.device_id, a.opened_ts, [(h["event"], h["ts"]) for h in a.history]) for a in alerts.list())
        return sorted((r.device_id, r.ts) for r in scored if r.values), history

    sequential = asyncio.run(run())
    pipelined = asyncio.run(run(fed=len(sequential[0])))
    assert len(sequential[1]) >= 5 and {a[0] for a in sequential[1]} == {"pump-1"}
    assert pipelined == sequential


def test_a_device_typed_after_its_first_readings_is_scored_once_its_type_is_read_again(tmp_path):
    """The README's flow: readings first, the type a moment later (the simulator PATCHes it); and re-typing."""
    store = open_store("memory://")
    reg, _ = setup(tmp_path, store)
    types: dict[str, str | None] = {"pump-1": None}
    data = sorted(readings(seed=4, n=90, devices=("pump-1",)), key=lambda r: r.ts)
    thirds = [data[:30], data[30:60], data[60:]]

    async def main(retype_s):
        d = Deployments(reg, poll=0)
        await d.start()
        plan = Planner(d, parse_assignments("pump=toy"), types.get, types=lambda: dict(types), retype_s=retype_s)
        scorer = Scorer(plan)
        got = [len(await scorer.score(thirds[0]))]
        types["pump-1"] = "pump"  # changed elsewhere: another server, the store itself
        await asyncio.sleep(0.15)
        await scorer.score([])  # the next batch starts the re-read behind the scoring...
        await asyncio.sleep(0.05)
        got.append(len(await scorer.score(thirds[1])))  # ...and the one after it follows the new type
        types["pump-1"] = "fan"
        plan.retype("pump-1")  # changed through this server: at once
        got.append(len(await scorer.score(thirds[2])))
        await d.close()
        types["pump-1"] = None
        return got

    untyped, typed, retyped = asyncio.run(main(retype_s=0.1))
    assert untyped == 0 and typed > 0 and retyped == 0  # pump: scored by toy; fan: no model assigned
    assert asyncio.run(main(retype_s=3600))[1] == 0  # not read again yet: still untyped
