"""How prognos listens: one uvicorn configuration for the server, the worker and the background server, with a
connection guard that times slow clients out.

A client owes the server a request from the moment it connects, or starts its next request on a kept-alive
connection, until the request's last byte arrives. One that sends nothing for ``idle_s`` seconds while it owes
bytes, or takes over ``total_s`` seconds for the whole request — slow headers ("slowloris") or a slow body — is
answered 408 and its connection closed: a slow client must not hold a connection and its memory. The guard sits
in the connection, not the app, because the app never sees headers until they are whole, and because it costs a
request only a clock read per packet (a timeout around every body read cost the inference path 2 %). Once a
request is whole the time is the server's: long answers and event streams are never cut.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from prognos.errors import SlowRequest, require

IDLE_S = 10.0  # seconds a client may send nothing while it owes the server a request
TOTAL_S = 60.0  # seconds a whole request (headers and body) may take to arrive


def config(app: Any, host: str, port: int, idle_s: float = IDLE_S, total_s: float = TOTAL_S) -> Any:
    """The uvicorn configuration every prognos process serves with (a `uvicorn.Config`)."""
    uvicorn = require("uvicorn", "serve")
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=guarded(idle_s, total_s),
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=3,  # open event streams do not hold the shutdown up
    )


def guarded(idle_s: float, total_s: float) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol (httptools) with slow clients timed out after ``idle_s`` / ``total_s``."""
    base = require("uvicorn.protocols.http.httptools_impl", "serve").HttpToolsProtocol
    tick = min(1.0, max(0.05, idle_s / 4))  # how late a stall may be noticed
    return type("Guarded", (Guard, base), {"idle_s": idle_s, "total_s": total_s, "tick": tick})


class Guard:
    """What `guarded` adds to uvicorn's protocol: when bytes last arrived, since when a request is owed, and a
    check every ``tick`` seconds. (A mixin: the protocol it is mixed into is imported only when serving.)"""

    idle_s, total_s, tick = IDLE_S, TOTAL_S, 1.0
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport
    flow: Any
    cycle: Any

    def connection_made(self, transport: asyncio.Transport) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        self.heard: float = self.loop.time()
        self.owed_since: float | None = self.heard  # a new connection owes its first request
        self.answerable = False  # whether the request owed has reached the app (its headers are whole)
        self.check = self.loop.call_later(self.tick, self.watch)

    def connection_lost(self, exc: Exception | None) -> None:
        self.check.cancel()
        super().connection_lost(exc)  # type: ignore[misc]

    def data_received(self, data: bytes) -> None:
        self.heard = self.loop.time()
        super().data_received(data)  # type: ignore[misc]

    def on_message_begin(self) -> None:
        super().on_message_begin()  # type: ignore[misc]
        self.answerable = False
        if self.owed_since is None:
            self.owed_since = self.heard

    def on_headers_complete(self) -> None:
        super().on_headers_complete()  # type: ignore[misc]
        self.answerable = True

    def on_message_complete(self) -> None:
        super().on_message_complete()  # type: ignore[misc]
        self.owed_since = None

    def watch(self) -> None:
        if self.transport.is_closing():
            return
        now = self.loop.time()
        if self.owed_since is not None and not self._waiting_on_us():
            if now - self.heard >= self.idle_s:
                return self.refuse(f"nothing received for {self.idle_s:g} s")
            if now - self.owed_since >= self.total_s:
                return self.refuse(f"not received in full within {self.total_s:g} s")
        self.check = self.loop.call_later(self.tick, self.watch)

    def _waiting_on_us(self) -> bool:
        """Whether the client is silent because the server is: reading paused, or a 100-continue unsent."""
        return bool(self.flow.read_paused or (self.cycle is not None and self.cycle.waiting_for_100_continue))

    def refuse(self, why: str) -> None:
        """Answer 408 (unless an answer has begun) and close the connection."""
        if not (self.answerable and self.cycle.response_started):
            self.transport.write(timed_out(f"request {why}", getattr(self, "url", b"")))
        self.transport.close()


def timed_out(message: str, path: bytes) -> bytes:
    """A whole 408 response in the error body of ``path``'s API (the inference protocol's under /v2)."""
    error = SlowRequest(message, field="request")
    body = orjson.dumps(
        {"error": str(error)}
        if path.startswith(b"/v2")
        else {"error": {"type": "SlowRequest", "message": str(error), "field": error.field, "value": None}}
    )
    head = b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\n"
    return head + b"content-length: %d\r\n\r\n" % len(body) + body
