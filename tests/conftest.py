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

