"""Labels: what really happened to devices, as intervals — the simulator's ground truth (``*.truth.json``: faults and
failure times) or a labels CSV (``device_id,start,end,label``, times ISO or epoch ms; a ``failure`` row with no end
marks a failure time) — so the same code serves a user's own annotations and the simulator's."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prognos.errors import InvalidInput
from prognos.types import parse_time


@dataclass(frozen=True)
class Interval:
    device_id: str
    start: int  # epoch ms, inclusive
    end: int  # exclusive
    label: str


@dataclass
class Labels:
    intervals: list[Interval] = field(default_factory=list)
    failures: dict[str, int] = field(default_factory=dict)  # device -> failure time (epoch ms)

    @classmethod
    def from_truth(cls, truth: dict[str, Any]) -> Labels:
        faults = [Interval(f["device_id"], int(f["start"]), int(f["end"]), f["fault"]) for f in truth["faults"]]
        return cls(faults, {d["device_id"]: int(d["failure"]) for d in truth["devices"] if d.get("failure")})

    @classmethod
    def load(cls, path: str | Path) -> Labels:
        """A simulator truth file (.json) or a labels CSV with device_id,start,end,label (end empty: failure)."""
        path = Path(path)
        if not path.is_file():
            raise InvalidInput(f"labels file not found: {path}", field="labels", value=str(path))
        if path.suffix == ".json":
            return cls.from_truth(json.loads(path.read_text()))
        out = cls()
        with path.open(newline="") as f:
            for n, row in enumerate(csv.DictReader(f), start=2):
                missing = [k for k in ("device_id", "start", "label") if not row.get(k)]
                if missing:
                    raise InvalidInput(f"{path}:{n}: missing {', '.join(missing)}", field=missing[0])
                start = parse_time(row["start"], field="start")
                if row["label"] == "failure":
                    out.failures[row["device_id"]] = start
                else:
                    out.intervals.append(
                        Interval(row["device_id"], start, parse_time(row["end"], field="end"), row["label"])
                    )
        return out

    def of(self, device_id: str) -> list[Interval]:
        return [i for i in self.intervals if i.device_id == device_id]
