"""The PostgreSQL store: the record shared by several machines (``LIVECHAT_DATABASE_URL=
postgresql://…``), with the same guarantees as the SQLite default, kept by the database.

Writes are the same ops as on SQLite (``server.store.base``), queued to one writer per process
that takes whatever is queued and runs it in one transaction on one connection, in one hop to
its thread — a refused write undoing only itself (``_run_batch``) — commits once,
then resolves the callers' futures: group commit, so a burst of sends costs one commit (one WAL
flush) and one thread hop. The driver is psycopg 3, synchronous on the writer's thread (the ops
are plain functions of a DB-API connection, so the SQL is written once for both databases) with
server-side prepared statements for the statements every message runs, and its asynchronous
pool for reads.

What the database enforces, across machines:

* ``seq``: the append's ``UPDATE conversations … RETURNING last_seq`` holds the conversation's
  row until the commit; another machine's append waits for it and reads the new value. A
  duplicate ``(conversation_id, seq)`` is refused by the primary key anyway.
* Idempotency: ``UNIQUE (conversation_id, client_msg_id)``; one open conversation per visitor:
  a partial unique index.
* Claims: ``UPDATE … WHERE assignee_id IS NULL AND status = 'waiting'`` — the second machine's
  update waits for the first's row lock, sees the new row, and changes nothing.
* A write that decides from what it reads (resolve, transfer, reopen, rate, …) reads the
  conversation ``FOR UPDATE``: another machine's write to it waits, then reads the outcome.
* Capacity: ``assign_waiting`` locks the online agents' rows (``FOR UPDATE``, in id order) before
  it counts their conversations, so two machines assigning at once take turns.
* Sweeps (snooze, unsent uploads) take their rows with ``FOR UPDATE SKIP LOCKED``: each row goes
  to one machine, and none waits for another.
* Migrations run under an advisory lock (``server.store.pg_schema``).

Durability is PostgreSQL's: a commit returns once its WAL is flushed (``synchronous_commit=on``,
the server's default), so an ack survives a crash of the server or of the machine.

A write that cannot be done now — the server is unreachable or restarting, out of disk or
connections, a deadlock or serialization failure — raises ``Unavailable`` and changes nothing;
the writer reconnects on the next batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
import psycopg_pool

from server.auth import new_id
from server.errors import Unavailable
from server.store.articles import PostgresArticles
from server.store.base import RETRY_AFTER_MS, Base, Clock, Ids, Op, StoreClosed, T
from server.store.facade import Aggregates
from server.store.filestore import Blobs
from server.store.pg_connection import Connection, translate
from server.store.pg_schema import SERVING_LOCK, migrate
from server.store.search import PostgresSearch
from server.store.writer import GroupWriter, Outcomes

log = logging.getLogger("livechat.store")

#: SQLSTATE classes that say the store cannot write now, not that the write is wrong:
#: connection, insufficient resources (disk, memory, connections), operator intervention
#: (shutdown), transaction rollback (deadlock, serialization), system error.
_UNAVAILABLE_CLASSES = {
    "08": "the database cannot be reached",
    "53": "the database is out of resources (disk, memory or connections)",
    "57": "the database is shutting down or cancelled the statement",
    "40": "the write collided with another machine's (deadlock)",
    "58": "a system error in the database",
}


def _cannot_write(exc: BaseException) -> bool:
    """Whether a failed pipelined batch is the store's trouble (not worth a replay)."""
    return (unavailable_reason(exc) is not None
            and not isinstance(exc, psycopg.errors.PipelineAborted))


def unavailable_reason(exc: BaseException) -> str | None:
    """Why ``exc`` means the store cannot write now, or None when it is about the write."""
    if isinstance(exc, psycopg_pool.PoolTimeout):
        return "no database connection was free in time"
    if not isinstance(exc, psycopg.Error):
        return None
    state = exc.sqlstate or ""
    reason = _UNAVAILABLE_CLASSES.get(state[:2])
    if reason is None and isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
        reason = "the database cannot be reached"
    return reason


class _Replay(Exception):
    """A statement of a pipelined batch failed in the database: run the batch again, one
    statement at a time, so that the failure is told to the write that made it."""


class PostgresEngine(GroupWriter, Base):
    """PostgreSQL under the store: see the module's docstring."""

    _dialect = "postgresql"
    _refusal_shows_error = True

    def __init__(
        self,
        url: str,
        *,
        clock: Clock,
        ids: Ids = new_id,
        pool_min: int = 1,
        pool_max: int = 10,
        pool_timeout: float = 5.0,
        max_batch: int = 512,
        max_queue: int = 10_000,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self._clock = clock
        self._ids = ids
        self._pool_min, self._pool_max, self._pool_timeout = pool_min, pool_max, pool_timeout
        self._init_writer(max_batch=max_batch, max_queue=max_queue, monotonic=monotonic)
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="store-writer")
        self._conn: psycopg.Connection[Any] | None = None
        self._pool: psycopg_pool.AsyncConnectionPool | None = None
        self._checking: asyncio.Task[None] | None = None
        self.epoch = ""
        #: Transactions committed (group commit shows as fewer commits than writes).
        self.commits = 0
        #: Pipelined batches run again one statement at a time (a statement failed in them).
        self.replays = 0
        self._fts_rows: list[tuple[str, int]] = []  # unused: the GIN index is kept by the write
        self._init_hooks()
        self.articles = PostgresArticles(self)

    # --- lifecycle ---------------------------------------------------------------------------

    def _connect(self) -> psycopg.Connection[Any]:
        conn = psycopg.connect(self.url, autocommit=True, connect_timeout=10,
                               application_name="livechat-writer")
        conn.prepare_threshold = 0  # every statement prepared: one parse per connection
        try:  # for as long as this connection lives; waits while a `livechat restore` runs
            conn.execute("SELECT pg_advisory_lock_shared(%s)", (SERVING_LOCK,))
        except BaseException:
            conn.close()
            raise
        return conn

    async def _in_thread(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn, *args)

    async def open(self) -> None:
        def start() -> str:
            conn = self._connect()
            try:
                migrate(conn)
                row = conn.execute("SELECT value FROM meta WHERE key = 'epoch'").fetchone()
            except BaseException:
                conn.close()
                raise
            assert row is not None, "migrations write the epoch"
            self._conn = conn
            return str(row[0])

        self.epoch = await self._in_thread(start)
        self._pool = psycopg_pool.AsyncConnectionPool(
            self.url, min_size=self._pool_min, max_size=self._pool_max,
            timeout=self._pool_timeout, open=False, name="livechat-readers",
            kwargs={"autocommit": True, "application_name": "livechat-reader"},
            # No check before each use (a round trip per read): a connection that broke is
            # dropped when it is given back (the read that met it is refused with
            # ``unavailable`` and retried), the idle ones are checked when that happens and
            # when writes are refused or commit again (``_check_readers``), and none is kept
            # longer than max_lifetime.
            max_lifetime=600.0)
        await self._pool.open(wait=True, timeout=30)
        self._task = asyncio.create_task(self._write_loop(), name="store-writer")

    def _check_readers(self) -> None:
        """Test the pool's idle connections in the background, replacing the broken ones (one
        check at a time): otherwise each connection an outage broke would be handed out once
        more after it, and its read refused, seconds after writes commit again."""
        pool = self._pool
        if pool is None or (self._checking is not None and not self._checking.done()):
            return

        async def check() -> None:
            try:
                await pool.check()
            except Exception as exc:  # (the pool replaces what it can; reads say the rest)
                log.warning("the pool's connections could not be checked (%s)",
                            type(exc).__name__)

        self._checking = asyncio.create_task(check(), name="store-readers-check")

    def _outage_edge(self) -> None:
        self._check_readers()

    async def readers_checked(self) -> None:
        """Once the pool's last check (``_check_readers``) is done."""
        if self._checking is not None:
            await asyncio.shield(self._checking)

    async def close(self) -> None:
        await self._stop_writer()
        if self._checking is not None:
            self._checking.cancel()
            with contextlib.suppress(BaseException):
                await self._checking
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
        conn, self._conn = self._conn, None
        if conn is not None:
            await self._in_thread(conn.close)
        self._thread.shutdown(wait=True)

    # --- the writer (server.store.writer) ------------------------------------------------------

    async def _run_in_writer(self, ops: list[Op], quick: int) -> Outcomes:
        return await self._in_thread(self._run_batch, ops)

    def _unavailable_reason(self, exc: BaseException) -> str | None:
        return unavailable_reason(exc)

    def _run_batch(self, ops: list[Op]) -> list[tuple[bool, Any]]:
        """On the writer's thread: the batch in one transaction, pipelined — the statements
        whose results an op does not read yet (most ``INSERT``s) travel with the next one it
        does, and ``COMMIT`` with the last — and optimistic: no savepoints. When an op is
        refused (a ``ChatError``, or a statement the database refuses: a race lost to another
        machine), the batch is rolled back and run again, unpipelined, each op in its own
        savepoint, so that a refused write undoes only itself and is told its own error."""
        conn = self._conn
        if conn is None or conn.closed or conn.broken:
            if conn is not None:
                with contextlib.suppress(psycopg.Error):
                    conn.close()
            self._conn = None
            conn = self._conn = self._connect()
            row = conn.execute("SELECT value FROM meta WHERE key = 'epoch'").fetchone()
            if row is not None and row[0] != self.epoch:  # (restored while it could not see)
                log.critical("THE STORE WAS RESTORED while this process was cut off from it "
                             "(epoch %s, now %s): restart every livechat process using it",
                             self.epoch, row[0])
        try:
            try:
                outcomes = self._batch(conn, ops, pipelined=True)
            except _Replay:
                self.replays += 1
                outcomes = self._batch(conn, ops, pipelined=False)
        finally:
            self._fts_rows.clear()
        self.commits += 1
        return outcomes

    @staticmethod
    def _batch(conn: psycopg.Connection[Any], ops: list[Op],
               pipelined: bool) -> list[tuple[bool, Any]]:
        outcomes: list[tuple[bool, Any]] = []
        try:
            with conn.pipeline() if pipelined else contextlib.nullcontext() as pipeline:
                db = Connection(conn, pipeline)
                conn.execute("BEGIN", prepare=False)
                for op in ops:
                    if not pipelined:
                        conn.execute("SAVEPOINT op", prepare=False)
                    try:
                        outcomes.append((True, op(db)))
                        if not pipelined:
                            conn.execute("RELEASE op", prepare=False)
                    except Exception as exc:
                        if _cannot_write(exc):
                            raise  # the store's trouble, not this write's: the batch fails
                        if pipelined:  # refused (rare): again, each op in its savepoint
                            raise _Replay from exc
                        conn.execute("ROLLBACK TO op", prepare=False)
                        conn.execute("RELEASE op", prepare=False)
                        outcomes.append((False, exc))
                conn.execute("COMMIT", prepare=False)
        except BaseException as exc:
            if not conn.closed and not conn.broken:
                with contextlib.suppress(psycopg.Error):
                    conn.execute("ROLLBACK", prepare=False)
            if pipelined and isinstance(exc, psycopg.Error) \
                    and not _cannot_write(exc):
                raise _Replay from exc
            raise
        return outcomes

    # --- reads -------------------------------------------------------------------------------

    async def _all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        if self._pool is None:
            raise StoreClosed("the store is closed")
        try:
            async with self._pool.connection() as conn:
                cur = await conn.execute(translate(sql), params)
                return await cur.fetchall()
        except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
            reason = unavailable_reason(exc)
            if reason is None:
                raise
            if isinstance(exc, psycopg.OperationalError):  # (a connection, not the pool's wait)
                self._check_readers()
            raise Unavailable(reason, RETRY_AFTER_MS) from None


class PostgresStore(Aggregates, Blobs, PostgresSearch, PostgresEngine):
    """Every aggregate of ``server.store.facade`` on PostgreSQL, and the files' bytes
    (``server.store.filestore.Blobs``)."""
