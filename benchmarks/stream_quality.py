"""Detection quality at fleet load: 1,000 simulated machines × 10 Hz through the scored server, a tenth of them
given a fault (spike, drift, stuck sensor, vibration, overheating) lasting a fifth to two fifths of the run, and
the anomaly alerts scored against the simulator's ground truth: faults caught, false alarms per device-day, mean
detection delay. Same server and load as stream_throughput.py, run longer so the faults are worth catching. The
baseline, from the same run: the share of faults a random alarm at the same rate would catch.

    python benchmarks/stream_quality.py [--devices 1000] [--seconds 240]
"""

from __future__ import annotations

import argparse

from _stream import save
from stream_throughput import measure_prognos


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--devices", type=int, default=1000)
    p.add_argument("--rate", type=float, default=10.0)
    p.add_argument("--seconds", type=float, default=240.0)
    p.add_argument("--warmup", type=float, default=30.0)
    p.add_argument("--grid-ms", type=int, default=1000)
    p.add_argument("--cpus", default="0,1")
    p.add_argument("--senders", type=int, default=4)
    args = p.parse_args()
    run = measure_prognos(args, args.devices)
    q = run["quality"]
    days = args.devices * args.seconds / 86_400
    # A random alarm raised as often as these were, on a random machine: how many faults would it catch?
    faulty_share = q["faults"] / args.devices
    chance = min(1.0, q["alerts"] * faulty_share / max(q["faults"], 1))
    print(
        f"\n{args.devices} machines × {args.rate:g} Hz for {args.seconds:g} s; the server kept up with "
        f"{run['readings_per_s']:,.0f} readings/s (decisions p99 {run['p99_ms']:.0f} ms)"
    )
    print(
        f"  faults caught        {q['caught']} of {q['faults']} ({q['caught'] / max(q['faults'], 1):.0%}); "
        f"a random alarm at the same rate: {chance:.0%}"
    )
    print(f"  mean detection delay {q['mean_delay_s']:.1f} s")
    print(
        f"  false alarms         {q['false_alarms']} of {q['alerts']} alerts: "
        f"{q['false_alarms'] / days:.1f} per device-day"
    )
    print("saved", save("stream_quality", {"args": vars(args), **run}))


if __name__ == "__main__":
    main()
