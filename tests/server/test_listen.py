"""Slow clients are timed out at the connection, on every route; a request that has arrived whole is never cut."""

from __future__ import annotations

import asyncio
import json
import select
import socket
import time
from collections.abc import AsyncIterator

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from prognos.server.background import BackgroundServer
from prognos.types import now_ms
from tests.server.conftest import serving
from tests.services import free_port

HEAD = b"POST /echo HTTP/1.1\r\nHost: x\r\ncontent-length: 10\r\n\r\n"


async def echo(request: Request) -> Response:
    return Response(await request.body())


async def forever(request: Request) -> StreamingResponse:
    async def ticks() -> AsyncIterator[bytes]:
        for _ in range(30):
            yield b"tick\n"
            await asyncio.sleep(0.1)

    return StreamingResponse(ticks(), media_type="text/plain")


@pytest.fixture
def echo_server():
    app = Starlette(routes=[Route("/echo", echo, methods=["POST"]), Route("/forever", forever)])
    with BackgroundServer(app, port=free_port(), idle_s=0.5, total_s=2.0) as server:
        yield server.url.removeprefix("http://").split(":")


def connect(address, sent: bytes = b"") -> socket.socket:
    s = socket.create_connection((address[0], int(address[1])))
    s.sendall(sent)
    return s


def until_closed(s: socket.socket, limit: float = 10.0) -> tuple[bytes, float]:
    """Everything the server sends until it closes the connection, and how long that took."""
    s.settimeout(limit)
    started, answer = time.monotonic(), b""
    while chunk := s.recv(65536):
        answer += chunk
    s.close()
    return answer, time.monotonic() - started


@pytest.mark.parametrize(
    "sent",
    [
        b"",  # connected, sends nothing
        b"POST /echo HTTP/1.1\r\nHost: x\r\nX-Slow",  # headers that stop half-way (slowloris)
        HEAD + b"12345",  # a body that stops half-way
    ],
    ids=["nothing", "headers", "body"],
)
def test_a_client_that_stalls_is_answered_408_and_closed(echo_server, sent):
    answer, took = until_closed(connect(echo_server, sent))
    assert answer.startswith(b"HTTP/1.1 408"), answer[:80]
    assert b"connection: close" in answer
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["error"]["message"] == "request nothing received for 0.5 s"
    assert 0.5 <= took < 2.0, took


def test_a_client_that_trickles_is_cut_at_the_total_limit(echo_server):
    s = connect(echo_server, b"POST /echo HTTP/1.1\r\nHost: x\r\n")
    started = time.monotonic()
    for i in range(100):  # a header line every 0.1 s: never idle for 0.5 s, but never done
        s.sendall(b"X-Drip-%d: y\r\n" % i)
        if select.select([s], [], [], 0.1)[0]:
            break
    answer, _ = until_closed(s)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:80]
    assert b"not received in full within 2 s" in answer
    assert 2.0 <= time.monotonic() - started < 4.0


def test_a_request_that_arrived_whole_is_not_timed_while_the_server_answers(echo_server):
    s = connect(echo_server, b"GET /forever HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    answer, took = until_closed(s)  # 3 s of ticks: longer than both limits
    assert answer.startswith(b"HTTP/1.1 200") and answer.count(b"tick") == 30, answer[-80:]
    assert took > 2.5


def test_kept_alive_connections_owe_their_next_request_only_once_they_start_it(echo_server):
    s = connect(echo_server, HEAD + b"0123456789")
    time.sleep(0.8)  # idle between requests (uvicorn's keep-alive, 5 s, decides that), past the 0.5 s limit
    s.sendall(HEAD + b"abcdefghij" + b"POST /echo HTTP/1.1\r\n")  # a second request, and a third that stalls
    answer, took = until_closed(s)
    assert answer.count(b"HTTP/1.1 200") == 2 and b"abcdefghij" in answer, answer
    assert answer.count(b"HTTP/1.1 408") == 1 and took < 2.0, (answer, took)


def test_fifty_slow_clients_on_every_prognos_route_are_cut_and_good_clients_are_served(tmp_path):
    with serving(tmp_path, request_idle=0.5) as server:
        address = server.url.removeprefix("http://").split(":")
        starts = [
            b'POST /api/v1/devices/d1/telemetry HTTP/1.1\r\nHost: x\r\ncontent-length: 100\r\n\r\n{"ts": 1',
            b'POST /v2/models/m/infer HTTP/1.1\r\nHost: x\r\ncontent-length: 100\r\n\r\n{"inputs"',
            b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nUser-Agent: slo",
            b"",
        ]
        slow = [connect(address, starts[i % len(starts)]) for i in range(50)]
        time.sleep(0.2)
        ok = server.http.post("/api/v1/devices/d1/telemetry", json={"ts": now_ms() - 1000, "values": {"x": 1}})
        assert ok.status_code == 200, ok.text
        answers = [until_closed(s)[0] for s in slow]
        assert all(a.startswith(b"HTTP/1.1 408") for a in answers), [a[:60] for a in answers if b"408" not in a]
        oip = answers[1].split(b"\r\n\r\n", 1)[1]
        assert json.loads(oip) == {"error": "request nothing received for 0.5 s"}  # the inference protocol's body
        assert server.http.get("/api/v1/health").status_code == 200
