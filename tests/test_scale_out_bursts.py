"""Bursts into one conversation from two server processes sharing Redis and the store: each
process's doorbells reach the other after its own, so they often ring out of order and the
gaps are read from the store."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed

from tests.cluster import Cluster, running
from tests.live import Client, visitor

pytestmark = pytest.mark.slow
#: Sends each tab pipelines: the burst that filled a socket's queue (512) before.
SENDS = 300


@pytest.fixture(params=["redis", "postgres"])
def two_processes(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Cluster]:
    with running(tmp_path, request.param) as c:
        yield c


async def burst(tab: Client, prefix: str) -> None:
    for i in range(SENDS):
        await tab.send({"type": "send", "id": f"{prefix}{i}", "body": f"{prefix} {i}"})


async def test_two_tabs_on_two_processes_bursting_are_not_cut_off(
        two_processes: Cluster) -> None:
    """Before: both tabs were closed as slow consumers (4008) within a tenth of a second,
    though they read all the while: the doorbells that rang while a tab's pump read a gap
    from the store were queued behind the read and filled its queue."""
    cluster = two_processes
    tab_a, welcome = await visitor(cluster.a, cluster.seeded.site_id)
    first = await tab_a.request({"type": "send", "id": "first", "body": "hello"})
    conv = first["conversation_id"]
    tab_b, _ = await visitor(cluster.b, cluster.seeded.site_id, token=welcome["token"],
                             conversation_id=conv, last_seq=first["seq"],
                             epoch=welcome["epoch"])
    await asyncio.gather(burst(tab_a, "a"), burst(tab_b, "b"))
    last = 1 + 2 * SENDS
    for tab in (tab_a, tab_b):  # every message once, in order; every send acked
        with contextlib.suppress(ConnectionClosed):
            await tab.of_type("message", seq=last)
        assert tab.ws.close_code is None, f"closed with {tab.ws.close_code}"
        seqs = [f["seq"] for f in tab.frames if f.get("type") == "message"]
        assert seqs == list(range(seqs[0], last + 1))
    for tab, prefix in ((tab_a, "a"), (tab_b, "b")):
        acked = {f["id"] for f in tab.frames if f.get("type") == "ack"}
        assert {f"{prefix}{i}" for i in range(SENDS)} <= acked
        await tab.close()
