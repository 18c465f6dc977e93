from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from prognos.config import Settings
from prognos.server import create_app
from prognos.server.background import BackgroundServer
from prognos.store import Store, open_store
from tests.services import free_port


@dataclass
class Live:
    url: str
    http: httpx.Client
    store: Store


@contextlib.contextmanager
def serving(tmp_path: Path, prepare: Callable[[Store], Any] | None = None, **settings: Any) -> Iterator[Live]:
    """A real prognos server on loopback over a fresh DuckDB store; ``prepare`` runs on the store first."""
    store = open_store(f"duckdb:///{tmp_path}/live.duckdb")
    if prepare:
        prepare(store)
    chosen = Settings.of(**{"max_body": 1024 * 1024, "registry": str(tmp_path / "models"), **settings})
    with (
        BackgroundServer(create_app(store, chosen), port=free_port(), idle_s=chosen.server.request_idle) as server,
        httpx.Client(base_url=server.url, timeout=30) as http,
    ):
        yield Live(server.url, http, store)
    store.close()


@pytest.fixture
def live(tmp_path) -> Iterator[Live]:
    with serving(tmp_path) as server:
        yield server
