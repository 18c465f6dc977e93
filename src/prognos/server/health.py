"""What a server says of its own health, part by part, with the reason for each part that is not well.

    store    the database answers (a ping on a thread, at most once a second) and writes are not failing
    mqtt     the broker acknowledged the subscriptions (with --mqtt)
    bus      the stream bus is connected (with --partitions)
    models   every model with a champion alias serves it (one unloaded on purpose is not expected to)
    champions  each serves the version its alias names, not a stand-in for one whose files cannot load
    stream   the scoring loop runs, and every model the stream assigns serves a version it can feed that lost no
             windows to a failure in the last minute (with --stream)

`GET /api/v1/health` is 200 when every part is well, else 503 with the reasons. Readiness (`/v2/health/ready`)
asks what answering requests needs — the deployments started, the store, the models, the stream — and leaves the
broker out: HTTP ingest and inference work while it is away (health says so), and a stand-in version out: it
answers (health says it is not the champion). Liveness (`/v2/health/live`) fails
only where a restart is the cure: the writer's thread or the scoring loop has died.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from prognos import __version__
from prognos.store import Store
from prognos.store.base import redact
from prognos.types import now_ms, to_iso

if TYPE_CHECKING:  # the context holds a Probe: its module cannot be imported from here at run time
    from prognos.server.context import Context

PATIENCE = 2.0  # seconds a ping may take before the store counts as not answering
EVERY = 1.0  # seconds between pings: a health poll never queues work on a database that is away
READY = ("store", "models", "stream")  # the parts readiness asks for
RECENT_MS = 10_000  # a write failed this recently: the store is not well, whatever a ping says (a full disk)


@dataclass(frozen=True)
class Part:
    name: str
    ok: bool
    reason: str = ""


class Probe:
    """The store pinged on a thread, at most every ``EVERY`` s; a ping still out after ``PATIENCE`` s is an answer."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._at = -1e9
        self._ping: asyncio.Future[None] | None = None
        self._last = Part("store", True)

    async def check(self) -> Part:
        if self._ping is None and time.monotonic() - self._at >= EVERY:
            self._at = time.monotonic()
            self._ping = asyncio.ensure_future(asyncio.to_thread(self.store.ping))
        if self._ping is not None:
            done, _ = await asyncio.wait([self._ping], timeout=PATIENCE)
            if not done:
                return Part("store", False, f"the store has not answered a ping for over {PATIENCE:g} s")
            exc, self._ping = self._ping.exception(), None
            self._last = Part("store", exc is None, str(exc) if exc else "")
        return self._last


async def parts(ctx: Context) -> list[Part]:
    lagging = ctx.deployments.lagging()
    found = [await _store(ctx), _models(ctx), Part("champions", not lagging, "; ".join(lagging))]
    if ctx.source is not None:
        found.append(_mqtt(ctx))
    if ctx.bus is not None:
        status = ctx.bus.status()
        found.append(Part("bus", bool(status.get("connected")), "" if status.get("connected") else "not connected"))
    if ctx.scorer is not None:
        problems = ctx.scorer.problems()
        found.append(Part("stream", not problems, "; ".join(problems)))
    return found


def document(ctx: Context, found: list[Part], **more: Any) -> tuple[dict[str, Any], int]:
    """What ``/api/v1/health`` answers, and its status: each part's state, the reasons of those not well, and the
    numbers of the writer, the broker and the bus (``more``: a worker's own)."""
    ok = all(p.ok for p in found)
    doc = {
        "status": "ok" if ok else "degraded",
        "version": __version__,
        "checks": {p.name: {"ok": p.ok, **({"reason": p.reason} if p.reason else {})} for p in found},
        "reasons": [f"{p.name}: {p.reason}" for p in found if not p.ok],
        "store": redact(ctx.store.url),
        **more,
        "writer": asdict(ctx.writer.stats),
        "mqtt": ctx.source.status() if ctx.source else None,
        "bus": ctx.bus.status() if ctx.bus else None,
    }
    return doc, 200 if ok else 503


def live(ctx: Context) -> Part:
    if not ctx.writer.alive:
        return Part("live", False, "the store writer's thread has stopped")
    stopped = ctx.scorer.runner.failure() if ctx.scorer is not None else None
    return Part("live", stopped is None, stopped or "")


async def _store(ctx: Context) -> Part:
    stats = ctx.writer.stats
    if stats.failing_since is not None and stats.failed_at and now_ms() - stats.failed_at < RECENT_MS:
        return Part("store", False, f"writes failing since {to_iso(stats.failing_since)}: {stats.last_error}")
    return await ctx.probe.check()


def _models(ctx: Context) -> Part:
    reasons = []
    for name in ctx.deployments.expected():
        ok, why = ctx.deployments.status(name)
        if not ok:
            reasons.append(f"{name}: {why}")
    return Part("models", ctx.deployments.started and not reasons, "; ".join(reasons) or _starting(ctx))


def _starting(ctx: Context) -> str:
    return "" if ctx.deployments.started else "the models are still loading"


def _mqtt(ctx: Context) -> Part:
    assert ctx.source is not None
    status = ctx.source.status()
    if status["subscribed"]:
        return Part("mqtt", True)
    return Part("mqtt", False, status.get("last_error") or "not yet subscribed to the broker")
