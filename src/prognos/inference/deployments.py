"""What the server serves: for each model name, the champion and optionally a canary and a shadow.

A `Route` names the loaded versions that answer one model name. Changing it is a hot swap: the new
versions are verified, loaded and warmed in a thread while the old route keeps answering, then the
route is replaced in one assignment on the event loop (a request sees the old route or the new one,
never half of each), and the versions no longer routed finish what they have queued before they are
released. A version that fails to load leaves the old route serving and its reason on record.

The registry is the source of truth: promotion through this server's API swaps at once, and a poll
picks up changes made elsewhere (another replica, the CLI against PostgreSQL).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from prognos.aio import cancel
from prognos.errors import ModelNotFound, ModelNotReady, PrognosError
from prognos.inference.batching import Batcher, BatchOptions, Result
from prognos.inference.metrics import Metrics
from prognos.inference.runtime import Model, load
from prognos.priority import lower_priority
from prognos.registry import CHAMPION, Registry, Version
from prognos.types import device_number

log = logging.getLogger(__name__)
T = TypeVar("T")

MISSED = 10_000  # names remembered as recently looked up, at most
RETRY_FAILED = 30.0  # seconds before a version that failed to load is tried again


class Served:
    """A loaded version with its batcher."""

    def __init__(self, model: Model, options: BatchOptions, metrics: Metrics) -> None:
        self.model = model
        labels = (model.name, str(model.version))

        def on_batch(rows: int, seconds: float) -> None:
            metrics.batch_rows.labels(*labels).observe(rows)
            metrics.compute_seconds.labels(*labels).observe(seconds)

        self.batcher = Batcher(model.run, options, model.batchable, on_batch, model.label)

    def infer(self, feed: Any) -> asyncio.Future[Result]:
        """The answer to come: submitted now, so a large batch computes while the caller goes on until it awaits."""
        return self.batcher.submit(feed)


@dataclass(frozen=True)
class Route:
    primary: Served
    canary: Served | None = None
    weight: float = 0.0
    shadow: Served | None = None

    def pick(self, device_id: str | None) -> Served:
        """The canary for a fixed share of devices (the same device always lands on the same side)."""
        if self.canary is None or self.weight <= 0:
            return self.primary
        return self.canary if bucket(device_id) < self.weight else self.primary

    def versions(self) -> dict[str, int | float | None]:
        return {
            "champion": self.primary.model.version,
            "canary": self.canary.model.version if self.canary else None,
            "weight": self.weight,
            "shadow": self.shadow.model.version if self.shadow else None,
        }

    def served(self) -> list[Served]:
        return [s for s in (self.primary, self.canary, self.shadow) if s is not None]


def bucket(device_id: str | None) -> float:
    """A device's fixed place in [0, 1): crc32 of its id, the same in every replica and after restarts."""
    if device_id is None:
        return random.random()
    return device_number(device_id) / 2**32


@dataclass
class _State:
    """What the registry says one name should serve."""

    aliases: dict[str, int]
    traffic: dict[str, Any]
    versions: dict[int, Version]
    targets: tuple[int | None, int | None, float, int | None] = field(init=False)

    def __post_init__(self) -> None:
        t, a = self.traffic, self.aliases
        canary = a.get(t["canary"]) if t.get("canary") and t.get("weight") else None
        shadow = a.get(t["shadow"]) if t.get("shadow") else None
        self.targets = (a.get(CHAMPION), canary, float(t.get("weight") or 0.0) if canary else 0.0, shadow)


class Deployments:
    def __init__(
        self,
        registry: Registry,
        options: BatchOptions = BatchOptions(),
        metrics: Metrics | None = None,
        poll: float = 2.0,
        threads: int = 1,
    ) -> None:
        self.registry, self.options, self.poll, self.threads = registry, options, poll, threads
        self.metrics = metrics or Metrics()
        self.routes: dict[str, Route] = {}
        self.loaded: dict[tuple[str, int], Served] = {}
        self.failed: dict[tuple[str, int], tuple[float, str]] = {}  # version → (when, why) it could not load
        self._stamps: dict[tuple[str, int], tuple[tuple[str, int, int], ...]] = {}  # its files when it failed
        self.unloaded: set[str] = set()  # names unloaded through the repository API: not reloaded by the poll
        self.behind: dict[str, tuple[int, int, str]] = {}  # name → (champion, version serving instead, why)
        self._logged: dict[str, str] = {}  # the last error logged for each name by the poll
        self._aliases: dict[str, dict[str, int]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._retiring: set[asyncio.Task[None]] = set()
        self._poller: asyncio.Task[None] | None = None
        self._missed: dict[str, float] = {}  # unknown names and when the registry was last asked about them
        self._names: set[str] = set()  # the registry's names as last read (`_published`)
        self._names_at = -1e9
        self.started = False
        # Loading and warming run on a thread of lower CPU priority, so on a busy core the requests
        # being answered go first and a swap does not show in their latency.
        self._loader = ThreadPoolExecutor(1, "prognos-loader", initializer=lower_priority)

    # -- life -------------------------------------------------------------------------------------
    async def start(self) -> None:
        await self.sync_all()
        self.started = True
        if self.poll > 0:
            self._poller = asyncio.create_task(self._watch(), name="deployments poll")

    async def close(self) -> None:
        await cancel(self._poller)
        for served in list(self.loaded.values()):
            await served.batcher.close()
        await asyncio.gather(*self._retiring)
        # A cancelled poll may still be querying the store on the loader thread: let it finish,
        # or the store closes under it.
        await asyncio.get_running_loop().run_in_executor(None, self._loader.shutdown, True)
        self.loaded.clear()
        self.routes.clear()

    # -- requests ---------------------------------------------------------------------------------
    def route(self, name: str, ref: str | None, device_id: str | None) -> tuple[Served, Served | None] | None:
        """The version answering a request and its shadow; None when that needs a load or a registry look first."""
        if ref is None:
            route = self.routes.get(name)
            return (route.pick(device_id), route.shadow) if route else None
        number = self._number(name, ref)
        if number is None:
            return None
        served = self.loaded.get((name, number))
        return (served, None) if served else None

    async def resolve(self, name: str, ref: str | None, device_id: str | None) -> tuple[Served, Served | None]:
        """`route`, loading an explicitly addressed version or a name published since the last poll on demand."""
        found = self.route(name, ref, device_id)
        if found:
            return found
        if name in self.unloaded:
            raise ModelNotReady(f"model {name!r} is unloaded (POST /v2/repository/models/{name}/load to serve it)")
        if ref is None or not ref.isdigit():
            if await self._published(name) and time.monotonic() - self._missed.get(name, -1e9) > 1.0:
                if len(self._missed) > MISSED:  # a flood of names must not grow it without end
                    self._missed.clear()
                self._missed[name] = time.monotonic()  # at most one look at this name's versions a second
                await self.sync(name)
                found = self.route(name, ref, device_id)
                if found:
                    return found
            if ref is None:
                why = self._why(name)
                raise ModelNotReady(why) if why else ModelNotFound(f"model {name!r} not found")
        number = self._number(name, ref)
        if number is None:
            raise ModelNotFound(f"model {name!r} has no alias {ref!r} (aliases: {sorted(self._aliases.get(name, {}))})")
        return await self._ensure(name, number), None

    # -- changes ----------------------------------------------------------------------------------
    async def sync_all(self) -> None:
        for name in await self.control(self.registry.names):
            if name not in self.unloaded:
                try:
                    await self.sync(name)
                    self._logged.pop(name, None)
                except PrognosError as exc:
                    if self._logged.get(name) != str(exc):  # once per reason, not once per poll
                        log.error("model %s: %s", name, exc)
                    self._logged[name] = str(exc)

    async def sync(self, name: str) -> Route | None:
        """Make the route of ``name`` what the registry says, swapping only once every new version is warm."""
        async with self._lock(name):
            try:
                state = await self.control(self._state, name)
            except ModelNotFound:
                self._aliases.pop(name, None)
                return None
            self._aliases[name] = state.aliases
            champion, canary, weight, shadow = state.targets
            current = self.routes.get(name)
            if current and _targets(current) == state.targets:
                self.behind.pop(name, None)
                return current
            if champion is None:
                return current
            primary = await self._champion(name, champion, state, current)
            extra = {}
            for role, number in (("canary", canary), ("shadow", shadow)):
                try:
                    extra[role] = await self._ensure(name, number, state.versions.get(number)) if number else None
                except PrognosError as exc:  # a broken challenger must not stop the champion's swap
                    log.error("model %s: %s %s", name, role, exc)
                    extra[role] = None
            route = Route(primary, extra["canary"], weight if extra["canary"] else 0.0, extra["shadow"])
            if current and route.versions() == current.versions():
                return current  # a challenger that failed again: nothing changes
            self.routes[name] = route  # the swap: one assignment
            self.metrics.swaps.labels(name).inc()
            log.info("model %s now serves %s", name, route.versions())
            if current:
                keep = {id(s) for s in route.served()}
                for served in current.served():
                    if id(served) not in keep:
                        self._retire(served)
            return route

    async def _champion(self, name: str, number: int, state: _State, current: Route | None) -> Served:
        """The champion, loaded; when it cannot load, what serves meanwhile — the version the route serves now,
        or (at start) the newest version in the alias's history that loads — with the reason kept (`behind`).
        A server never moves an alias itself: fixing the files or a rollback does, and the next sync follows."""
        try:
            served = await self._ensure(name, number, state.versions.get(number))
        except ModelNotReady as exc:
            stand_in = current.primary if current else await self._previous(name, number, state)
            if stand_in is None:
                raise
            if self.behind.get(name, (0, 0, ""))[:2] != (number, stand_in.model.version):
                log.warning(
                    "model %s: champion v%d cannot load, serving v%d: %s", name, number, stand_in.model.version, exc
                )
            self.behind[name] = (number, stand_in.model.version, str(exc))
            return stand_in
        self.behind.pop(name, None)
        return served

    async def _previous(self, name: str, number: int, state: _State) -> Served | None:
        """The newest version the champion alias pointed at before ``number`` that loads, if any."""
        history = await self.control(self.registry.history, name, CHAMPION)
        for earlier in dict.fromkeys(reversed(history)):
            known = state.versions.get(earlier)
            if earlier != number and known is not None and not known.archived:
                with contextlib.suppress(ModelNotReady):
                    return await self._ensure(name, earlier, known)
        return None

    def lagging(self) -> list[str]:
        """Each model that serves another version than its champion alias names, and why."""
        return [
            f"{name} serves v{serving}, not its champion v{champion}: {why}"
            for name, (champion, serving, why) in sorted(self.behind.items())
            if name in self.routes
        ]

    async def load_name(self, name: str) -> Route:
        """The repository API's load: serve ``name`` again (or for the first time) from its champion."""
        await self.control(self.registry.versions, name)  # an unknown name is a 404
        self.unloaded.discard(name)
        route = await self.sync(name)
        if route is None:
            raise ModelNotReady(self._why(name) or f"model {name!r} has no champion alias: promote a version first")
        return route

    async def unload_name(self, name: str) -> None:
        await self.control(self.registry.versions, name)  # an unknown name is a 404, not a silent success
        self.unloaded.add(name)
        async with self._lock(name):
            self.routes.pop(name, None)
            for key in [k for k in self.loaded if k[0] == name]:
                self._retire(self.loaded[key])

    def expected(self) -> list[str]:
        """The models this server should serve: each with a champion alias, less those unloaded on purpose."""
        return sorted(n for n, aliases in self._aliases.items() if CHAMPION in aliases and n not in self.unloaded)

    def status(self, name: str, version: int | None = None) -> tuple[bool, str]:
        """(ready, reason) for the repository index and the ready endpoints."""
        if version is None:
            return (name in self.routes, "" if name in self.routes else self._why(name) or "not loaded")
        if (name, version) in self.loaded:
            return True, ""
        return False, self.failed.get((name, version), (0, "not loaded"))[1]

    async def control(self, fn: Callable[..., T], *args: Any) -> T:
        """Run registry work (store queries, loads) on the low-priority thread: requests keep the CPU."""
        return await asyncio.get_running_loop().run_in_executor(self._loader, fn, *args)

    # -- internals --------------------------------------------------------------------------------
    async def _published(self, name: str) -> bool:
        """Whether the registry has ``name``, from its list of names read at most once a second: an unknown
        name costs no query of its own, however many of them arrive."""
        if name in self._names:
            return True
        if time.monotonic() - self._names_at > 1.0:
            self._names_at = time.monotonic()
            self._names = set(await self.control(self.registry.names))
        return name in self._names

    def _state(self, name: str) -> _State:
        versions = {v.version: v for v in self.registry.versions(name)}  # raises ModelNotFound for an unknown name
        return _State(self.registry.aliases(name), self.registry.traffic(name), versions)

    async def load(self, name: str, number: int) -> Served:
        """Version ``number`` verified, loaded and warm (kept for its route), tried now even if it failed lately:
        what an alias is checked with before it moves (`ModelNotReady` with the reason when it cannot load)."""
        self.failed.pop((name, number), None)
        return await self._ensure(name, number)

    async def _ensure(self, name: str, number: int, known: Version | None = None) -> Served:
        served = self.loaded.get((name, number))
        if served:
            return served
        labels = (name, str(number))
        when, why = self.failed.get((name, number), (-1e9, ""))
        if time.monotonic() - when < RETRY_FAILED and self._stamps.get((name, number)) == self._stamp(name, number):
            raise ModelNotReady(why)  # tried lately, and its files are as they were: the same answer
        try:
            version = known or await self.control(self.registry.get, name, number)
            model = await self.control(self._load, version)
        except ModelNotFound:
            raise
        except PrognosError as exc:  # a tampered file, a graph ORT refuses: the reason stays on record
            self.failed[name, number] = (time.monotonic(), str(exc))
            self._stamps[name, number] = self._stamp(name, number)
            self.metrics.load_failures.labels(*labels).inc()
            log.error("cannot load %s v%d: %s", name, number, exc)
            raise ModelNotReady(str(exc)) from exc
        served = self.loaded.get((name, number))  # another request may have loaded it meanwhile
        if served:
            return served
        served = self.loaded[name, number] = Served(model, self.options, self.metrics)
        self.failed.pop((name, number), None)
        self.metrics.load_seconds.labels(*labels).set(model.load_seconds)
        self.metrics.loaded.labels(*labels).set(1)
        log.info("loaded %s in %.1f ms", model.label, model.load_seconds * 1000)
        return served

    def _load(self, version: Any) -> Model:
        started = time.perf_counter()
        model = load(self.registry, version, self.threads)
        model.warm(self.options.max_batch)
        model.load_seconds = time.perf_counter() - started
        return model

    def _stamp(self, name: str, number: int) -> tuple[tuple[str, int, int], ...]:
        """The version's files as the disk has them (name, size, mtime): a repaired file is tried again at once."""
        folder = self.registry.root / name / str(number)
        try:
            return tuple((p.name, (st := p.stat()).st_size, st.st_mtime_ns) for p in sorted(folder.iterdir()))
        except OSError:
            return ()

    def _retire(self, served: Served) -> None:
        """Stop routing to ``served``; it answers what it has queued, then is released."""
        key = (served.model.name, served.model.version)
        if self.loaded.get(key) is served:
            del self.loaded[key]
        task = asyncio.get_running_loop().create_task(served.batcher.close())
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)
        self.metrics.loaded.labels(served.model.name, str(served.model.version)).set(0)

    def _why(self, name: str) -> str:
        failed = [f"v{v}: {why}" for (n, v), (_, why) in self.failed.items() if n == name]
        if failed:
            return f"model {name!r} failed to load ({'; '.join(failed)})"
        if name in self._aliases and CHAMPION not in self._aliases[name]:
            return f"model {name!r} has no champion alias: promote a version, or address one as /versions/N"
        return ""

    def _number(self, name: str, ref: str) -> int | None:
        """A version reference (a number, or an alias as of the last registry look) as a version number."""
        return int(ref) if ref.isdigit() else self._aliases.get(name, {}).get(ref)

    def _lock(self, name: str) -> asyncio.Lock:
        return self._locks.setdefault(name, asyncio.Lock())

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.poll)
            try:
                await self.sync_all()
            except Exception:  # the store may be briefly away; the next poll tries again
                log.exception("model poll failed")


def _targets(route: Route) -> tuple[int | None, int | None, float, int | None]:
    v = route.versions()
    return v["champion"], v["canary"], v["weight"] if v["canary"] else 0.0, v["shadow"]  # type: ignore[return-value]
