from __future__ import annotations

import pytest

from prognos.act.alerts import AlertNotFound, Alerts
from prognos.act.rules import Condition, Engine, Rule
from prognos.errors import Conflict, InvalidInput
from prognos.store import open_store

RULE = Rule("hot", Condition("raw.temperature", above=80, exit=70), escalate_after_ms=5000, escalate_to="critical")


def transitions(series, device="pump-1"):
    engine = Engine([RULE])
    return [t for s, v in series for t in engine.observe(device, s * 1000, {"raw.temperature": v})]


def test_transitions_become_one_alert_with_its_history_and_replays_change_nothing(store):
    alerts = Alerts(store)
    ts = transitions([(0, 85), (3, 90), (5, 91), (9, 60)])
    assert [t.kind for t in ts] == ["open", "escalate", "resolve"]
    for _ in range(2):  # the second pass is a replay after a restart
        for t in ts:
            alerts.apply(t, {"top_sensors": [["temperature", 0.9]], "window": [0, 9000]})
    (alert,) = alerts.list()
    assert alert.state == "resolved" and alert.severity == "critical" and alert.resolved_ts == 9000
    assert [h["event"] for h in alert.history] == ["open", "escalate", "resolve"]
    assert alert.explanation["top_sensors"] == [["temperature", 0.9]]


def test_acknowledge_then_the_rule_resolves(store):
    alerts = Alerts(store)
    opened, resolved = transitions([(0, 85), (4, 60)])
    a = alerts.apply(opened)
    assert alerts.acknowledge(a.id, "ana", "looking").state == "acknowledged"
    assert alerts.list(state="open") == [] and alerts.list(state="acknowledged")[0].acknowledged_by == "ana"
    assert alerts.apply(resolved).state == "resolved"
    with pytest.raises(Conflict, match="already resolved"):
        alerts.acknowledge(a.id, "ana")
    assert alerts.resolve(a.id, "ana").state == "resolved"  # idempotent


def test_filters_order_and_errors(store):
    alerts = Alerts(store)
    for i, device in enumerate(["pump-1", "pump-2", "pump-3"]):
        engine = Engine([RULE])
        (t,) = engine.observe(device, i * 1000, {"raw.temperature": 99})
        alerts.apply(t)
    assert [a.device_id for a in alerts.list()] == ["pump-3", "pump-2", "pump-1"]
    assert [a.device_id for a in alerts.list(device_id="pump-2")] == ["pump-2"]
    assert len(alerts.list(severity="warning", limit=2)) == 2
    with pytest.raises(InvalidInput, match="state: expected one of"):
        alerts.list(state="closed")
    with pytest.raises(AlertNotFound):
        alerts.get("nope")


def test_alerts_survive_a_restart(tmp_path):
    url = f"duckdb:///{tmp_path}/a.duckdb"
    store = open_store(url)
    opened = Alerts(store).apply(transitions([(0, 85)])[0])
    store.close()
    store = open_store(url)
    assert Alerts(store).get(opened.id).state == "open"
    store.close()
