"""A challenger's training in a process of its own, so torch stays out of the server that asked for it.

The server side (`subprocess_trainer`) exports the job's readings to Parquet (``device_id, ts, key, value``;
predictions left out) and runs

    python -m prognos.retrain.challenger JOB.json

which loads them into a memory store and trains the champion's recipe on them — its sensors, window and grid,
starting from its weights — into the job's folder, and prints the card's path.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from prognos.errors import PrognosError
from prognos.priority import lower_priority
from prognos.retrain.retrainer import Job, Train
from prognos.store import MemoryStore, Store
from prognos.types import PREDICTED, Reading


def subprocess_trainer(store: Store, epochs: int | None = None, timeout: float = 3600.0) -> Train:
    """Train each job in ``python -m prognos.retrain.challenger`` (at most ``epochs``), on its readings exported."""

    def train(job: Job) -> Path:
        out = Path(job.out)
        tables = []
        for device in job.devices:
            t = store.read(device, job.start, job.end)
            t = t.filter(pc.invert(pc.starts_with(t["key"], PREDICTED)))
            tables.append(t.append_column("device_id", pa.array([device] * t.num_rows, pa.string())))
        data = out.with_suffix(".parquet")
        pq.write_table(pa.concat_tables(tables), data)
        spec = out.with_suffix(".json")
        spec.write_text(json.dumps(asdict(replace(job, epochs=epochs or job.epochs)) | {"data": str(data)}))
        command = [sys.executable, "-m", "prognos.retrain.challenger", str(spec)]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise PrognosError(f"the training process exited with {done.returncode}: {tail}")
        return out

    return train


def run(job: dict[str, Any]) -> Path:
    """The training process's work: the exported readings into a memory store, the champion's recipe on them."""
    # torch: this runs in the training process, never in the server that imports this module
    from prognos.train.tasks import Config, Selection, train_store

    table = pq.read_table(job["data"])
    store = MemoryStore()
    for device in job["devices"]:
        store.update_device(device, {"type": job["device_type"]} if job["device_type"] else {}, create=True)
    rows: dict[tuple[str, int], dict[str, float]] = {}
    columns = (table.column(c).to_pylist() for c in ("device_id", "ts", "key", "value"))
    for d, ts, key, value in zip(*columns, strict=True):
        rows.setdefault((d, ts), {})[key] = value
    store.write([Reading(d, ts, values) for (d, ts), values in rows.items()])
    selection = Selection(job["start"], job["end"], job["devices"], job["device_type"])
    epochs = {"epochs": job["epochs"]} if job.get("epochs") else {}
    cfg = Config(window=job["window"], step_ms=job["step_ms"], seed=job.get("seed", 0), init_from=job["init_from"])
    return train_store(
        job["task"], store, selection, job["out"], job.get("labels"), replace(cfg, **epochs), job["name"]
    )


if __name__ == "__main__":
    lower_priority()  # beside a live server: training takes the CPU the stream leaves
    print(run(json.loads(Path(sys.argv[1]).read_text())))
