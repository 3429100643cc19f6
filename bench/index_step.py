"""One step of the SQLite store's search indexer, and what it does to a thread that shares
Python's GIL with it: the step as it is (``SearchIndex._step``: a handful of statements, the
messages read and written by SQL alone) against the step as it was before 2026-12-07 (the
pending rows fetched into Python, then two statements per message), side by side.

Beside each step runs a thread that stands in for the event loop: Python work in slices of
about 100 µs, each ending with a short call into SQLite (which lets the GIL go, as the loop's
writer and socket calls do). Its slices' lengths while the step runs are the stalls the step
causes it.

    python -m bench.index_step --messages 600 --rounds 12

Printed: per variant, the step's wall time and its thread's CPU time (medians), and the
stand-in loop's slices (how many, p99, longest). Not a test: a way to compare the two.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from server.store.sqlite_search import _SCHEMA, SearchIndex

WORDS = ("hello order delivery refund where is my package tracking number thanks please help "
         "account password reset invoice payment card failed shipping address change cancel "
         "subscription plan upgrade price discount code coupon return label box damaged broken "
         "item size colour bonjour merci commande livraison entrega pedido").split()
CONVERSATIONS = 20
_OLD_PENDING = ("SELECT p.conversation_id, p.seq, m.body FROM msgs.fts_pending p "
                "JOIN msgs.messages m ON m.conversation_id = p.conversation_id AND m.seq = p.seq "
                "ORDER BY m.created_at, p.conversation_id, p.seq LIMIT ?")


def _old_step(db: sqlite3.Connection, limit: int) -> list[tuple[str, int]]:
    """The step before 2026-12-07: rows into Python, two statements per message."""
    db.execute("BEGIN IMMEDIATE")
    rows = db.execute(_OLD_PENDING, (limit,)).fetchall()
    last = db.execute("SELECT coalesce(max(rowid), 0) FROM messages_fts").fetchone()[0]
    for conv, seq, body in rows:
        if db.execute("INSERT OR IGNORE INTO indexed VALUES (?, ?, ?)",
                      (conv, seq, last + 1)).rowcount:
            last += 1
            db.execute("INSERT INTO messages_fts(rowid, body, conversation_id, seq) "
                       "VALUES (?, ?, ?, ?)", (last, body, conv, seq))
    db.execute("COMMIT")
    return [(conv, seq) for conv, seq, _ in rows]


def _messages(path: Path, per_conversation: int, rng: random.Random) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("CREATE TABLE messages (conversation_id TEXT, seq INT, kind TEXT, body TEXT, "
               "created_at REAL, PRIMARY KEY (conversation_id, seq)) WITHOUT ROWID")
    db.execute("CREATE TABLE fts_pending (conversation_id TEXT NOT NULL, seq INTEGER NOT NULL, "
               "PRIMARY KEY (conversation_id, seq)) WITHOUT ROWID")
    db.execute("CREATE TABLE fts_forget (conversation_id TEXT PRIMARY KEY)")
    db.execute("BEGIN")
    at = 0.0
    for seq in range(1, per_conversation + 1):
        for c in range(CONVERSATIONS):
            at += 0.0002
            words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 16)))
            db.execute("INSERT INTO messages VALUES (?, ?, 'text', ?, ?)",
                       (f"c_{c:012d}", seq, f"{words} #{rng.randint(1, 99999)}", at))
    db.execute("COMMIT")
    return db


def _index(folder: Path, name: str, messages: Path) -> sqlite3.Connection:
    db = sqlite3.connect(folder / name, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    db.execute("PRAGMA temp_store = MEMORY")
    db.execute("ATTACH ? AS msgs", (messages.resolve().as_uri() + "?mode=ro",))
    for statement in _SCHEMA:
        db.execute(statement)
    return db


def _stand_in_loop(stop: threading.Event, slices: list[float]) -> None:
    db = sqlite3.connect(":memory:")
    last = time.perf_counter()
    while not stop.is_set():
        total = 0
        for k in range(1500):
            total += k
        db.execute("SELECT 1").fetchone()
        now = time.perf_counter()
        slices.append(now - last)
        last = now


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=600, help="per step")
    parser.add_argument("--rounds", type=int, default=12)
    args = parser.parse_args()
    per_step = args.messages // CONVERSATIONS * CONVERSATIONS
    index = SearchIndex("unused", synchronous="NORMAL", busy_ms=5000)
    variants: dict[str, Callable[[sqlite3.Connection, int], list[Any]]] = {
        "now": index._step, "before": _old_step}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        store = _messages(folder / "m.db", args.rounds * per_step // CONVERSATIONS + 1,
                          random.Random(1))
        indexes = {name: _index(folder, f"{name}.idx", folder / "m.db") for name in variants}
        indexes["now"].execute(
            "CREATE TEMP TABLE batch (conversation_id TEXT NOT NULL, seq INTEGER NOT NULL, "
            "body TEXT NOT NULL)")
        seen: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
        slices: dict[str, list[float]] = {name: [] for name in variants}
        first = 1
        for round_ in range(args.rounds):
            rows = [(f"c_{c:012d}", seq) for seq in range(first, first + per_step // CONVERSATIONS)
                    for c in range(CONVERSATIONS)]
            first += per_step // CONVERSATIONS
            store.executemany("INSERT INTO fts_pending VALUES (?, ?)", rows)
            order = list(variants) if round_ % 2 else list(reversed(variants))
            for name in order:
                stop, mine = threading.Event(), []
                loop = threading.Thread(target=_stand_in_loop, args=(stop, mine))
                loop.start()
                while len(mine) < 50:  # the stand-in has started
                    time.sleep(0.001)
                cpu, wall = time.thread_time(), time.perf_counter()
                taken = variants[name](indexes[name], 1000)
                seen[name].append((time.perf_counter() - wall, time.thread_time() - cpu))
                stop.set()
                loop.join()
                slices[name] += mine[50:]
                assert len(taken) == per_step, (name, len(taken))
            store.execute("DELETE FROM fts_pending")
        for name in variants:
            ours = sorted(slices[name])
            print(f"{name:7s} step: wall {statistics.median(w for w, _ in seen[name]) * 1e3:6.1f} "
                  f"ms, CPU {statistics.median(c for _, c in seen[name]) * 1e3:5.1f} ms | "
                  f"the stand-in loop: {len(ours)} slices, p99 "
                  f"{ours[int(len(ours) * 0.99)] * 1e6:6.0f} µs, longest {ours[-1] * 1e6:6.0f} µs")
        same = {name: db.execute("SELECT count(*) FROM messages_fts WHERE messages_fts MATCH "
                                 "'\"refund\"* \"box\"*'").fetchone()[0]
                for name, db in indexes.items()}
        print("the same index:", json.dumps(same))


if __name__ == "__main__":
    main()
