"""Rule semantics as tables: a rule, a series of (seconds, value), the transitions it must produce."""

from __future__ import annotations

import pytest

from prognos.act.rules import Condition, Engine, Rule

A = Condition("anomaly.score", above=0.8)
A_HYST = Condition("anomaly.score", above=0.8, exit=0.6)


def run(rule: Rule, series, device="pump-1", device_type=None):
    engine = Engine([rule])
    out = []
    for t, v in series:
        out += [
            (x.ts // 1000, x.kind, x.severity)
            for x in engine.observe(device, t * 1000, {rule.when.signal: v}, device_type)
        ]
    return out


CASES = {
    "opens above and resolves below": (
        Rule("r", A),
        [(0, 0.1), (1, 0.9), (2, 0.95), (3, 0.5)],
        [(1, "open", "warning"), (3, "resolve", "warning")],
    ),
    "without hysteresis it flaps": (
        Rule("r", A),
        [(0, 0.85), (1, 0.79), (2, 0.85), (3, 0.79)],
        [(0, "open", "warning"), (1, "resolve", "warning"), (2, "open", "warning"), (3, "resolve", "warning")],
    ),
    "hysteresis holds it open until the exit threshold": (
        Rule("r", A_HYST),
        [(0, 0.85), (1, 0.79), (2, 0.85), (3, 0.61), (4, 0.6)],
        [(0, "open", "warning"), (4, "resolve", "warning")],
    ),
    "minimum duration needs an unbroken run": (
        Rule("r", A, duration_ms=2000),
        [(0, 0.9), (1, 0.5), (2, 0.9), (3, 0.9), (4, 0.9)],
        [(4, "open", "warning")],
    ),
    "N of M opens on scattered hits": (
        Rule("r", A, n_of_m=(3, 5)),
        [(0, 0.9), (1, 0.1), (2, 0.9), (3, 0.1), (4, 0.9), (5, 0.9), (6, 0.1), (7, 0.1)],
        [(4, "open", "warning"), (7, "resolve", "warning")],
    ),  # open at 3 of the last 5, resolve below 3 of 5
    "N of M stays quiet below N": (
        Rule("r", A, n_of_m=(3, 5)),
        [(0, 0.9), (1, 0.1), (2, 0.1), (3, 0.9), (4, 0.1), (5, 0.1), (6, 0.9)],
        [],
    ),
    "cooldown suppresses a reopen": (
        Rule("r", A, cooldown_ms=10_000),
        [(0, 0.9), (1, 0.1), (2, 0.9), (5, 0.9), (12, 0.9)],
        [(0, "open", "warning"), (1, "resolve", "warning"), (12, "open", "warning")],
    ),
    "repeats while open are deduplicated": (
        Rule("r", A),
        [(0, 0.9), (1, 0.95), (2, 0.99), (3, 0.9)],
        [(0, "open", "warning")],
    ),
    "escalates once after the delay, resolves at the escalated level": (
        Rule("r", A, severity="warning", escalate_after_ms=5000, escalate_to="critical"),
        [(0, 0.9), (3, 0.9), (5, 0.9), (9, 0.9), (10, 0.1)],
        [(0, "open", "warning"), (5, "escalate", "critical"), (10, "resolve", "critical")],
    ),
    "class signals match a set": (
        Rule("r", Condition("fault.class", equals=frozenset({"bearing", "seal"})), severity="critical"),
        [(0, "normal"), (1, "bearing"), (2, "seal"), (3, "normal")],
        [(1, "open", "critical"), (3, "resolve", "critical")],
    ),
    "below with hysteresis (short remaining life)": (
        Rule("r", Condition("rul.p50", below=20, exit=30)),
        [(0, 50), (1, 19), (2, 25), (3, 29.9), (4, 31)],
        [(1, "open", "warning"), (4, "resolve", "warning")],
    ),
    "a value of another type never matches": (Rule("r", A), [(0, "high"), (1, 0.9)], [(1, "open", "warning")]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_rule_semantics(name):
    rule, series, expected = CASES[name]
    assert run(rule, series) == expected


def test_rules_apply_to_their_device_type_and_skip_missing_signals():
    rule = Rule("r", A, device_type="pump")
    assert run(rule, [(0, 0.9)], device_type="fan") == []
    assert run(rule, [(0, 0.9)], device_type="pump") == [(0, "open", "warning")]
    assert Engine([rule]).observe("pump-1", 0, {"raw.temperature": 99}, "pump") == []


def test_dedup_key_decides_what_counts_as_the_same_alert():
    per_device, fleet = Rule("d", A), Rule("f", A, dedup="{rule}")
    engine = Engine([per_device, fleet])
    opened = [t for dev in ("pump-1", "pump-2") for t in engine.observe(dev, 0, {"anomaly.score": 0.9})]
    assert sorted((t.rule, t.key) for t in opened) == [("d", "d:pump-1"), ("d", "d:pump-2"), ("f", "f")]
    assert len(engine.open_alerts()) == 3


def test_alert_ids_are_the_same_on_replay_and_differ_between_alerts():
    rule = Rule("r", A)
    series = [(0, 0.9), (1, 0.1), (2, 0.9)]

    def ids():
        engine = Engine([rule])
        return [t.alert_id for s, v in series for t in engine.observe("pump-1", s * 1000, {"anomaly.score": v})]

    first, again = ids(), ids()
    assert first == again and len(first) == 3
    assert first[0] == first[1] != first[2]  # open and resolve share an id; a new alert gets a new one


def test_a_silent_device_is_escalated_by_the_clock():
    rule = Rule("r", A, escalate_after_ms=5000, escalate_to="critical")
    engine = Engine([rule])
    (opened,) = engine.observe("pump-1", 0, {"anomaly.score": 0.9})
    assert engine.tick(4999) == []
    (esc,) = engine.tick(5000)  # no observation since: the device went quiet
    assert (esc.kind, esc.alert_id, esc.severity, esc.opened_ts) == ("escalate", opened.alert_id, "critical", 0)
    assert engine.tick(9000) == [] and engine.observe("pump-1", 9000, {"anomaly.score": 0.9}) == []  # once


@pytest.mark.parametrize("name", list(CASES))
def test_a_restored_snapshot_carries_on_as_if_never_stopped(name):
    import json

    rule, series, expected = CASES[name]
    for cut in range(len(series) + 1):
        first = Engine([rule])
        out = [t for s, v in series[:cut] for t in first.observe("pump-1", s * 1000, {rule.when.signal: v})]
        second = Engine([rule])
        second.restore(json.loads(json.dumps(first.snapshot())))  # through JSON, as a checkpoint travels
        out += [t for s, v in series[cut:] for t in second.observe("pump-1", s * 1000, {rule.when.signal: v})]
        assert [(t.ts // 1000, t.kind, t.severity) for t in out] == expected, cut


def test_a_snapshot_leaves_out_what_a_fresh_state_would_hold():
    engine = Engine([Rule("r", A, n_of_m=(2, 3))])
    for dev, v in (("quiet", 0.1), ("hot", 0.9)):
        engine.observe(dev, 0, {"anomaly.score": v})
    assert [row["device_id"] for row in engine.snapshot()] == ["hot"]
    assert engine.snapshot(keep=lambda d: d != "hot") == []
