"""The three model kinds on the simulated fleet, scored on held-out devices against the simulator's ground truth:
anomaly event-F1 and detection delay, fault macro-F1, remaining-life RMSE."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

import numpy as np

from prognos.evaluate.metrics import event_f1, events, rmse
from prognos.evaluate.report import Benchmark, Run, table
from prognos.features import RegimeScaler
from prognos.features.calibration import DEFAULT_BUDGET, Budget, Normal, ratio
from prognos.sim.fleet import Fleet
from prognos.train import telemetry
from prognos.train.labels import Labels
from prognos.train.tasks import Config, fit_anomaly, fit_classify, fit_rul
from prognos.train.telemetry import Series

PROTOCOL = (
    "A seeded fleet (24 devices: pumps, motors, fans; 3 h at 1 Hz; half of them wear out to failure, one injected "
    "fault per device on average). Per device type, models train on two thirds of the devices and are scored on the "
    "rest against the ground truth: an alarm is a window whose score normal data reaches less often than the default "
    "alarm budget allows (1 per device per week), as the stream decides; an anomaly event (a fault, or wear before a "
    "failure) is caught by an alarm inside it or within one window after; an alarm run touching no event is a false "
    "alarm; the delay is first alarm minus event start. Fault macro-F1 is over the state at each window end (normal "
    "or the fault kind); RUL RMSE is in seconds, capped at 1 h, over held-out failing devices. Medians over seeds."
)


def from_fleet(fleet: Fleet) -> list[Series]:
    """The simulator's series without a store in between; rows after failure are absent."""
    out = []
    for dev in fleet.devices:
        chunks = [fleet.chunk(dev, i) for i in range(fleet.chunks)]
        ts, x = np.concatenate([c.ts for c in chunks]), np.concatenate([c.values for c in chunks])
        alive = np.concatenate([c.modes for c in chunks]) >= 0
        x[~alive] = np.nan
        order = np.argsort(chunks[0].names)  # sensors sorted by name, as `telemetry.from_store` gives them
        out.append(Series(dev.device_id, dev.type, ts, x[:, order], [chunks[0].names[i] for i in order]))
    return out


@dataclass
class SimResult:
    seed: int
    devices: int
    hours: float
    anomaly: dict[str, float] = field(default_factory=dict)
    fault_macro_f1: float = float("nan")
    rul_rmse_s: float = float("nan")
    train_seconds: float = 0.0


@dataclass
class _Scores:
    """What the held-out devices of every type said, pooled."""

    events: list[dict[str, float]] = field(default_factory=list)  # per device
    true_states: list[np.ndarray] = field(default_factory=list)
    states: list[np.ndarray] = field(default_factory=list)
    rul: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)  # (predicted p50, truth)
    seconds: float = 0.0


def simulator(devices: int = 24, hours: float = 3.0, seed: int = 0, cfg: Config = Config()) -> SimResult:
    """Train per device type on two thirds of the devices; score the rest against the ground truth."""
    from sklearn.metrics import f1_score

    fleet = Fleet(devices, 1000.0 / cfg.step_ms, hours * 3600, seed=seed, start=1_700_000_000_000, failing=0.5)
    truth = fleet.truth()
    labels = Labels.from_truth(truth)
    wear = {d["device_id"]: (d["degradation_start"], d["failure"]) for d in truth["devices"] if d["failure"]}
    series = from_fleet(fleet)
    scores = _Scores()
    for kind in sorted({s.type for s in series if s.type}):
        group = [s for s in series if s.type == kind]
        held = max(1, len(group) // 3)
        _score_type(group[:-held], group[-held:], labels, wear, cfg, scores)
    yt, yp = np.concatenate(scores.true_states), np.concatenate(scores.states)
    macro = float(f1_score(yt, yp, average="macro", labels=sorted(set(yt.tolist()))))
    rul = float("nan")
    if scores.rul:
        rul = rmse(np.concatenate([p for p, _ in scores.rul]), np.concatenate([y for _, y in scores.rul]))
    return SimResult(seed, devices, hours, event_f1(scores.events), macro, float(rul), scores.seconds)


def _score_type(
    train: list[Series],
    test: list[Series],
    labels: Labels,
    wear: dict[str, tuple[int, int]],
    cfg: Config,
    scores: _Scores,
) -> None:
    """One device type: its three models fitted on ``train``, scored on ``test`` (``wear``: when each failing
    machine began to wear out, and failed)."""
    ad, cl = fit_anomaly(train, labels, cfg), fit_classify(train, labels, cfg)
    risk = Budget.parse(DEFAULT_BUDGET).risk(cfg.step_ms)  # the cut the stream serves by default
    scores.seconds += ad.seconds + cl.seconds
    for s in test:
        w = telemetry.windows([s], cfg.window, 1, RegimeScaler.from_dict(ad.spec.scaler).transform)
        faults = [(i.start, i.end) for i in labels.of(s.device_id)]
        if s.device_id in wear:  # wear that ends in failure is an anomaly to catch, too
            faults.append(wear[s.device_id])
        alarms = ratio(Normal.from_dict(ad.model.normal_).p(ad.model.score(w.x)), risk) >= 1.0
        scores.events.append(events(w.end, alarms, faults, grace_ms=cfg.window * cfg.step_ms))
        wc = telemetry.windows([s], cfg.window, cfg.stride, RegimeScaler.from_dict(cl.spec.scaler).transform)
        scores.true_states.append(telemetry.label_windows(wc, labels).astype(str))
        scores.states.append(cl.model.predict(wc.x))
    failing = [s for s in test if s.device_id in labels.failures]
    if failing and any(s.device_id in labels.failures for s in train):
        ru = fit_rul(train, labels, cfg)
        scores.seconds += ru.seconds
        wr = telemetry.windows(failing, cfg.window, cfg.stride, RegimeScaler.from_dict(ru.spec.scaler).transform)
        scores.rul.append((ru.model.predict(wr.x)[:, 1], telemetry.remaining(wr, labels, int(cfg.rul_cap_s * 1000))))


@dataclass
class SimulatorRow:
    model: str
    event_f1: float
    event_precision: float
    event_recall: float
    false_alarms_per_device_day: float
    mean_delay_s: float
    fault_macro_f1: float
    rul_rmse_s: float
    train_seconds: float
    seeds: int


def rows(run: Run, devices: int = 24, hours: float = 3.0) -> list[SimulatorRow]:
    """The three kinds on a simulated fleet, medians over seeds."""
    cfgs = [Config(seed=seed, progress=run.progress, epochs=run.epochs or Config.epochs) for seed in range(run.seeds)]
    rs = [simulator(devices, hours, cfg.seed, cfg) for cfg in cfgs]
    test_device_days = devices / 3 * hours / 24  # a third of the devices is held out
    med = statistics.median
    return [
        SimulatorRow(
            "detector chosen by contest (conv-ae or pca) / 1D-CNN classifier / multi-scale trend RUL",
            med(r.anomaly["event_f1"] for r in rs),
            med(r.anomaly["event_precision"] for r in rs),
            med(r.anomaly["event_recall"] for r in rs),
            med(r.anomaly["false_alarms"] for r in rs) / test_device_days,
            med(r.anomaly["mean_delay_s"] for r in rs),
            med(r.fault_macro_f1 for r in rs),
            med(r.rul_rmse_s for r in rs),
            med(r.train_seconds for r in rs),
            run.seeds,
        )
    ]


def markdown(rows: list[SimulatorRow]) -> str:
    header = (
        "models | event F1 | precision | recall | false alarms / device-day | mean delay s | fault macro-F1 "
        "| RUL RMSE s | train s"
    )
    cells = (
        f"{r.model} | {r.event_f1:.3f} | {r.event_precision:.3f} | {r.event_recall:.3f} | "
        f"{r.false_alarms_per_device_day:.1f} | {r.mean_delay_s:.0f} | {r.fault_macro_f1:.3f} | "
        f"{r.rul_rmse_s:.0f} | {r.train_seconds:.0f}"
        for r in rows
    )
    return table(header, "lrrrrrrrr", cells)


BENCHMARK = Benchmark("simulator", "Simulated fleet: anomalies, faults and remaining life", PROTOCOL, rows, markdown)
