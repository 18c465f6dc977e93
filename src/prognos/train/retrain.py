"""A challenger's training, in a process of its own: torch stays out of the server that asked for it.

    python -m prognos.train.retrain JOB.json

The job (written by `prognos.monitor.retrain`) names a Parquet file of the readings the server exported
(``device_id, ts, key, value``), the devices' type, the champion's artifact folder to start from (its
sensors, window and weights), and where to write the new artifact. The path of its card is printed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from prognos.priority import lower_priority


def run(job: dict[str, Any]) -> Path:
    import pyarrow.parquet as pq

    from prognos.store import MemoryStore
    from prognos.train.run import train_store
    from prognos.types import Reading

    table = pq.read_table(job["data"])
    store = MemoryStore()
    for device in job["devices"]:
        store.update_device(device, {"type": job["device_type"]} if job["device_type"] else {}, create=True)
    rows: dict[tuple[str, int], dict[str, float]] = {}
    for d, ts, key, value in zip(
        *(table.column(c).to_pylist() for c in ("device_id", "ts", "key", "value")), strict=True
    ):
        rows.setdefault((d, ts), {})[key] = value
    store.write([Reading(d, ts, values) for (d, ts), values in rows.items()])
    return train_store(
        job["task"],
        store,
        job["out"],
        start=job["start"],
        end=job["end"],
        devices=job["devices"],
        device_type=job["device_type"],
        labels=job.get("labels"),
        window=job["window"],
        step_ms=job["step_ms"],
        seed=job.get("seed", 0),
        epochs=job.get("epochs"),
        progress=False,
        init_from=job.get("init_from"),
        name=job["name"],
    )


if __name__ == "__main__":
    lower_priority()  # beside a live server: training takes the CPU the stream leaves
    print(run(json.loads(Path(sys.argv[1]).read_text())))
