"""A server on a background thread, for the demo and for tests that want a real socket."""

from __future__ import annotations

import threading
import time
from typing import Any

from prognos.errors import PrognosError, require
from prognos.server import listen
from prognos.server.listen import IDLE_S, TOTAL_S


class BackgroundServer:
    def __init__(
        self, app: Any, host: str = "127.0.0.1", port: int = 8600, idle_s: float = IDLE_S, total_s: float = TOTAL_S
    ) -> None:
        self.url = f"http://{host}:{port}"
        self.server = require("uvicorn", "serve").Server(listen.config(app, host, port, idle_s, total_s))
        self.thread = threading.Thread(target=self.server.run, name="prognos-http", daemon=True)

    def __enter__(self) -> BackgroundServer:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise PrognosError(f"server on {self.url} did not start (is the port in use?)")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(15)
