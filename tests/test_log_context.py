"""Log lines say whose they are: a background task started while serving a connection (the
presence writer, started by the first socket that needs it) does not carry that connection's
``request`` and ``conn``, and connection ids differ between processes (``--workers 2`` numbered
both from ``v1``)."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys

from server import logs
from server.broker.redis_presence import RedisPresence
from server.hub import Connection
from tests.live import ROOT, free_port


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []
        self.logged = asyncio.Event()
        self.addFilter(logs.ContextFilter())

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.logged.set()  # (logged on the event loop's thread)


async def test_a_task_started_by_a_connection_logs_without_its_context() -> None:
    handler = _Records()
    logger = logging.getLogger("livechat.broker.redis")
    logger.addHandler(handler)
    level, logger.level = logger.level, logging.WARNING
    # Nothing listens there: the presence writer's first write fails, and it says so.
    presence = RedisPresence(f"redis://127.0.0.1:{free_port()}", clock=lambda: 0.0, timeout=1.0)
    try:
        _, token = logs.begin("0123456789abcdef")
        try:
            logs.bind_connection("v1")
            await presence.touch("site:agents", "ana", 60.0)  # starts the writer task
        finally:
            logs.end(token)
        async with asyncio.timeout(10):
            await handler.logged.wait()
    finally:
        await presence.close()
        logger.removeHandler(handler)
        logger.level = level
    [record] = [r for r in handler.records if "presence writes failed" in r.getMessage()]
    assert (record.request, record.conn) == (None, None)  # type: ignore[attr-defined]


def test_connection_ids_differ_between_processes() -> None:
    here = Connection("visitor", 8).id
    there = subprocess.run(
        [sys.executable, "-c", "from server.hub import Connection; "
         "print(Connection('visitor', 8).id, Connection('agent', 8).id)"],
        capture_output=True, text=True, check=True, cwd=ROOT).stdout.split()
    assert there[0] != here and there[0].startswith("v") and there[1].startswith("a")
    assert there[0] != there[1]
