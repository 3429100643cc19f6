from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.live import Seed, ServerProcess, seed


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "chat.db"


@pytest.fixture
async def seeded(db: Path) -> Seed:
    return await seed(db)


@pytest.fixture
def server(db: Path, seeded: Seed) -> Iterator[ServerProcess]:
    proc = ServerProcess(db).start()
    try:
        yield proc
    finally:
        proc.stop()
        # No unhandled error may reach the log, whatever the test sent.
        assert "Traceback" not in proc.log(), proc.log()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    path = Path(os.environ.get("LIVECHAT_ARTIFACTS", Path(__file__).parent.parent /
                                "test-artifacts"))
    path.mkdir(parents=True, exist_ok=True)
    return path

