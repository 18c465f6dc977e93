"""A server on a background thread, for the demo and for tests that want a real socket."""

from __future__ import annotations

import threading
import time
from typing import Any

from prognos.errors import PrognosError, require


class BackgroundServer:
    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 8600) -> None:
        uvicorn = require("uvicorn", "serve")
        self.url = f"http://{host}:{port}"
        config = uvicorn.Config(
            app, host=host, port=port, log_level="warning", access_log=False, timeout_graceful_shutdown=3
        )  # open event streams do not hold the shutdown up
        self.server = uvicorn.Server(config)
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
