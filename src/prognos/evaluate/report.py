"""A benchmark run under its published protocol, and its report: a Markdown table beside the best published
figures, and the same rows as JSON (``<out>/<benchmark>.json`` and ``.md``, each with the protocol written out)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Run:
    """How to run a benchmark: where its data is, over how many seeds (figures are medians over them)."""

    root: str | Path  # the folder holding the data sets (../shared/data here)
    seeds: int = 3
    progress: bool = True
    epochs: int | None = None  # at most this many epochs per model (None: the protocol's own)
    subsets: Sequence[str] | None = None  # C-MAPSS: which of FD001–FD004 (None: all)


@dataclass(frozen=True)
class Benchmark:
    name: str
    title: str
    protocol: str  # the protocol in words, for the report
    rows: Callable[[Run], list[Any]]  # our deep model and a classic baseline, one row each (per subset)
    markdown: Callable[[list[Any]], str]


def write_report(benchmark: Benchmark, rows: list[Any], out: str | Path) -> tuple[Path, Path]:
    """``<out>/<benchmark>.json`` (protocol and rows) and ``.md`` (protocol and table)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    js, md = out / f"{benchmark.name}.json", out / f"{benchmark.name}.md"
    doc = {"benchmark": benchmark.name, "protocol": benchmark.protocol, "rows": [asdict(r) for r in rows]}
    js.write_text(json.dumps(doc, indent=1))
    md.write_text(f"# {benchmark.title}\n\n{benchmark.protocol}\n\n{benchmark.markdown(rows)}")
    return js, md


def share(value: float | None) -> str:
    """A share or a coverage in a table's cell, a dash where there is none.

    >>> share(0.8123), share(None)
    ('0.81', '–')
    """
    return "–" if value is None else f"{value:.2f}"


def table(header: str, align: str, rows: Iterable[str]) -> str:
    """A Markdown table from lines of cells split by `` | ``: ``align`` has a letter per column, ``l`` for words and
    ``r`` for figures."""
    lines = [header, " | ".join({"l": "---", "r": "---:"}[a] for a in align), *rows]
    for line in lines:
        if line.count(" | ") != len(align) - 1:
            raise ValueError(f"{len(align)} columns expected: {line!r}")
    return "".join(f"| {line} |\n" for line in lines)
