"""The SQLite file under the store: its connection settings, the errors that mean it cannot
write now, and its migrations (``server.store.migrations``, by ``PRAGMA user_version``)."""

from __future__ import annotations

import secrets
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import aiosqlite

from server.store.migrations import MIGRATIONS, check_schema

T = TypeVar("T")

#: Why a write waits, or was refused, when another connection holds the write lock.
LOCKED = "the database is locked by another process"
#: SQLite's primary result codes that say the store cannot write now, not that a write is wrong.
_UNAVAILABLE = {
    sqlite3.SQLITE_FULL: "the disk is full",
    sqlite3.SQLITE_BUSY: LOCKED,
    sqlite3.SQLITE_LOCKED: "the database is locked",
    sqlite3.SQLITE_IOERR: "a disk I/O error",
    sqlite3.SQLITE_READONLY: "the database is read-only",
    sqlite3.SQLITE_CANTOPEN: "the database file cannot be opened",
    sqlite3.SQLITE_NOMEM: "out of memory",
    sqlite3.SQLITE_PROTOCOL: "a locking protocol error",
}


def is_busy(exc: BaseException) -> bool:
    """Whether ``exc`` says another connection holds a lock (nothing was done)."""
    code = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF
    return isinstance(exc, sqlite3.Error) and code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


def unavailable_reason(exc: BaseException) -> str | None:
    """Why ``exc`` means the store cannot write now (a full disk, a lock, I/O), or None when it
    is about the write itself."""
    code = getattr(exc, "sqlite_errorcode", None)
    if not isinstance(exc, sqlite3.Error) or code is None:
        return None
    return _UNAVAILABLE.get(code & 0xFF)




def _wal_mode(db: sqlite3.Connection, busy_ms: int) -> None:
    """``journal_mode = WAL``, waiting up to ``busy_ms`` for other connections. Several
    processes opening a new file at once all ask for the change; SQLite answers all but one
    with BUSY at once, without its busy handler (two connections both holding a shared lock and
    asking for an exclusive one would deadlock), so the wait is done here."""
    deadline = time.monotonic() + busy_ms / 1000
    while True:
        try:
            db.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if not is_busy(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.01)  # (at start-up, on the connection's own thread)


#: How often ``begin_immediate`` asks for the write lock again: every half millisecond at first,
#: then every tenth of the time waited so far, at most every ``_POLL_MAX`` seconds.
_POLL = 0.0005
_POLL_MAX = 0.005


def begin_immediate(db: sqlite3.Connection, wait_ms: int,
                    on_busy: Callable[[], None] | None = None) -> None:
    """``BEGIN IMMEDIATE``, waiting up to ``wait_ms`` for the write lock: asked again every
    half millisecond at first (``_POLL``), not by SQLite's busy handler, which sleeps 1, 2, 5,
    10, 15, 20, 25… ms between attempts, so that a lock held 4 ms cost a waiting writer 8.4 ms,
    12 ms cost 18.5 and 20 ms cost 33.6 (measured here; the store's own checkpoint holds writers
    that long for its fsync, docs/benchmarks.md). ``wait_ms`` is the connection's own
    ``busy_timeout``, which holds again afterwards; with 0, one attempt. ``on_busy`` is called
    when an attempt first meets another connection's lock (and the wait begins)."""
    if wait_ms <= 0:
        db.execute("BEGIN IMMEDIATE")
        return
    db.execute("PRAGMA busy_timeout = 0")
    try:
        started = time.monotonic()
        while True:
            try:
                db.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                waited = time.monotonic() - started
                if not is_busy(exc) or waited * 1000 >= wait_ms:
                    raise
                if on_busy is not None:
                    on_busy()
                    on_busy = None  # (once)
            time.sleep(min(_POLL_MAX, max(_POLL, waited / 10)))
    finally:
        db.execute(f"PRAGMA busy_timeout = {int(wait_ms)}")


def cut_back_size(wal_limit: int) -> int:
    """The size a WAL file larger than it is cut back to when the log restarts
    (``journal_size_limit``): a file past it holds that much log, so past it the writer asks for
    a checkpoint at once (server/store/sqlite_wal.py)."""
    return int(wal_limit) // 4


def _lower(value: str | bytes | int | float | None) -> str | bytes | None:
    """SQLite's lower() for every letter (a number becomes its text, as there)."""
    if value is None or isinstance(value, bytes):
        return value
    return str(value).lower()


def configure(db: sqlite3.Connection, synchronous: str, *, reader: bool, busy_ms: int = 5000,
               wal_limit: int = 64 * 1024 * 1024) -> None:
    db.execute(f"PRAGMA busy_timeout = {int(busy_ms)}")
    _wal_mode(db, busy_ms)
    db.execute(f"PRAGMA synchronous = {synchronous}")
    db.execute("PRAGMA foreign_keys = ON")
    # Checkpoints (the WAL copied back into the database, with an fsync) are taken by the
    # checkpoint task, not by whichever commit crosses 1,000 pages: that commit's acks would wait.
    db.execute("PRAGMA wal_autocheckpoint = 0")
    db.execute(f"PRAGMA journal_size_limit = {cut_back_size(wal_limit)}")
    # SQLite's own lower() knows A-Z only: a search for "иван" or "élodie" did not find
    # "Иван" or "Élodie" (PostgreSQL's lower() knows every letter). No index uses lower().
    db.create_function("lower", 1, _lower, deterministic=True)
    if reader:
        db.execute("PRAGMA query_only = ON")
    else:
        # What a write deletes or replaces is overwritten with zeros, not left in the file's
        # free space: an erased visitor's words were there (and the last message of every
        # conversation, rewritten at each message). Debian's SQLite has it on already; this
        # says so for every build.
        db.execute("PRAGMA secure_delete = ON")


async def _in_thread(conn: aiosqlite.Connection, fn: Callable[..., T], *args: Any, **kw: Any) -> T:
    """Run ``fn(sqlite3_connection, *args)`` on aiosqlite's thread in one hop.

    aiosqlite awaits one hop per call (about 70 µs each); a batch of writes run as one function
    costs one. ``Connection._execute`` and ``_conn`` are its internals; the dependency range in
    pyproject.toml is pinned to versions that have them, and every store test exercises this.
    """
    result: T = await conn._execute(fn, conn._conn, *args, **kw)  # type: ignore[no-untyped-call]
    return result


def _statements(script: str) -> Iterable[str]:
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            yield pending
            pending = ""
    if pending.strip():
        raise ValueError("incomplete SQL statement in migration")


def migrate(db: sqlite3.Connection, migrations: Sequence[str] = MIGRATIONS,
            on_step: Callable[[int, int], None] | None = None) -> int:
    """Apply the migrations not yet applied, each in its own transaction. Safe to run from
    several processes at once: the version is read again under the write lock.
    ``on_step(number, total)`` is told before each migration that is applied. A database newer
    than ``migrations`` is refused (``SchemaTooNew``)."""
    check_schema(db.execute("PRAGMA user_version").fetchone()[0], len(migrations))
    for number, script in enumerate(migrations, start=1):
        # A migration that rebuilds a table others refer to runs with foreign keys off (SQLite's
        # own procedure: a DROP TABLE would otherwise cascade), and is checked before it commits.
        keys_off = script.lstrip().startswith("-- foreign keys off")
        keys_were = db.execute("PRAGMA foreign_keys").fetchone()[0]
        if keys_off:
            db.execute("PRAGMA foreign_keys = OFF")
        db.execute("BEGIN IMMEDIATE")
        try:
            if db.execute("PRAGMA user_version").fetchone()[0] >= number:
                db.execute("ROLLBACK")
                continue
            if on_step is not None:
                on_step(number, len(migrations))
            for statement in _statements(script):
                db.execute(statement)
            if keys_off and db.execute("PRAGMA foreign_key_check").fetchone() is not None:
                raise sqlite3.IntegrityError(f"migration {number} broke a foreign key")
            if number == 1:
                db.execute(
                    "INSERT INTO meta(key, value) VALUES ('epoch', ?)", (secrets.token_hex(8),)
                )
            db.execute(f"PRAGMA user_version = {number}")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        finally:
            if keys_off:
                db.execute(f"PRAGMA foreign_keys = {int(keys_were)}")
    return int(db.execute("PRAGMA user_version").fetchone()[0])


