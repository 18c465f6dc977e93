"""Every (device, model) window the stream keeps, and its state across restarts.

Each window is a `features.stream.Windower` on its model's recipe (sensors, window length, grid step) and its
device's grid phase. Where a window stands — the last grid cell it closed — goes into the scorer's checkpoint;
a scorer given a checkpoint (`restore`) rebuilds each window from the stored readings the first time its device
speaks again, and a device new to this scorer gets its window rebuilt up to the cell before its first reading
here, so a restarted server scores at once rather than after a window's time. Rebuilding takes one store
query per recipe, however many devices.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from prognos.features.grid import phase
from prognos.features.stream import HOLD, Windower
from prognos.stream.view import Recipe, View

History = Callable[[list[str], int, int, list[str]], Any]  # store.read_many → Arrow (device_id, ts, key, value)
Rebuild = tuple[str, View, int]  # a device, the version whose recipe it is scored by, the last cell it closed


@dataclass
class _Slot:
    """One (device, model) window and the recipe it was built with."""

    recipe: Recipe
    windower: Windower


class Windows:
    def __init__(self, history: History | None = None) -> None:
        self.history = history
        self._slots: dict[tuple[str, str], _Slot] = {}
        self._restored: dict[tuple[str, str], tuple[Recipe, int]] = {}  # from a checkpoint, not yet rebuilt

    def of(self, device_id: str, view: View) -> Windower:
        """The device's window for the model; a new version with another recipe starts afresh."""
        key = (device_id, view.name)
        found = self._slots.get(key)
        if found is None or found.recipe != view.recipe():
            sensors, window, step = view.recipe()
            windower = Windower(list(sensors), window, step, offset=phase(device_id, step))
            found = self._slots[key] = _Slot(view.recipe(), windower)
        return found.windower

    @property
    def late(self) -> int:
        """Readings that arrived for a grid cell already closed (stored, not scored)."""
        return sum(s.windower.late for s in self._slots.values())

    async def resume(self, views: Mapping[tuple[str, str], View], first: Mapping[str, int]) -> None:
        """Rebuild from the store the windows these (device, model) pairs are about to use: where a checkpoint left
        them, or (a device new to this scorer) up to the cell before its first reading here (``first``)."""
        if self.history is None:
            return
        todo: list[Rebuild] = []
        for (device, name), view in views.items():
            if (device, name) in self._restored:
                recipe, closed = self._restored.pop((device, name))
                if recipe == view.recipe():  # else: start afresh
                    todo.append((device, view, closed))
            elif (device, name) not in self._slots:
                todo.append((device, view, (first[device] - phase(device, view.step)) // view.step - 1))
        if todo:
            for (device, view), windower in (await asyncio.to_thread(self._from_store, todo)).items():
                self._slots[device, view.name] = _Slot(view.recipe(), windower)

    def positions(self) -> dict[str, dict[str, list[Any]]]:
        """device → model → [sensors, window, step, last closed cell]: JSON for `restore`."""
        out: dict[str, dict[str, list[Any]]] = {}
        for (device, model), (recipe, closed) in self._restored.items():  # restored, device silent since
            out.setdefault(device, {})[model] = [list(recipe[0]), recipe[1], recipe[2], closed]
        for (device, model), slot in self._slots.items():
            if slot.windower.closed is not None:
                sensors, window, step = slot.recipe
                out.setdefault(device, {})[model] = [list(sensors), window, step, slot.windower.closed]
        return out

    def restore(self, positions: Mapping[str, Any], keep: Callable[[str], bool]) -> None:
        """Take `positions` back (only the devices ``keep`` accepts); the windows are rebuilt on first use."""
        for device, models in positions.items():
            if keep(device):
                for model, (sensors, window, step, closed) in models.items():
                    self._restored[device, model] = ((tuple(sensors), int(window), int(step)), int(closed))

    def _from_store(self, todo: list[Rebuild]) -> dict[tuple[str, View], Windower]:
        """Windows as they stood: stored readings up to each open cell pushed again (their windows were scored)."""
        assert self.history is not None
        out = {}
        for recipe in {v.recipe() for _, v, _ in todo}:
            sensors, window, step = recipe
            group = [(d, v, closed) for d, v, closed in todo if v.recipe() == recipe]
            lo = min(closed for _, _, closed in group) - window - HOLD + 1
            hi = max(closed for _, _, closed in group) + 3  # the open cell, and a step for the devices' phases
            found = _by_device(self.history([d for d, _, _ in group], lo * step, hi * step, list(sensors)), sensors)
            empty = (np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0))
            for device, view, closed in group:
                resumed = Windower.resume(recipe, closed, found.get(device, empty), offset=phase(device, step))
                out[device, view] = resumed
        return out


def _by_device(table: Any, sensors: tuple[str, ...]) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """An Arrow (device_id, ts, key, value) table ordered by device → per device, arrays (ts, sensor index, value)."""
    if not table.num_rows:
        return {}
    devices = table.column("device_id").combine_chunks().dictionary_encode()
    keys = table.column("key").combine_chunks().dictionary_encode()
    index = np.array([sensors.index(k) for k in keys.dictionary.to_pylist()])
    col = index[keys.indices.to_numpy()]
    ts, val = table.column("ts").to_numpy(), table.column("value").to_numpy()
    codes = devices.indices.to_numpy()
    bounds = np.flatnonzero(np.diff(codes)) + 1  # ordered by device: each device one run
    names = devices.dictionary.to_pylist()
    runs = zip(np.r_[0, bounds], np.r_[bounds, len(codes)], strict=True)
    return {names[codes[a]]: (ts[a:b], col[a:b], val[a:b]) for a, b in runs}
