"""Where the stream's decisions go: the one door out of `prognos.stream`.

The scorer hands each batch's predictions to a `Sink`, in the order the batches arrived; the sink decides what
they mean (`prognos.act.decisions.Decisions`: the alert rules, alerts kept in the store, actions taken) and the
server or worker wires it in. The stream itself imports nothing from what acts on it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

from prognos.stream.predictions import Prediction


class Sink(Protocol):
    signals: frozenset[str]  # what it reads: raw.<sensor> and per-sensor drift signals are attached only when read

    async def start(self) -> None: ...

    def decide(self, predictions: Sequence[Prediction]) -> None:
        """A batch's predictions, on the event loop, batches in arrival order: decide now, record behind."""

    async def settle(self) -> None:
        """Return once everything decided so far is recorded and acted on (a worker acknowledges its input then)."""

    def snapshot(self, keep: Callable[[str], bool] | None = None) -> list[dict[str, Any]]:
        """What the sink remembers, as JSON rows with a ``device_id`` each (``keep`` filters by device)."""

    def restore(self, rows: Iterable[Mapping[str, Any]]) -> None: ...

    async def close(self) -> None: ...
