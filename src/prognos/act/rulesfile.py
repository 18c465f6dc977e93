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
"""

from __future__ import annotations

import re
import string
from pathlib import Path
from typing import Any

import yaml

from prognos.act.rules import SEVERITIES, Condition, Rule
from prognos.errors import InvalidInput

KEYS = {"name", "signal", "above", "below", "equals", "exit", "for", "n_of_m", "cooldown", "severity", "escalate",
        "device_type", "dedup", "actions"}  # fmt: skip
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$")
_UNITS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, None: 1000}


def load_rules(path: str | Path) -> list[Rule]:
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise InvalidInput(
            f"{path}: cannot read the rules file ({exc.strerror})", field="rules", value=str(path)
        ) from None
    return parse_rules(text, str(path))


def parse_rules(text: str, source: str = "<rules>") -> list[Rule]:
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", -1) + 1
        raise InvalidInput(f"{source}:{line}: not valid YAML ({getattr(exc, 'problem', exc)})", field="rules") from None
    where = _Where(source)
    if not isinstance(root, yaml.MappingNode):
        raise where.error(root, "rules", "expected a mapping with a 'rules' list")
    top = where.mapping(root, "")
    if set(top) - {"rules"}:
        extra = sorted(set(top) - {"rules"})[0]
        raise where.error(top[extra][0], extra, "unknown top-level key (expected: rules)")
    if "rules" not in top or not isinstance(top["rules"][1], yaml.SequenceNode):
        raise where.error(root, "rules", "expected a list under 'rules'")
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


def _rule(w: _Where, node: yaml.Node, at: str) -> Rule:
    fields = w.mapping(node, at)
    for key, (k, _) in fields.items():
        if key not in KEYS:
            raise w.error(k, f"{at}.{key}", f"unknown field (fields: {', '.join(sorted(KEYS))})")

    def get(key: str, kind: type | tuple[type, ...], what: str, default: Any = None) -> Any:
        if key not in fields:
            return default
        v = w.value(fields[key][1])
        if not isinstance(v, kind) or (
            isinstance(v, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,))
        ):
            raise w.error(fields[key][1], f"{at}.{key}", f"expected {what}, got {v!r}")
        return v

    def duration(key: str, value: Any, node: yaml.Node) -> int:
        m = _DURATION.match(str(value).strip())
        if not m:
            raise w.error(node, key, f"expected a duration like 30s, 10m, 2h or 500ms, got {value!r}")
        return int(float(m.group(1)) * _UNITS[m.group(2)])

    name = get("name", str, "a rule name")
    if not name:
        raise w.error(node, f"{at}.name", "every rule needs a name")
    signal = get("signal", str, "a signal such as anomaly.score or raw.temperature")
    if not signal:
        raise w.error(node, f"{at}.signal", "every rule needs a signal")
    number = (int, float)
    above, below = get("above", number, "a number"), get("below", number, "a number")
    equals = get("equals", (str, list), "a value or a list of values")
    given = [k for k, v in (("above", above), ("below", below), ("equals", equals)) if v is not None]
    if len(given) != 1:
        raise w.error(node, f"{at}", f"give exactly one of above, below, equals (got {given or 'none'})")
    exit_ = get("exit", number, "a number")
    if exit_ is not None and (equals is not None or (above is not None and exit_ > above) or
                              (below is not None and exit_ < below)):  # fmt: skip
        side = "≤ above" if above is not None else "≥ below" if below is not None else "only with above/below"
        raise w.error(fields["exit"][1], f"{at}.exit", f"the exit threshold must be {side}, got {exit_}")
    n_of_m = get("n_of_m", list, "[N, M]")
    if n_of_m is not None and not (len(n_of_m) == 2 and all(isinstance(x, int) for x in n_of_m)
                                   and 1 <= n_of_m[0] <= n_of_m[1] <= 10_000):  # fmt: skip
        raise w.error(fields["n_of_m"][1], f"{at}.n_of_m", f"expected [N, M] with 1 ≤ N ≤ M, got {n_of_m}")
    severity = get("severity", str, "a severity", "warning")
    if severity not in SEVERITIES:
        raise w.error(
            fields["severity"][1], f"{at}.severity", f"expected one of {', '.join(SEVERITIES)}, got {severity!r}"
        )
    escalate_after, escalate_to = None, None
    if "escalate" in fields:
        esc = w.mapping(fields["escalate"][1], f"{at}.escalate")
        unknown = set(esc) - {"after", "severity"}
        if unknown or "after" not in esc:
            raise w.error(fields["escalate"][1], f"{at}.escalate", "expected {after: DURATION, severity: LEVEL}")
        escalate_after = duration(f"{at}.escalate.after", w.value(esc["after"][1]), esc["after"][1])
        escalate_to = str(w.value(esc["severity"][1])) if "severity" in esc else "critical"
        if escalate_to not in SEVERITIES:
            raise w.error(esc["severity"][1], f"{at}.escalate.severity", f"expected one of {', '.join(SEVERITIES)}")
    dedup = get("dedup", str, "a key template", "{rule}:{device_id}")
    names = {f for _, f, _, _ in string.Formatter().parse(dedup) if f is not None}
    if names - {"rule", "device_id"}:
        raise w.error(fields["dedup"][1], f"{at}.dedup", f"only {{rule}} and {{device_id}} may appear, got {names}")
    actions = get("actions", list, "a list of actions", [])
    for j, action in enumerate(actions):
        if not (isinstance(action, dict) and len(action) == 1 and next(iter(action)) in ("mqtt", "webhook")):
            raise w.error(fields["actions"][1], f"{at}.actions[{j}]", "expected {mqtt: {...}} or {webhook: {url: ...}}")
    values = None if equals is None else frozenset(map(str, equals if isinstance(equals, list) else [equals]))
    for_ms = duration(f"{at}.for", fields["for"][1].value, fields["for"][1]) if "for" in fields else 0
    cooldown = fields.get("cooldown")
    cooldown_ms = duration(f"{at}.cooldown", cooldown[1].value, cooldown[1]) if cooldown else 0
    return Rule(
        name=name,
        when=Condition(signal, above, below, exit_, values),
        severity=severity,
        duration_ms=for_ms,
        n_of_m=(n_of_m[0], n_of_m[1]) if n_of_m else None,
        cooldown_ms=cooldown_ms,
        dedup=dedup,
        escalate_after_ms=escalate_after,
        escalate_to=escalate_to,
        device_type=get("device_type", str, "a device type"),
        actions=tuple(actions),
    )
