"""Several server processes sharing one Redis and one SQLite file (or, for two machines, a
PostgreSQL database) behave as one: the cluster the scale-out tests run.

Each cluster starts its own redis-server on a free port (so a test may kill it) and two
`livechat serve` processes on two ports."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import pg
from tests.live import (
    UNLIMITED,
    Seed,
    ServerProcess,
    seed,
)
from tests.redis_server import RedisServer

FAST = UNLIMITED




@dataclass
class Cluster:
    """Two server processes sharing Redis and the SQLite file — or, for the embedded mode, one
    process standing as both ``a`` and ``b``, so the same tests prove both modes."""

    redis: RedisServer | None
    a: ServerProcess
    b: ServerProcess
    #: The SQLite file, or the PostgreSQL database's URL.
    db: Path | str
    seeded: Seed

    @property
    def processes(self) -> list[ServerProcess]:
        return [self.a] if self.a is self.b else [self.a, self.b]


@contextlib.contextmanager
def running(tmp_path: Path, mode: str, **env: str) -> Iterator[Cluster]:
    """``mode``: memory (one process, SQLite), redis (two processes sharing Redis and the SQLite
    file), postgres (two "machines": each process in a folder of its own, sharing nothing but
    Redis and a PostgreSQL database)."""
    with contextlib.ExitStack() as stack:
        yield stack.enter_context(_running(tmp_path, mode, stack, **env))


@contextlib.contextmanager
def _running(tmp_path: Path, mode: str, stack: contextlib.ExitStack,
             **env: str) -> Iterator[Cluster]:
    db: Path | str = tmp_path / "shared.db"
    places = [db, db]
    env = {**FAST, "LIVECHAT_ROUTING_INTERVAL": "0.2", **env}
    if mode == "postgres":
        db = stack.enter_context(pg.database())
        env["LIVECHAT_DATABASE_URL"] = db
        places = [tmp_path / "machine-a" / "livechat.db", tmp_path / "machine-b" / "livechat.db"]
        for place in places:
            place.parent.mkdir()
    seeded = asyncio.run(seed(db))
    own_redis = RedisServer(tmp_path).start() if mode != "memory" else None
    if own_redis is not None:
        env.update(LIVECHAT_REDIS_URL=own_redis.url, LIVECHAT_REDIS_PREFIX="lc")
    a = ServerProcess(places[0], env=env).start()
    b = ServerProcess(places[1], env=env).start() if own_redis is not None else a
    cluster = Cluster(own_redis, a, b, db, seeded)
    try:
        yield cluster
    finally:
        for proc in cluster.processes:
            proc.stop()
        if own_redis is not None:
            own_redis.stop()
    for proc in cluster.processes:
        assert "Traceback" not in proc.log(), proc.log()


@pytest.fixture(params=["memory", "redis", "postgres"])
def cluster(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Cluster]:
    """Both deployment modes."""
    with running(tmp_path, request.param) as c:
        yield c


@pytest.fixture(params=["redis", "postgres"])
def redis_cluster(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Cluster]:
    """Two processes and a Redis of our own, for the tests that kill one of them."""
    with running(tmp_path, request.param) as c:
        yield c


@pytest.fixture
def short_grace_cluster(tmp_path: Path) -> Iterator[Cluster]:
    """Two processes whose agents are taken as gone half a second after they last said so."""
    with running(tmp_path, "redis", LIVECHAT_PRESENCE_TTL="0.5",
                 LIVECHAT_REQUEUE_GRACE="0.5") as c:
        yield c


def transcript(db: Path | str, conversation_id: str) -> list[tuple[int, str]]:
    return pg.rows(db, "SELECT seq, body FROM messages WHERE conversation_id = ? ORDER BY seq",
                   (conversation_id,))
