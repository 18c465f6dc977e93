from __future__ import annotations

from collections.abc import Iterator

import pytest

from prognos.store import MemoryStore, Store, open_store
from tests import services


@pytest.fixture(scope="session")
def pg_url() -> str:
    return services.ensure_postgres()


@pytest.fixture
def fresh_pg(pg_url: str) -> Iterator[str]:
    with services.pg_schema(pg_url) as url:
        yield url


@pytest.fixture(params=["memory", "duckdb", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path) -> Iterator[Store]:
    """Every store implementation, fresh: the contract tests run against each."""
    if request.param == "memory":
        s: Store = MemoryStore()
        yield s
    elif request.param == "duckdb":
        s = open_store(f"duckdb:///{tmp_path}/t.duckdb")
        yield s
        s.close()
    else:
        pg = services.ensure_postgres()
        with services.pg_schema(pg) as url:
            s = open_store(url)
            yield s
            s.close()


@pytest.fixture(scope="session")
def broker() -> Iterator[services.Mosquitto]:
    b = services.Mosquitto().start()
    yield b
    b.stop()
