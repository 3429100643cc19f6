"""How long a writer waits for SQLite's write lock after its holder lets go: SQLite's own busy
handler (``busy_timeout``, which sleeps 1, 2, 5, 10, 15, 20, 25… ms between attempts) against
``server.store.sqlite_db.begin_immediate`` (the writer's thread: asks again every 0.5 ms at
first). The lock is held as long as the store's checkpoint holds writers (its RESTART, 2-20 ms).

    .venv/bin/python -m bench.lock_wait
"""

from __future__ import annotations

import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from server.store.sqlite_db import begin_immediate

HOLDS_MS = (2, 4, 8, 12, 20)
ROUNDS = 9


def _waited(holder: sqlite3.Connection, waiter: sqlite3.Connection, hold: float,
            begin: Callable[[sqlite3.Connection], None]) -> float:
    """Milliseconds from the holder's COMMIT until the waiter has the lock."""
    holder.execute("BEGIN IMMEDIATE")
    got: list[float] = []

    def wait() -> None:
        begin(waiter)
        got.append(time.perf_counter())
        waiter.execute("COMMIT")

    thread = threading.Thread(target=wait)
    thread.start()
    time.sleep(hold)  # the lock held this long (a benchmark, not a test)
    holder.execute("COMMIT")
    released = time.perf_counter()
    thread.join()
    return (got[0] - released) * 1000


def _sqlite_handler(db: sqlite3.Connection) -> None:
    db.execute("BEGIN IMMEDIATE")  # waits through the connection's busy_timeout


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "lock.db"
        holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        holder.execute("PRAGMA journal_mode = WAL")
        waiter = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        waiter.execute("PRAGMA busy_timeout = 5000")
        ways: dict[str, Callable[[sqlite3.Connection], None]] = {
            "SQLite's busy handler": _sqlite_handler,
            "begin_immediate": lambda db: begin_immediate(db, 5000),
        }
        print(f"SQLite {sqlite3.sqlite_version}; ms from the holder's commit until the waiter "
              f"has the lock, median of {ROUNDS}\n")
        print("| lock held | " + " | ".join(ways) + " |")
        print("|---|" + "---|" * len(ways))
        for hold in HOLDS_MS:
            cells = [statistics.median(_waited(holder, waiter, hold / 1000, begin)
                                       for _ in range(ROUNDS)) for begin in ways.values()]
            print(f"| {hold} ms | " + " | ".join(f"{c:.2f}" for c in cells) + " |")
        holder.close()
        waiter.close()


if __name__ == "__main__":
    main()
