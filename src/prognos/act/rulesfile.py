"""The rules file (YAML) → `Rule` objects, or an error that names the line and the field.

rules:
  - name: pump-anomaly
    signal: anomaly.score        # what the stream scorer emits, or raw.<sensor>
    above: 0.8                   # or below: / equals: [bearing, seal]
    exit: 0.6                    # hysteresis (optional)
    for: 30s                     # minimum duration (optional)
    n_of_m: [3, 5]               # optional
    cooldown: 10m
    severity: warning            # info | warning | critical
    escalate: {after: 15m, severity: critical}
    device_type: pump
    dedup: "{rule}:{device_id}"
    actions: [{mqtt: {}}, {webhook: {url: "http://127.0.0.1:9000/hook"}}]
retrain:                         # optional: when to train a challenger (see prognos.retrain)
  - model: pump-anomaly
    on: drift                    # or: schedule, with every: 6h
    signal: drift.psi            # on drift: the signal and its threshold
    above: 0.25
    train: 2h                    # recent data the challenger learns from
    evaluate: 10m                # it runs in shadow this long, then the better one is champion
    labels: labels.csv           # optional: truth to compare them on (else, for anomaly, the alarm rate)
    cooldown: 1h
    min_gain: 0.0
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from prognos.act.rules import SEVERITIES, Condition, Rule
from prognos.errors import InvalidInput

KEYS = {
    "name",
    "signal",
    "above",
    "below",
    "equals",
    "exit",
    "for",
    "n_of_m",
    "cooldown",
    "severity",
    "escalate",
    "device_type",
    "dedup",
    "actions",
}
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$")
_UNITS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, None: 1000}


POLICY_KEYS = {"model", "on", "signal", "above", "every", "train", "evaluate", "labels", "cooldown", "min_gain"}


@dataclass(frozen=True)
class Policy:
    """When and how to retrain one model (`prognos.retrain` carries it out)."""

    model: str
    on: str  # drift | schedule
    signal: str = "drift.psi"
    above: float = 0.25
    every_ms: int | None = None
    train_ms: int = 2 * 3_600_000
    evaluate_ms: int = 600_000
    labels: str | None = None
    cooldown_ms: int = 3_600_000
    min_gain: float = 0.0


def load_rules(path: str | Path) -> list[Rule]:
    return parse_rules(_read(path), str(path))


def load_policies(path: str | Path) -> list[Policy]:
    return parse_policies(_read(path), str(path))


def _read(path: str | Path) -> str:
    try:
        return Path(path).read_text()
    except OSError as exc:
        raise InvalidInput(
            f"{path}: cannot read the rules file ({exc.strerror})", field="rules", value=str(path)
        ) from None


def parse_policies(text: str, source: str = "<rules>") -> list[Policy]:
    where, top = _top(text, source)
    if "retrain" not in top:
        return []
    node = top["retrain"][1]
    if not isinstance(node, yaml.SequenceNode):
        raise where.error(node, "retrain", "expected a list of retraining policies")
    out = [_policy(where, n, f"retrain[{i}]") for i, n in enumerate(node.value)]
    seen = set()
    for p, n in zip(out, node.value, strict=True):
        if p.model in seen:
            raise where.error(n, "retrain.model", f"model {p.model!r} has two policies")
        seen.add(p.model)
    return out


def _top(text: str, source: str) -> tuple[_Where, dict[str, tuple[yaml.Node, yaml.Node]]]:
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", -1) + 1
        raise InvalidInput(f"{source}:{line}: not valid YAML ({getattr(exc, 'problem', exc)})", field="rules") from None
    where = _Where(source)
    if not isinstance(root, yaml.MappingNode):
        raise where.error(root, "rules", "expected a mapping with a 'rules' list")
    top = where.mapping(root, "")
    if set(top) - {"rules", "retrain"}:
        extra = sorted(set(top) - {"rules", "retrain"})[0]
        raise where.error(top[extra][0], extra, "unknown top-level key (expected: rules, retrain)")
    if "rules" not in top or not isinstance(top["rules"][1], yaml.SequenceNode):
        raise where.error(root, "rules", "expected a list under 'rules'")
    return where, top


def parse_rules(text: str, source: str = "<rules>") -> list[Rule]:
    where, top = _top(text, source)
    rules, names = [], set()
    for i, node in enumerate(top["rules"][1].value):
        rule = _rule(where, node, f"rules[{i}]")
        if rule.name in names:
            raise where.error(node, f"rules[{i}].name", f"duplicate rule name {rule.name!r}")
        names.add(rule.name)
        rules.append(rule)
    return rules


class _Where:
    """Turns YAML nodes into values, raising errors that carry the file, line and field path."""

    def __init__(self, source: str) -> None:
        self.source = source

    def error(self, node: yaml.Node | None, field: str, message: str) -> InvalidInput:
        line = node.start_mark.line + 1 if node is not None else 0
        return InvalidInput(f"{self.source}:{line}: {field}: {message}", field=field, value=line)

    def mapping(self, node: yaml.Node, field: str) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        if not isinstance(node, yaml.MappingNode):
            raise self.error(node, field, "expected a mapping")
        return {str(k.value): (k, v) for k, v in node.value}

    def value(self, node: yaml.Node) -> Any:
        return yaml.safe_load(yaml.serialize(node))


class _Fields:
    """One mapping of the file (a rule, a policy): fields read with their types checked, errors with line and path."""

    def __init__(self, w: _Where, node: yaml.Node, at: str, known: set[str]) -> None:
        self.w, self.node, self.at = w, node, at
        self.fields = w.mapping(node, at)
        for key, (k, _) in self.fields.items():
            if key not in known:
                raise w.error(k, f"{at}.{key}", f"unknown field (fields: {', '.join(sorted(known))})")

    def __contains__(self, key: str) -> bool:
        return key in self.fields

    def node_of(self, key: str) -> yaml.Node:
        return self.fields[key][1]

    def error(self, key: str, message: str) -> InvalidInput:
        return self.w.error(self.fields[key][1] if key in self.fields else self.node, f"{self.at}.{key}", message)

    def get(self, key: str, kind: type | tuple[type, ...], what: str, default: Any = None) -> Any:
        if key not in self.fields:
            return default
        v = self.w.value(self.fields[key][1])
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if not isinstance(v, kind) or (isinstance(v, bool) and bool not in kinds):
            raise self.error(key, f"expected {what}, got {v!r}")
        return v

    def duration(self, key: str, default: int | None = None) -> int | None:
        if key not in self.fields:
            return default
        return _duration(self.w, f"{self.at}.{key}", self.fields[key][1])


def _duration(w: _Where, field: str, node: yaml.Node) -> int:
    value = w.value(node)
    m = _DURATION.match(str(value).strip())
    if not m:
        raise w.error(node, field, f"expected a duration like 30s, 10m, 2h or 500ms, got {value!r}")
    return int(float(m.group(1)) * _UNITS[m.group(2)])


def _policy(w: _Where, node: yaml.Node, at: str) -> Policy:
    f = _Fields(w, node, at, POLICY_KEYS)
    model = f.get("model", str, "a model name")
    if not model:
        raise f.error("model", "every policy names the model it retrains")
    on = f.get("on", str, "drift or schedule")
    if on not in ("drift", "schedule"):
        raise f.error("on", f"expected drift or schedule, got {on!r}")
    every = f.duration("every")
    if on == "schedule" and not every:
        raise f.error("every", "a schedule needs every: DURATION (e.g. 6h)")
    number = (int, float)
    signal, above = f.get("signal", str, "a drift signal", "drift.psi"), f.get("above", number, "a number", 0.25)
    train, evaluate = f.duration("train", 2 * 3_600_000) or 0, f.duration("evaluate", 600_000) or 0
    labels, cooldown = f.get("labels", str, "a labels file"), f.duration("cooldown", 3_600_000) or 0
    return Policy(
        model, on, signal, above, every, train, evaluate, labels, cooldown, f.get("min_gain", number, "a number", 0.0)
    )


def _rule(w: _Where, node: yaml.Node, at: str) -> Rule:
    f = _Fields(w, node, at, KEYS)
    name = f.get("name", str, "a rule name")
    if not name:
        raise w.error(node, f"{at}.name", "every rule needs a name")
    n_of_m = f.get("n_of_m", list, "[N, M]")
    if n_of_m is not None and not (
        len(n_of_m) == 2 and all(isinstance(x, int) for x in n_of_m) and 1 <= n_of_m[0] <= n_of_m[1] <= 10_000
    ):
        raise f.error("n_of_m", f"expected [N, M] with 1 ≤ N ≤ M, got {n_of_m}")
    severity = f.get("severity", str, "a severity", "warning")
    if severity not in SEVERITIES:
        raise f.error("severity", f"expected one of {', '.join(SEVERITIES)}, got {severity!r}")
    escalate_after, escalate_to = _escalation(f)
    return Rule(
        name=name,
        when=_condition(f),
        severity=severity,
        duration_ms=f.duration("for", 0) or 0,
        n_of_m=(n_of_m[0], n_of_m[1]) if n_of_m else None,
        cooldown_ms=f.duration("cooldown", 0) or 0,
        dedup=_dedup(f),
        escalate_after_ms=escalate_after,
        escalate_to=escalate_to,
        device_type=f.get("device_type", str, "a device type"),
        actions=_actions(f),
    )


def _condition(f: _Fields) -> Condition:
    """What the rule watches: a signal ``above``, ``below`` or ``equals`` a threshold (``exit``: hysteresis)."""
    signal = f.get("signal", str, "a signal such as anomaly.score or raw.temperature")
    if not signal:
        raise f.w.error(f.node, f"{f.at}.signal", "every rule needs a signal")
    number = (int, float)
    above, below = f.get("above", number, "a number"), f.get("below", number, "a number")
    equals = f.get("equals", (str, list), "a value or a list of values")
    given = [k for k, v in (("above", above), ("below", below), ("equals", equals)) if v is not None]
    if len(given) != 1:
        raise f.w.error(f.node, f.at, f"give exactly one of above, below, equals (got {given or 'none'})")
    exit_ = f.get("exit", number, "a number")
    if exit_ is not None and (equals is not None or _wrong_side(exit_, above, below)):
        side = "≤ above" if above is not None else "≥ below" if below is not None else "only with above/below"
        raise f.error("exit", f"the exit threshold must be {side}, got {exit_}")
    values = None if equals is None else frozenset(map(str, equals if isinstance(equals, list) else [equals]))
    return Condition(signal, above, below, exit_, values)


def _wrong_side(exit_: float, above: float | None, below: float | None) -> bool:
    """An exit threshold past the entry one: the alert would resolve before it opened."""
    return (above is not None and exit_ > above) or (below is not None and exit_ < below)


def _escalation(f: _Fields) -> tuple[int | None, str | None]:
    """``escalate: {after: DURATION, severity: LEVEL}`` → (after ms, severity); (None, None) without one."""
    if "escalate" not in f:
        return None, None
    node, at = f.node_of("escalate"), f"{f.at}.escalate"
    esc = f.w.mapping(node, at)
    if set(esc) - {"after", "severity"} or "after" not in esc:
        raise f.w.error(node, at, "expected {after: DURATION, severity: LEVEL}")
    after = _duration(f.w, f"{at}.after", esc["after"][1])
    severity = str(f.w.value(esc["severity"][1])) if "severity" in esc else "critical"
    if severity not in SEVERITIES:
        raise f.w.error(esc["severity"][1], f"{at}.severity", f"expected one of {', '.join(SEVERITIES)}")
    return after, severity


def _dedup(f: _Fields) -> str:
    dedup: str = f.get("dedup", str, "a key template", "{rule}:{device_id}")
    names = {name for _, name, _, _ in string.Formatter().parse(dedup) if name is not None}
    if names - {"rule", "device_id"}:
        raise f.error("dedup", f"only {{rule}} and {{device_id}} may appear, got {names}")
    return dedup


def _actions(f: _Fields) -> tuple[Any, ...]:
    actions = f.get("actions", list, "a list of actions", [])
    for j, action in enumerate(actions):
        if not (isinstance(action, dict) and len(action) == 1 and next(iter(action)) in ("mqtt", "webhook")):
            raise f.w.error(
                f.node_of("actions"), f"{f.at}.actions[{j}]", "expected {mqtt: {...}} or {webhook: {url: ...}}"
            )
    return tuple(actions)
