"""The second baseline: the bare relay (bench/relay.py) plus the least that livechat's first
non-negotiable costs. Each message a sender sends is committed to SQLite before it is
acknowledged and forwarded, with the same durability as livechat (WAL, ``synchronous=NORMAL``,
group commit), a client-made id that makes a resend harmless (one unique index) and one
gap-free sequence per pair. Nothing else: no visitors, conversations, tenants, rate limits,
inbox, search index, metrics or webhooks.

It tells which of issue 11's targets the guarantee itself rules out on this machine, and how
much of livechat's cost is the rest of the product. bench/run.py serves it beside the relay.

    sender → /ws/send/<pair>: {"id": "<client id>", "body": "..."}
    sender ← {"type": "ack", "id": "<client id>", "seq": n}       (after the commit)
    receiver on /ws/recv/<pair> ← {"seq": n, "body": "..."}      (after the commit)

The writer runs on the event loop (as livechat's does): each batch is what was queued when it
began, in one transaction. The WAL is bounded as livechat bounds it (its automatic checkpoint
off; a thread checkpoints every second, passively, and restarts the log when that copied it
all); here the loop waits for that restart's lock (a few ms a second) rather than handing the
batch to a thread.

``COMMITTED_RELAY_EXTRA_US`` (default 0) makes the loop spend that many microseconds of CPU on
each message it reads, standing in for the work a product adds to the floor: ``bench.budget``
measures how much the tail can take (docs/benchmarks.md, "the loop's budget").
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import AsyncIterator

import orjson
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

# The receivers' side is the bare relay's: its sockets, and a sender's wait for its receiver.
from bench.relay import receivers, recv_socket, sender

SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    pair TEXT NOT NULL, seq INTEGER NOT NULL, client_id TEXT NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (pair, seq)) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS messages_client_id ON messages(pair, client_id);
"""

#: Messages received and not yet committed: (pair, client id, body, the sender).
queued: list[tuple[str, str, str, WebSocket]] = []
ready = asyncio.Event()
last_seq: dict[str, int] = {}
#: Seconds of CPU the loop spends on each message read, besides the floor's own work.
EXTRA = int(os.environ.get("COMMITTED_RELAY_EXTRA_US", "0")) / 1e6


def connect(path: str) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    db.execute("PRAGMA wal_autocheckpoint = 0")
    db.execute("PRAGMA busy_timeout = 1000")
    return db


def checkpoints(path: str, stop: threading.Event) -> None:
    db = connect(path)
    while not stop.wait(1.0):
        # As livechat's (server/store/sqlite_wal.py): passive passes until one finds few new
        # frames, so that the restart, which holds writers, has little left to copy and sync.
        last, restart = None, False
        for _ in range(4):
            busy, log, copied = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            if busy or log != copied:
                restart = last is not None  # (only the first pass's reader stops the restart)
                break
            restart = True
            if last is not None and log - last <= 8:
                break
            last = log
        if restart:
            db.execute("PRAGMA wal_checkpoint(RESTART)")
    db.close()


def commit(db: sqlite3.Connection,
           batch: list[tuple[str, str, str, WebSocket]]) -> list[tuple[int, bool]]:
    """Each message's seq, and whether it is new (a resend gets its stored seq back)."""
    out: list[tuple[int, bool]] = []
    taken: dict[str, int] = {}  # the pairs' sequences as this transaction leaves them
    db.execute("BEGIN IMMEDIATE")
    try:
        for pair, client_id, body, _ in batch:
            seq = taken.get(pair, last_seq.get(pair, 0)) + 1
            if db.execute("INSERT INTO messages VALUES (?, ?, ?, ?) ON CONFLICT(pair, client_id) "
                          "DO NOTHING", (pair, seq, client_id, body)).rowcount:
                taken[pair] = seq
                out.append((seq, True))
            else:
                out.append((db.execute("SELECT seq FROM messages WHERE pair = ? AND client_id = ?",
                                       (pair, client_id)).fetchone()[0], False))
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")  # nothing committed: the sequences stay as they were
        raise
    last_seq.update(taken)
    return out


async def writer(db: sqlite3.Connection) -> None:
    while True:
        await ready.wait()
        ready.clear()
        batch = queued[:]
        del queued[:]
        for (pair, client_id, body, from_ws), (seq, new) in zip(batch, commit(db, batch),
                                                                strict=True):
            with contextlib.suppress(Exception):
                await from_ws.send_text(orjson.dumps(
                    {"type": "ack", "id": client_id, "seq": seq}).decode())
            receiver = receivers.get(pair)
            if new and receiver is not None:
                with contextlib.suppress(Exception):
                    await receiver.send_text(orjson.dumps({"seq": seq, "body": body}).decode())


async def send_socket(ws: WebSocket) -> None:
    pair = await sender(ws)
    try:
        while True:
            frame = orjson.loads(await ws.receive_text())
            if EXTRA:
                until = time.perf_counter() + EXTRA
                while time.perf_counter() < until:  # CPU on the loop, as a product's work
                    pass
            queued.append((pair, str(frame["id"]), str(frame["body"]), ws))
            ready.set()
    except WebSocketDisconnect:
        pass


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    path = os.environ["COMMITTED_RELAY_DB"]
    db = connect(path)
    db.executescript(SCHEMA)
    stop = threading.Event()
    thread = threading.Thread(target=checkpoints, args=(path, stop), daemon=True)
    thread.start()
    task = asyncio.create_task(writer(db))
    yield
    task.cancel()
    stop.set()
    thread.join()
    db.close()


app = Starlette(routes=[WebSocketRoute("/ws/recv/{pair}", recv_socket),
                        WebSocketRoute("/ws/send/{pair}", send_socket)], lifespan=lifespan)
