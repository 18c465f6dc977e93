"""Pretrained starting points, rebuilt reproducibly (fixed seeds, fixed data) by ``prognos pretrained``.

- ``turbofan-rul``: the C-MAPSS FD001 RUL model (14 engine sensors, window 30 cycles);
- ``pump-anomaly``: a Conv-AE on the simulator's healthy pumps (12 pump sensors, 60 s at 1 Hz).

A user fine-tunes one on their own devices with ``prognos train --source store --init-from DIR``:
the architecture and weights come from the artifact, the scaler and threshold from their data.
"""

from __future__ import annotations

import time
from pathlib import Path

from prognos.train import telemetry as tm
from prognos.train.artifact import data_hash, package

MODELS = ("turbofan-rul", "pump-anomaly")


def pump_anomaly(
    out: str | Path, devices: int = 24, hours: float = 6.0, epochs: int = 40, seed: int = 0, progress: bool = True
) -> Path:
    from prognos.sim.fleet import Fleet
    from prognos.train.devices import Config, fit_anomaly

    fleet = Fleet(devices, 1.0, hours * 3600, seed=seed, start=1_700_000_000_000)
    pumps = [s for s in tm.from_fleet(fleet) if s.type == "pump"]
    t = time.perf_counter()
    fitted = fit_anomaly(
        pumps, tm.Labels.from_truth(fleet.truth()), Config(epochs=epochs, seed=seed, progress=progress)
    )
    data = {
        "source": f"simulator seed={seed} devices={devices} hours={hours}",
        "hash": data_hash(fitted.x),
        "devices": [s.device_id for s in pumps],
        "train_windows": len(fitted.x),
    }
    return package(
        fitted.model,
        fitted.spec,
        out,
        name="pump-anomaly",
        example=fitted.x,
        held_out=fitted.held_out,
        metrics={},
        data=data,
        training_seconds=time.perf_counter() - t,
    )


def build(
    out: str | Path,
    data_root: str | Path,
    only: list[str] | None = None,
    epochs: int | None = None,
    progress: bool = True,
) -> list[Path]:
    """Train and package the starting points into ``out/<name>/``; return their card paths."""
    from prognos.train.run import train_benchmark

    out = Path(out)
    cards = []
    for name in only or MODELS:
        if name == "turbofan-rul":
            cards.append(
                train_benchmark("rul", "cmapss:FD001", data_root, out / name, epochs=epochs, progress=progress)
            )
        else:
            cards.append(pump_anomaly(out / name, epochs=epochs or 40, progress=progress))
    return cards
