"""Readings at rest: the store protocol and its implementations, chosen by URL.

>>> store = open_store("memory://")
>>> type(store).__name__
'MemoryStore'
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from prognos.config import DEFAULT_STORE
from prognos.errors import ConfigError
from prognos.store.asof import asof
from prognos.store.base import Agg, Devices, Records, Store, Telemetry
from prognos.store.memory import MemoryStore

__all__ = ["Agg", "Devices", "MemoryStore", "Records", "Store", "Telemetry", "asof", "open_store"]


def open_store(url: str = DEFAULT_STORE) -> Store:
    """``memory://``, ``duckdb:///relative/path.duckdb`` (``duckdb:////abs/path``) or ``postgresql://…``.

    DuckDB takes ``?threads=N`` (default: one per core) to bound the cores its queries use.
    """
    scheme = urlsplit(url).scheme
    if scheme == "memory":
        return MemoryStore()
    if scheme == "duckdb":
        from prognos.store.duckdb import DuckDBStore  # duckdb loads with the first embedded store, not the package

        parts = urlsplit(url)
        path = (parts.netloc + parts.path).removeprefix("/")
        if not path:
            raise ConfigError(f"store URL {url!r} names no file: expected duckdb:///path/to/file.duckdb")
        return DuckDBStore(path, threads=_int_option(parts.query, "threads", url))
    if scheme in ("postgresql", "postgres"):
        from prognos.store.postgres import PostgresStore  # psycopg is an extra: loaded with a PostgreSQL URL

        return PostgresStore(url)
    raise ConfigError(f"unknown store URL {url!r}: expected memory://, duckdb:///PATH or postgresql://…")


def _int_option(query: str, name: str, url: str) -> int | None:
    values = parse_qs(query).get(name)
    if not values:
        return None
    if not values[-1].isdigit() or int(values[-1]) < 1:
        raise ConfigError(f"store URL {url!r}: {name} must be a positive integer, got {values[-1]!r}")
    return int(values[-1])
