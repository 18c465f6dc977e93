"""Readings at rest: the store protocol and its implementations, chosen by URL.

>>> store = open_store("memory://")
>>> type(store).__name__
'MemoryStore'
"""

from __future__ import annotations

from urllib.parse import urlsplit

from prognos.errors import ConfigError
from prognos.store.asof import asof
from prognos.store.base import Agg, Store
from prognos.store.memory import MemoryStore

DEFAULT_URL = "duckdb:///prognos-data/prognos.duckdb"

__all__ = ["DEFAULT_URL", "Agg", "MemoryStore", "Store", "asof", "open_store"]


def open_store(url: str = DEFAULT_URL) -> Store:
    """``memory://``, ``duckdb:///relative/path.duckdb`` (``duckdb:////abs/path``) or ``postgresql://…``."""
    scheme = urlsplit(url).scheme
    if scheme == "memory":
        return MemoryStore()
    if scheme == "duckdb":
        from prognos.store.duckdb import DuckDBStore

        path = url.removeprefix("duckdb://").removeprefix("/")
        if not path:
            raise ConfigError(f"store URL {url!r} names no file: expected duckdb:///path/to/file.duckdb")
        return DuckDBStore(path)
    if scheme in ("postgresql", "postgres"):
        from prognos.store.postgres import PostgresStore

        return PostgresStore(url)
    raise ConfigError(f"unknown store URL {url!r}: expected memory://, duckdb:///PATH or postgresql://…")
