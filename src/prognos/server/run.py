"""Run the server with uvicorn (uvloop + httptools where installed)."""

from __future__ import annotations

from prognos.config import Settings
from prognos.errors import require
from prognos.server.app import create_app
from prognos.store import open_store


def run(settings: Settings) -> None:
    uvicorn = require("uvicorn", "serve")
    store = open_store(settings.store)
    try:
        app = create_app(store, settings)
        uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning", access_log=False)
    finally:
        store.close()
