"""Run the server with uvicorn (uvloop + httptools where installed)."""

from __future__ import annotations

import gc
import sys
from typing import Any

from prognos.config import Settings
from prognos.errors import require
from prognos.server import listen
from prognos.server.app import create_app
from prognos.server.worker import create_worker_app
from prognos.store import open_store


def tune_gc() -> None:
    """Fewer, cheaper garbage collections for a long-running server.

    Ingest allocates a dict or two per reading and frees them soon after; with Python's default thresholds that
    runs the young collection every 700 allocations and the full one often enough to cost a tenth of the event
    loop at 10,000 readings/s. What exists at start-up (modules, models, the app) is frozen out of collection.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def run(settings: Settings, worker: bool = False) -> None:
    """Serve ``settings`` until interrupted: the prognos server, or (``worker``) a `prognos stream` worker."""
    # The event loop answers requests; other threads (store writes, model loads) run Python in between.
    # Python hands the GIL over only every switch interval (5 ms by default): a request arriving while
    # another thread computes would wait that long, so hand over sooner.
    sys.setswitchinterval(0.0005)
    store = open_store(settings.store)
    tune_gc()
    try:
        if worker:
            app: Any = create_worker_app(store, settings)
        else:
            app = create_app(store, settings)
        server = settings.server
        require("uvicorn", "serve").Server(listen.config(app, server.host, server.port, server.request_idle)).run()
    finally:
        store.close()
