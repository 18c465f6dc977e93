"""Shared by the benchmarks: the same real services and server process the tests use."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.services import Mosquitto, ensure_postgres, free_port, pg_schema
from tests.services import ServerProcess as Server

__all__ = ["Mosquitto", "Server", "ensure_postgres", "free_port", "pg_schema"]


def quality(benchmark: str, doc: str) -> None:
    """The body of a ``quality_<benchmark>.py`` script: rows over seeds, the table, the reports in out/."""
    import argparse

    from prognos.evaluate import benchmarks
    from prognos.evaluate.report import Run, write_report

    p = argparse.ArgumentParser(description=doc.split("\n")[0])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    args = p.parse_args()
    bench = benchmarks()[benchmark]
    rows = bench.rows(Run(args.data, args.seeds))
    print(bench.markdown(rows))
    print("reports:", *write_report(bench, rows, Path(__file__).resolve().parent / "out"))
