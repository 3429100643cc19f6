from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from server.store import SQLiteStore
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


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    s = SQLiteStore(tmp_path / "store.db", clock=time.time)
    await s.open()
    yield s
    await s.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    path = Path(os.environ.get("LIVECHAT_ARTIFACTS", Path(__file__).parent.parent /
                                "test-artifacts"))
    path.mkdir(parents=True, exist_ok=True)
    return path

