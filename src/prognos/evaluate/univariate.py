"""Single-metric streams that are not the fleet's: seasonality, trends, level shifts that become normal, missing
data, rare spikes — each series a mix (`prognos.sim.series`), each detector fitted on the series' probation alone
and deciding causally, as the stream does, at the default alarm budget; scored by early detection inside labelled
windows with every false alarm charged (`prognos.evaluate.metrics.early_detection`). The detectors that never and
always alarm stand in the same table: a detector is worth serving only where it beats never alarming."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from prognos.evaluate.metrics import detections, early_detection, normalised
from prognos.evaluate.report import Benchmark, Run, share, table
from prognos.features import RegimeScaler, grid
from prognos.features.adapt import DEFAULT_ABSORB, Step, levels, offsets
from prognos.features.calibration import DEFAULT_BUDGET, Budget, Normal, ratio
from prognos.sim.series import KINDS, PROBATION, STEP_MS, Series, generate
from prognos.train import telemetry
from prognos.train.estimators import AutoencoderDetector, Detector, PCADetector

SERIES, DAYS, WINDOW = 20, 4.0, 60
PROTOCOL = (
    f"{SERIES} generated univariate series per seed, {DAYS:g} days at one reading a minute, each with its own level "
    "(0.1 to 10,000), noise (some heavy-tailed), daily cycle, trend and gaps, and two or three labelled events after "
    f"the first {PROBATION:.0%} (probation): spikes, level shifts that stay (only their start is an anomaly), "
    "drifts, noise bursts, flat lines. Each detector is fitted on the probation alone (the scaler too) and decides "
    "each reading causally from the window ending at it, at the default alarm budget (1 false alarm per week: the "
    "stream's cut). Scoring (Numenta Anomaly Benchmark, standard profile): the first detection in a labelled window "
    "earns up to 1 the earlier it comes, a missed window costs 1, a detection outside every window 0.11; an alarm "
    "that stays on outside the windows is detected again every hour. Normalised: 0 = never alarming, 100 = every "
    "window at its start. Medians over seeds."
)
Decide = Callable[[Series, int], tuple[np.ndarray, np.ndarray]]  # (series, seed) -> (grid ts, alarm)


@dataclass
class UnivariateRow:
    detector: str
    score: float  # normalised: 0 never alarming, 100 perfect
    caught: float  # share of labelled windows detected in
    false_alarms_per_series_day: float
    alarm_share: float  # of the minutes after probation spent in alarm
    mean_delay_s: float
    recall_by_kind: dict[str, float] = field(default_factory=dict)
    score_per_seed: list[float] = field(default_factory=list)


def on_grid(s: Series) -> tuple[np.ndarray, np.ndarray]:
    """The series on its minute grid (gaps of up to 5 readings held, longer ones NaN), and what probation covers."""
    end = int(s.ts[-1]) + STEP_MS
    ts, x = grid.align((s.ts, np.zeros(len(s.ts), dtype=np.int64), s.values), 1, int(s.ts[0]), end, STEP_MS)
    return ts, x


def fitted_decision(make: Callable[[int], Detector], window: int, adapt: str | None = None) -> Decide:
    """A detector fitted on the probation's windows, its score read through its normal reference at the budget; with
    ``adapt`` (an absorb time, `prognos.features.adapt`), its inputs measured from the series' running normal and its
    score from the running typical score."""

    def decide(s: Series, seed: int) -> tuple[np.ndarray, np.ndarray]:
        ts, x = on_grid(s)
        learn = ts < ts[0] + PROBATION * (ts[-1] - ts[0])
        scaler = RegimeScaler().fit(x[learn & ~np.isnan(x[:, 0])])
        w = telemetry.windows([telemetry.Series(s.name, None, ts, x, ["value"])], window, 1, scaler.transform)
        at = np.searchsorted(ts, w.end)
        steps = Step.parse(adapt, STEP_MS) if adapt else None
        if steps is not None:  # each window measured from the normal known at its end
            z = np.full_like(x, np.nan)
            z[~np.isnan(x[:, 0])] = scaler.transform(x[~np.isnan(x[:, 0])])
            w.x = w.x - offsets(z, steps)[at][:, None, :]
        early = w.end < ts[learn][-1]
        detector = make(seed).fit(w.x[early])
        ref = Normal.from_dict(detector.normal_)
        scores = detector.score(w.x)
        if steps is not None:
            scores = scores * ref.typical / levels(scores, ref.typical, steps)
        alarm = ratio(ref.p(scores[~early]), Budget.parse(DEFAULT_BUDGET).risk(STEP_MS)) >= 1.0
        out = np.zeros(len(ts), dtype=bool)
        out[at[~early]] = alarm
        return ts, out

    return decide


def constant(value: bool) -> Decide:
    def decide(s: Series, seed: int) -> tuple[np.ndarray, np.ndarray]:
        ts, _ = on_grid(s)
        return ts, np.full(len(ts), value) & (ts >= ts[0] + PROBATION * (ts[-1] - ts[0]))

    return decide


def detectors(epochs: int | None = None) -> dict[str, Decide]:
    rounds = epochs or AutoencoderDetector().epochs
    return {
        "conv-ae": fitted_decision(lambda seed: AutoencoderDetector(seed=seed, epochs=rounds), WINDOW),
        f"conv-ae, adapting ({DEFAULT_ABSORB})": fitted_decision(
            lambda seed: AutoencoderDetector(seed=seed, epochs=rounds), WINDOW, DEFAULT_ABSORB
        ),
        "pca-t2q (z-score)": fitted_decision(lambda seed: PCADetector(), 1),
        f"pca-t2q (z-score), adapting ({DEFAULT_ABSORB})": fitted_decision(
            lambda seed: PCADetector(), 1, DEFAULT_ABSORB
        ),
        "never alarms": constant(False),
        "always alarms": constant(True),
    }


@dataclass
class _Seed:
    """One detector over one seed's series, pooled."""

    score: float
    caught: float
    false_per_day: float
    share: float
    delay: float
    kinds: dict[str, float]


def score(decide: Decide, series: list[Series], seed: int) -> _Seed:
    """One detector over a seed's series: each series' early-detection result, pooled."""
    results, share = [], []
    kinds: dict[str, list[int]] = {k: [0, 0] for k in KINDS}
    for s in series:
        ts, alarm = decide(s, seed)
        results.append(early_detection(ts, alarm, [(e.start, e.end) for e in s.events]))
        share.append(float(alarm[ts >= ts[0] + PROBATION * (ts[-1] - ts[0])].mean()))
        raised = detections(ts, alarm)
        onsets = raised[0][raised[1]]
        for e in s.events:  # caught as the score counts it: an alarm raised inside the window
            kinds[e.kind][0] += int(((onsets >= e.start) & (onsets <= e.end)).any())
            kinds[e.kind][1] += 1
    delays = [r["delay_s"] for r in results if r["caught"]]
    return _Seed(
        normalised(results),
        sum(r["caught"] for r in results) / max(1, sum(r["windows"] for r in results)),
        sum(r["false_alarms"] for r in results) / (len(series) * DAYS * (1 - PROBATION)),
        float(np.mean(share)),
        float(np.mean(delays)) if delays else float("nan"),
        {k: hit / n for k, (hit, n) in kinds.items() if n},
    )


def rows(run: Run) -> list[UnivariateRow]:
    """Every detector on the same series, medians over seeds."""
    found: dict[str, list[_Seed]] = {}
    for seed in range(run.seeds):
        series = [generate(seed * 1000 + i, DAYS) for i in range(SERIES)]
        for name, decide in detectors(run.epochs).items():
            found.setdefault(name, []).append(score(decide, series, seed))
    med = statistics.median
    return [
        UnivariateRow(
            name,
            med(r.score for r in rs),
            med(r.caught for r in rs),
            med(r.false_per_day for r in rs),
            med(r.share for r in rs),
            med(r.delay for r in rs),
            {k: med(r.kinds[k] for r in rs if k in r.kinds) for k in KINDS if any(k in r.kinds for r in rs)},
            [round(r.score, 1) for r in rs],
        )
        for name, rs in found.items()
    ]


def markdown(rows: list[UnivariateRow]) -> str:
    header = (
        "detector | score (0 never, 100 perfect) | windows caught | false alarms / series-day | time in alarm "
        f"| mean delay s | caught by kind ({', '.join(KINDS)}) | score per seed"
    )
    cells = (
        f"{r.detector} | {r.score:.1f} | {r.caught:.0%} | {r.false_alarms_per_series_day:.2f} | {r.alarm_share:.1%} "
        f"| {r.mean_delay_s:.0f} | {' / '.join(share(r.recall_by_kind.get(k)) for k in KINDS)} "
        f"| {', '.join(f'{v:.1f}' for v in r.score_per_seed)}"
        for r in rows
    )
    return table(header, "lrrrrrll", cells)


BENCHMARK = Benchmark("univariate", "Univariate streams: early detection at an alarm budget", PROTOCOL, rows, markdown)
