"""What the demo's live window came to, scored against the simulator's ground truth."""

from __future__ import annotations

from prognos.act.alerts import Alerts
from prognos.demo.desk import MaintenanceDesk
from prognos.demo.scenario import LIFE, WATCHED, Scenario
from prognos.monitor.quality import alerts_against_truth, rul_error
from prognos.store import Store
from prognos.types import prediction_key


def summary(store: Store, scenario: Scenario, until: int, desk: MaintenanceDesk) -> str:
    """The live window's alerts against the simulator's truth: faults caught, delay, false alarms, remaining life."""
    truth, start = scenario.fleet.truth(), scenario.live_start
    alerts = [a for a in Alerts(store).list(limit=100_000) if a.opened_ts >= start]
    devices = [d for d in scenario.fleet.devices if d.failure is None or d.failure > start]
    q = alerts_against_truth(
        [(a.device_id, a.opened_ts) for a in alerts if a.rule in WATCHED], truth, start, until, len(devices)
    )
    life = alerts_against_truth(
        [(a.device_id, a.opened_ts) for a in alerts if a.rule == LIFE],
        truth,
        start,
        until,
        len(devices),
        wear_only=True,
    )
    rul = rul_error(
        {
            d.device_id: _series(store, d.device_id, prediction_key(f"{d.type}-rul", "rul.p50"), start, until)
            for d in devices
            if d.failure
        },
        truth,
    )
    by_rule: dict[str, int] = {}
    for a in alerts:
        by_rule[a.rule] = by_rule.get(a.rule, 0) + 1
    caught = f"{q['caught']} of {q['faults']}" + (f" ({q['caught'] / q['faults']:.0%})" if q["faults"] else "")
    lines = [
        f"\nsummary of {(until - start) / 1000:.0f} s live, scored against the simulator's ground truth:",
        f"  alerts raised       {len(alerts)} ({', '.join(f'{r} {n}' for r, n in sorted(by_rule.items())) or 'none'})",
        f"  faults caught       {caught}; mean detection delay {q['mean_delay_s']:.0f} s",
        f"  false alarms        {q['false_alarms']} ({q['false_alarms_per_device_day']:.1f} per device-day); "
        f"short-life alerts {life['alerts']}, {life['false_alarms']} on machines not wearing out",
        f"  remaining life      RMSE {rul['rul_rmse_s']:.0f} s over {rul['rul_points']} predictions (wearing machines)",
        f"  actions             {desk.received} webhooks received by the maintenance desk, {desk.bad} badly signed",
        *_retraining(store),
    ]
    for f in q["per_fault"]:
        delay = f"after {f['delay_s']:.0f} s" if f["caught"] else "missed"
        lines.append(f"    {f['device_id']:<11} {f['fault']:<10} {delay}")
    return "\n".join(lines)


def _retraining(store: Store) -> list[str]:
    runs = [doc for _, doc in store.records("retrain-run")]
    if not runs:
        return ["  retraining          none started"]
    out = []
    for r in runs:
        what = f"challenger v{r['challenger']}" if r.get("challenger") else "a challenger"
        said = {"shadow": "still in shadow at the end (no decision yet)", "training": "still training at the end"}
        out.append(
            f"  retraining          {r['model']}: {what} {r['state']} — {said.get(r['state']) or r.get('reason')}"
        )
    return out


def _series(store: Store, device_id: str, key: str, start: int, end: int) -> list[tuple[int, float]]:
    t = store.read(device_id, start, max(end, start + 1), [key])
    return list(zip(t["ts"].to_pylist(), t["value"].to_pylist(), strict=True))
