"""Draw the README's pictures from the real code (``pip install 'prognos[docs]'``, then run this file)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from prognos.sim import Fleet
from prognos.sim.fleet import MODES

OUT = Path(__file__).parent
COLOURS = {"spike": "#d62728", "drift": "#9467bd", "stuck": "#7f7f7f", "vibration": "#ff7f0e", "overheat": "#8c564b"}


def simulator(device_id: str = "motor-019") -> Path:
    fleet = Fleet(30, 1, 3600, seed=11, start=1_767_225_600_000, faults_per_device=2)
    dev = next(d for d in fleet.devices if d.device_id == device_id)
    chunks = [fleet.chunk(dev, c) for c in range(fleet.chunks)]
    ts = np.concatenate([c.ts for c in chunks])
    values = np.concatenate([c.values for c in chunks])
    modes = np.concatenate([c.modes for c in chunks])
    alive = modes >= 0
    minutes = (ts - fleet.start) / 60_000
    names = chunks[0].names
    show = ["current", "speed_rpm", "winding_temp", "bearing_temp", "vibration_axial", "vibration_radial"]
    fig, axes = plt.subplots(len(show) + 1, 1, figsize=(11, 9), sharex=True)
    for ax, name in zip(axes, show, strict=False):
        ax.plot(minutes[alive], values[alive, names.index(name)], lw=0.6, color="#1f77b4")
        ax.set_ylabel(name, rotation=0, ha="right", fontsize=8)
        for f in dev.faults:
            if name in f.sensors:
                ax.axvspan(
                    (f.start - fleet.start) / 60_000,
                    (f.end - fleet.start) / 60_000,
                    color=COLOURS[f.fault],
                    alpha=0.25,
                    label=f.fault,
                )
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="upper left", fontsize=7)
    axes[-1].step(minutes[alive], modes[alive], where="post", color="#2ca02c", lw=0.8)
    axes[-1].set_yticks(range(3), MODES, fontsize=7)
    axes[-1].set_ylabel("mode", rotation=0, ha="right", fontsize=8)
    for ax in axes:
        if dev.degradation_start:
            ax.axvline((dev.degradation_start - fleet.start) / 60_000, color="#555", ls=":", lw=0.8)
        if dev.failure:
            ax.axvline((dev.failure - fleet.start) / 60_000, color="k", lw=1.0)
    axes[-1].set_xlim(0, minutes[alive][-1] + 1)
    axes[-1].set_xlabel("minutes  (dotted: wear begins, solid: failure - the machine goes quiet)")
    fig.suptitle(f"prognos simulate: {dev.device_id} ({dev.type}), seed 11 - injected faults shaded", fontsize=10)
    fig.tight_layout()
    path = OUT / "simulator.png"
    fig.savefig(path, dpi=110)
    return path


if __name__ == "__main__":
    print(simulator())
