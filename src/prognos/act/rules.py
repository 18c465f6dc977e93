"""Alert rules: when a device's signals open, escalate and resolve an alert.

A rule watches one signal of a device (``anomaly.score``, ``rul.p50``, ``fault.class``,
``drift.psi``, ``raw.<sensor>``…) and turns its observations into alert transitions:

- **hysteresis**: an alert opens when the value passes ``above`` (or ``below``) and resolves only
  when it comes back past ``exit`` — a value hovering at the threshold does not flap;
- **minimum duration** (``for``): the condition must hold that long before the alert opens;
- **N-of-M**: open when at least N of the last M observations meet the condition, resolve when
  fewer than N of the last M still hold;
- **cooldown**: after a resolve, the same key does not open again for that long;
- **deduplication**: one open alert per key (default: rule and device); repeats only count;
- **escalation**: an alert still open after ``escalate.after`` moves to ``escalate.severity``.

The engine is pure: observations in, transitions out, no clock or I/O of its own, so a replay of
the same readings yields the same transitions and the same alert ids (at-least-once delivery stays
idempotent downstream). `tick` escalates alerts of devices that fell silent (the caller brings the
time), and `snapshot` / `restore` carry the state across a restart.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

SEVERITIES = ("info", "warning", "critical")


@dataclass(frozen=True)
class Condition:
    signal: str
    above: float | None = None
    below: float | None = None
    exit: float | None = None  # hysteresis: where an open alert's value must return to resolve
    equals: frozenset[str] | None = None  # class signals: any of these values

    def enters(self, value: Any) -> bool:
        if self.equals is not None:
            return str(value) in self.equals
        if not isinstance(value, int | float):
            return False
        if self.above is not None:
            return value > self.above
        return self.below is not None and value < self.below

    def holds(self, value: Any) -> bool:
        """Whether an open alert stays open: past ``exit`` rather than the entry threshold."""
        if self.equals is not None or self.exit is None or not isinstance(value, int | float):
            return self.enters(value)
        return value > self.exit if self.above is not None else value < self.exit


@dataclass(frozen=True)
class Rule:
    name: str
    when: Condition
    severity: str = "warning"
    duration_ms: int = 0
    n_of_m: tuple[int, int] | None = None
    cooldown_ms: int = 0
    dedup: str = "{rule}:{device_id}"
    escalate_after_ms: int | None = None
    escalate_to: str | None = None
    device_type: str | None = None  # only devices of this type; None: every device
    actions: tuple[Mapping[str, Any], ...] = ()

    def key(self, device_id: str) -> str:
        return self.dedup.format(rule=self.name, device_id=device_id)


@dataclass(frozen=True)
class Transition:
    """An alert opened, escalated or resolved (``kind``), with what triggered it."""

    kind: str  # open | escalate | resolve
    alert_id: str
    rule: str
    key: str
    device_id: str
    severity: str
    ts: int
    value: Any
    opened_ts: int


@dataclass
class _State:
    history: deque[bool]
    since: int | None = None  # first ts of the current run of met observations
    open_since: int | None = None
    alert_id: str = ""
    escalated: bool = False
    resolved_at: int | None = None
    repeats: int = 0
    met_ts: deque[int] = field(default_factory=deque)
    device_id: str = ""  # the device whose observation last touched it


class Engine:
    def __init__(self, rules: Iterable[Rule]) -> None:
        self.rules = list(rules)
        self._state: dict[tuple[str, str], _State] = {}

    def observe(
        self,
        device_id: str,
        ts: int,
        signals: Mapping[str, Any],
        device_type: str | None = None,
    ) -> list[Transition]:
        """Feed one device's signals at ``ts``; the alert transitions they cause, in rule order."""
        out = []
        for rule in self.rules:
            if rule.device_type is not None and rule.device_type != device_type:
                continue
            value = signals.get(rule.when.signal)
            if value is None:
                continue
            t = self._step(rule, device_id, ts, value)
            if t is not None:
                out.append(t)
        return out

    def open_alerts(self) -> dict[tuple[str, str], str]:
        """(rule, key) → alert id of every alert open now."""
        return {k: s.alert_id for k, s in self._state.items() if s.open_since is not None}

    def tick(self, now: int) -> list[Transition]:
        """Escalate open alerts whose delay has passed at ``now``, even if their device has gone quiet."""
        rules = {r.name: r for r in self.rules}
        out = []
        for (name, key), st in self._state.items():
            rule = rules.get(name)
            if rule is None or st.open_since is None or st.escalated or rule.escalate_after_ms is None:
                continue
            if now - st.open_since >= rule.escalate_after_ms:
                st.escalated = True
                out.append(
                    Transition(
                        "escalate",
                        st.alert_id,
                        name,
                        key,
                        st.device_id,
                        rule.escalate_to or "critical",
                        now,
                        None,
                        st.open_since,
                    )
                )
        return out

    def snapshot(self, keep: Any = None) -> list[dict[str, Any]]:
        """The state worth keeping, as JSON-able rows (``keep(device_id)`` filters); a state equal to a
        fresh one — nothing met, nothing open, no cooldown running — is left out."""
        rows = []
        for (name, key), st in self._state.items():
            if st.open_since is None and st.resolved_at is None and not any(st.history):
                continue
            if keep is not None and not keep(st.device_id):
                continue
            rows.append(
                {
                    "rule": name,
                    "key": key,
                    "device_id": st.device_id,
                    "history": list(st.history),
                    "met_ts": list(st.met_ts),
                    "since": st.since,
                    "open_since": st.open_since,
                    "alert_id": st.alert_id,
                    "escalated": st.escalated,
                    "resolved_at": st.resolved_at,
                    "repeats": st.repeats,
                }
            )
        return rows

    def restore(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Take back what `snapshot` gave (rules that no longer exist are dropped)."""
        m = {r.name: r.n_of_m[1] if r.n_of_m else 1 for r in self.rules}
        for row in rows:
            if row["rule"] not in m:
                continue
            history = deque(row["history"], maxlen=m[row["rule"]])
            self._state[row["rule"], row["key"]] = _State(
                history,
                row["since"],
                row["open_since"],
                row["alert_id"],
                row["escalated"],
                row["resolved_at"],
                row["repeats"],
                deque(row["met_ts"]),
                row["device_id"],
            )

    def _step(self, rule: Rule, device_id: str, ts: int, value: Any) -> Transition | None:
        key = rule.key(device_id)
        m = rule.n_of_m[1] if rule.n_of_m else 1
        st = self._state.setdefault((rule.name, key), _State(deque(maxlen=m)))
        st.device_id = device_id
        opened = st.open_since
        met = rule.when.holds(value) if opened is not None else rule.when.enters(value)
        st.history.append(met)
        st.met_ts.append(ts)
        while len(st.met_ts) > m:
            st.met_ts.popleft()
        st.since = (st.since if st.since is not None else ts) if met else None
        if opened is not None:
            return self._open_step(rule, st, key, ts, value)
        if sum(st.history) < (rule.n_of_m[0] if rule.n_of_m else 1):
            return None
        first = _first_met(st) if rule.n_of_m else st.since
        if first is None or ts - first < rule.duration_ms:
            return None  # not long enough yet
        if st.resolved_at is not None and ts - st.resolved_at < rule.cooldown_ms:
            return None  # cooling down after the last alert of this key
        st.open_since, st.repeats, st.alert_id = ts, 0, alert_id(rule.name, key, ts)
        return Transition("open", st.alert_id, rule.name, key, device_id, rule.severity, ts, value, ts)

    def _open_step(self, rule: Rule, st: _State, key: str, ts: int, value: Any) -> Transition | None:
        """An observation while the alert is open: resolve, escalate, or count a repeat (dedup)."""
        device_id, opened = st.device_id, st.open_since
        assert opened is not None
        if sum(st.history) < (rule.n_of_m[0] if rule.n_of_m else 1):
            severity = rule.escalate_to if st.escalated and rule.escalate_to else rule.severity
            t = Transition("resolve", st.alert_id, rule.name, key, device_id, severity, ts, value, opened)
            st.open_since, st.escalated, st.resolved_at, st.since = None, False, ts, None
            st.history.clear()
            st.met_ts.clear()
            return t
        if rule.escalate_after_ms is not None and not st.escalated and ts - opened >= rule.escalate_after_ms:
            st.escalated = True
            severity = rule.escalate_to or "critical"
            return Transition("escalate", st.alert_id, rule.name, key, device_id, severity, ts, value, opened)
        st.repeats += 1
        return None


def alert_id(rule: str, key: str, opened_ts: int) -> str:
    """Deterministic: replaying the same readings names the same alert (idempotent writes and actions)."""
    return hashlib.sha256(f"{rule}\x00{key}\x00{opened_ts}".encode()).hexdigest()[:20]


def _first_met(st: _State) -> int | None:
    for met, ts in zip(st.history, st.met_ts, strict=True):
        if met:
            return ts
    return None
