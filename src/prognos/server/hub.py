"""Live updates for the dashboard and any other client, fanned out to server-sent event streams (`events`).

The stream scorer tells the hub which devices it just scored and which alerts moved; the alert API tells
it of acknowledgements. Each client gets its own bounded queue (a slow one loses events, never slows the
server) and a ``ping`` every 15 s; events are hints to re-read the public API, not data to trust alone:

    event: scored   data: {"devices": ["pump-001", …]}       at most once a second
    event: alert    data: {"id": …, "kind": "open|escalate|resolve|acknowledge", "device_id": …, …}
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import StreamingResponse


class Hub:
    def __init__(self, ping: float = 15.0, scored_every: float = 1.0) -> None:
        self.ping, self.scored_every = ping, scored_every
        self._loop: asyncio.AbstractEventLoop | None = None
        self._clients: set[asyncio.Queue[tuple[str, Any]]] = set()
        self._scored: set[str] = set()
        self._last_scored = 0.0

    def publish(self, kind: str, data: Any) -> None:
        """Thread-safe."""
        loop = self._loop
        if loop is None or not self._clients:
            return
        with contextlib.suppress(RuntimeError):  # the loop is closing
            loop.call_soon_threadsafe(self._fan_out, kind, data)

    def scored(self, devices: Iterable[str]) -> None:
        """Devices just scored: gathered and told at most once per ``scored_every`` seconds."""
        self._scored.update(devices)
        if time.monotonic() - self._last_scored >= self.scored_every and self._scored:
            self._last_scored = time.monotonic()
            found, self._scored = sorted(self._scored), set()
            self.publish("scored", {"devices": found})

    def _fan_out(self, kind: str, data: Any) -> None:
        for q in self._clients:
            with contextlib.suppress(asyncio.QueueFull):
                q.put_nowait((kind, data))

    async def stream(self, request: Request) -> StreamingResponse:
        self._loop = asyncio.get_running_loop()
        q: asyncio.Queue[tuple[str, Any]] = asyncio.Queue(maxsize=256)
        self._clients.add(q)

        async def events() -> AsyncIterator[bytes]:
            try:
                yield b"retry: 2000\nevent: hello\ndata: {}\n\n"
                while True:
                    try:
                        kind, data = await asyncio.wait_for(q.get(), self.ping)
                    except TimeoutError:
                        kind, data = "ping", {}
                    yield f"event: {kind}\ndata: ".encode() + orjson.dumps(data) + b"\n\n"
            finally:
                self._clients.discard(q)

        headers = {"cache-control": "no-cache", "x-accel-buffering": "no"}
        return StreamingResponse(events(), media_type="text/event-stream", headers=headers)

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
