from __future__ import annotations

import pytest

from prognos.act.rules import Condition
from prognos.act.rulesfile import load_rules, parse_rules
from prognos.errors import InvalidInput

GOOD = """\
rules:
  - name: pump-anomaly
    signal: anomaly.score
    above: 0.8
    exit: 0.6
    for: 30s
    cooldown: 10m
    severity: warning
    escalate: {after: 15m, severity: critical}
    device_type: pump
    actions: [{mqtt: {}}, {webhook: {url: "http://127.0.0.1:9000/hook"}}]
  - name: short-life
    signal: rul.p50
    below: 20
    n_of_m: [3, 5]
  - name: bearing
    signal: fault.class
    equals: [bearing, seal]
    dedup: "{rule}"
"""


def test_a_full_rules_file_becomes_rules(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text(GOOD)
    a, b, c = load_rules(path)
    assert a.when == Condition("anomaly.score", above=0.8, exit=0.6)
    assert (a.duration_ms, a.cooldown_ms, a.escalate_after_ms, a.escalate_to) == (30_000, 600_000, 900_000, "critical")
    assert a.device_type == "pump" and len(a.actions) == 2 and a.key("p-1") == "pump-anomaly:p-1"
    assert b.when.below == 20 and b.n_of_m == (3, 5) and b.severity == "warning"
    assert c.when.equals == frozenset({"bearing", "seal"}) and c.key("p-1") == "bearing"


def rule(extra: str) -> str:
    return "rules:\n  - name: r\n    signal: anomaly.score\n" + extra


@pytest.mark.parametrize(
    ("text", "line", "field", "match"),
    [
        (rule("    above: 0.8\n    treshold: 2\n"), 5, "rules[0].treshold", "unknown field"),
        (rule("    above: high\n"), 4, "rules[0].above", "expected a number, got 'high'"),
        (rule("    above: 0.8\n    below: 0.1\n"), 2, "rules[0]", "exactly one of above, below, equals"),
        (rule(""), 2, "rules[0]", "exactly one of"),
        (rule("    above: 0.8\n    exit: 0.9\n"), 5, "rules[0].exit", "must be ≤ above"),
        (rule("    above: 0.8\n    for: soon\n"), 5, "rules[0].for", "expected a duration"),
        (rule("    above: 0.8\n    severity: panic\n"), 5, "rules[0].severity", "expected one of info, warning"),
        (rule("    above: 0.8\n    n_of_m: [5, 3]\n"), 5, "rules[0].n_of_m", "1 ≤ N ≤ M"),
        (rule("    above: 0.8\n    dedup: '{site}'\n"), 5, "rules[0].dedup", "only {rule} and {device_id}"),
        (rule("    above: 0.8\n    actions: [{email: {}}]\n"), 5, "rules[0].actions[0]", "mqtt"),
        (rule("    above: 0.8\n    escalate: {severity: critical}\n"), 5, "rules[0].escalate", "after"),
        (rule("    above: 0.8\n") + "  - name: r\n    signal: x\n    above: 1\n", 5, "rules[1].name", "duplicate"),
        ("rules:\n  - name: r\n    signal: [oops\n", 4, "rules", "not valid YAML"),
        ("alerts: []\n", 1, "alerts", "unknown top-level key"),
        ("rules: 3\n", 1, "rules", "expected a list"),
    ],
)
def test_a_bad_rules_file_names_its_line_and_field(text, line, field, match):
    with pytest.raises(InvalidInput, match=match) as err:
        parse_rules(text, "rules.yaml")
    assert err.value.field == field
    assert str(err.value).startswith(f"rules.yaml:{line}:"), str(err.value)


def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(InvalidInput, match="cannot read the rules file"):
        load_rules(tmp_path / "nope.yaml")
