from __future__ import annotations

import contextlib
import os
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from server.store import SQLiteStore
from server.store.postgres import PostgresStore
from tests import pg
from tests.live import Seed, ServerProcess, seed, serving


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "chat.db"


@pytest.fixture
async def seeded(db: Path) -> Seed:
    return await seed(db)


@pytest.fixture
def server(db: Path, seeded: Seed) -> Iterator[ServerProcess]:
    with serving(db) as proc:
        yield proc


@pytest.fixture(params=pg.BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Each store conformance test runs on SQLite and on PostgreSQL."""
    return str(request.param)


@pytest.fixture
def record(tmp_path: Path, backend: str) -> Iterator[pg.Record]:
    """Where servers of a test that runs on both stores keep the record."""
    with contextlib.ExitStack() as stack:
        yield pg.record(backend, tmp_path, stack)


@pytest.fixture
async def any_seeded(record: pg.Record) -> Seed:
    return await seed(record.db)


@pytest.fixture
def any_server(record: pg.Record, any_seeded: Seed) -> Iterator[ServerProcess]:
    """A server on SQLite, then on PostgreSQL (``backend``), seeded like ``server``."""
    with serving(record.home, **record.env) as proc:
        yield proc


@pytest.fixture
async def store(tmp_path: Path, backend: str) -> AsyncIterator[SQLiteStore]:
    """A store of ``backend`` (typed as SQLite's: both have every method of ``Store``)."""
    with contextlib.ExitStack() as stack:
        url = pg.store_url(backend, tmp_path, stack)
        s: Any = (SQLiteStore(url, clock=time.time) if backend == "sqlite"
                  else PostgresStore(url, clock=time.time))
        await s.open()
        try:
            yield s
        finally:
            await s.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    path = Path(os.environ.get("LIVECHAT_ARTIFACTS", Path(__file__).parent.parent /
                                "test-artifacts"))
    path.mkdir(parents=True, exist_ok=True)
    return path

