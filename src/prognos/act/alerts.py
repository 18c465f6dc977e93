"""Alerts at rest: the lifecycle open → acknowledged → resolved, kept in the store.

Rule transitions (`prognos.act.rules.Transition`) become alert records; a person acknowledges or
resolves them. Writes are idempotent by alert id: the same transition applied twice (a stream worker
restarted and replayed its input) leaves one alert, not two. Each alert carries its explanation
(top contributing sensors, the window that triggered it) and the outcomes of its actions.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field
from typing import Any

from prognos.act.rules import SEVERITIES, Transition
from prognos.errors import Conflict, InvalidInput, NotFound
from prognos.store import Records
from prognos.types import now_ms

KIND = "alert"
STATES = ("open", "acknowledged", "resolved")


class AlertNotFound(NotFound):
    pass


@dataclass
class Alert:
    id: str
    rule: str
    key: str
    device_id: str
    severity: str
    state: str
    opened_ts: int
    value: Any
    explanation: dict[str, Any] = field(default_factory=dict)
    updated_ts: int = 0
    resolved_ts: int | None = None
    acknowledged_by: str | None = None
    note: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list)  # every change, oldest first
    actions: dict[str, dict[str, Any]] = field(default_factory=dict)  # action name → outcome

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def scored(self) -> tuple[str, int, float] | None:
        """The anomaly model (name, version) and the raw score of the window that opened it, where one did."""
        e = self.explanation
        contributions = e.get("contributions")
        if not isinstance(contributions, dict) or "model" not in e or "version" not in e:
            return None
        return str(e["model"]), int(e["version"]), float(sum(contributions.values()))

    def event(self, kind: str) -> dict[str, Any]:
        """What live views are told of a change (``kind``: open, escalate, resolve, acknowledge): enough to re-read."""
        return {
            "id": self.id,
            "kind": kind,
            "device_id": self.device_id,
            "rule": self.rule,
            "severity": self.severity,
            "state": self.state,
        }


class Alerts:
    def __init__(self, store: Records) -> None:
        self.store = store
        self._lock = threading.Lock()  # read-modify-write of one record at a time in this process

    def apply(self, t: Transition, explanation: dict[str, Any] | None = None) -> Alert:
        """Record a rule transition; applying one twice changes nothing the second time."""
        with self._lock:
            if t.kind == "open":
                first = [{"ts": t.ts, "event": "open", "value": t.value}]
                alert = Alert(
                    t.alert_id,
                    t.rule,
                    t.key,
                    t.device_id,
                    t.severity,
                    "open",
                    t.opened_ts,
                    t.value,
                    explanation or {},
                    t.ts,
                    history=first,
                )
                self.store.put_record(KIND, t.alert_id, alert.to_dict())  # insert-only: a replay is a no-op
                return self.get(t.alert_id)
            alert = self.get(t.alert_id)
            if any(h["event"] == t.kind and h["ts"] == t.ts for h in alert.history):
                return alert  # already applied
            if t.kind == "escalate":
                alert.severity = t.severity
            elif t.kind == "resolve":
                alert.state, alert.resolved_ts = "resolved", t.ts
            alert.history.append({"ts": t.ts, "event": t.kind, "value": t.value, "severity": t.severity})
            alert.updated_ts = t.ts
            return self._save(alert)

    def get(self, alert_id: str) -> Alert:
        found = dict(self.store.records(KIND, alert_id))
        if alert_id not in found:
            raise AlertNotFound(f"alert {alert_id!r} not found")
        return Alert(**found[alert_id])

    def list(
        self, state: str | None = None, device_id: str | None = None, severity: str | None = None, limit: int = 1000
    ) -> list[Alert]:
        """Newest first, optionally only one state, device or severity."""
        if state is not None and state not in STATES:
            raise InvalidInput(f"state: expected one of {', '.join(STATES)}, got {state!r}", field="state", value=state)
        if severity is not None and severity not in SEVERITIES:
            raise InvalidInput(
                f"severity: expected one of {', '.join(SEVERITIES)}, got {severity!r}", field="severity", value=severity
            )
        wanted = {"state": state, "device_id": device_id, "severity": severity}
        alerts = [
            Alert(**d) for _, d in self.store.records(KIND) if all(v is None or d[k] == v for k, v in wanted.items())
        ]
        alerts.sort(key=lambda a: (a.opened_ts, a.id), reverse=True)
        return alerts[:limit]

    def acknowledge(self, alert_id: str, by: str, note: str | None = None) -> Alert:
        with self._lock:
            alert = self.get(alert_id)
            if alert.state == "resolved":
                raise Conflict(f"alert {alert_id!r} is already resolved")
            alert.state, alert.acknowledged_by, alert.note = "acknowledged", by, note
            alert.updated_ts = now_ms()
            alert.history.append({"ts": alert.updated_ts, "event": "acknowledge", "by": by, "note": note})
            return self._save(alert)

    def resolve(self, alert_id: str, by: str, note: str | None = None, false_alarm: bool = False) -> Alert:
        """Close an alert by hand (the rule resolves it on its own when the condition clears); ``false_alarm``: the
        person says nothing was wrong (kept in its history; the stream learns from it, `feedback`)."""
        with self._lock:
            alert = self.get(alert_id)
            if alert.state == "resolved" and not false_alarm:
                return alert
            if alert.state != "resolved":
                alert.state, alert.resolved_ts = "resolved", now_ms()
            alert.updated_ts = now_ms()
            entry = {"ts": alert.updated_ts, "event": "resolve", "by": by, "note": note}
            alert.history.append(entry | ({"false_alarm": True} if false_alarm else {}))
            return self._save(alert)

    def record_action(self, alert_id: str, action: str, outcome: dict[str, Any]) -> Alert:
        with self._lock:
            alert = self.get(alert_id)
            alert.actions[action] = outcome
            return self._save(alert)

    def _save(self, alert: Alert) -> Alert:
        self.store.put_record(KIND, alert.id, alert.to_dict(), replace=True)
        return alert
