"""The SQLite store: WAL, one writer task with group commit, a separate reader connection.

Writes are functions of a ``sqlite3.Connection`` queued to one writer task. The task takes
whatever is queued (no fixed timer), runs the whole batch in one hop to aiosqlite's thread inside
one ``BEGIN IMMEDIATE`` transaction — each write in its own savepoint, so a refused write undoes
only itself — commits once, and only then resolves the callers' futures. An ack therefore always
follows a commit, and a burst of writes costs one fsync and one thread hop, not one each.

Durability: ``journal_mode=WAL`` with ``synchronous=NORMAL`` (the default) survives a crash or
``kill -9`` of the server process with every committed write; a power loss or kernel crash may
lose the last transactions committed before it, never corrupt the file. ``FULL`` (set
``LIVECHAT_SQLITE_SYNCHRONOUS=FULL``) also survives power loss, for about 9% of write throughput
with batching on this kind of machine.

Several processes may share the file: SQLite serialises their writers with its own lock
(``busy_timeout``), and every invariant (one open conversation per visitor, gap-free ``seq``,
idempotent ``client_msg_id``, compare-and-set claims) is enforced inside the transaction, not by a
per-process cache.

The WAL is bounded (``wal_limit``): a checkpoint task copies it back every second without
blocking anyone (PASSIVE), and when the file passes half the limit the writer, between two
transactions, checkpoints and truncates it (TRUNCATE) — under sustained writes a PASSIVE
checkpoint alone never lets the log restart, and it grew by ~20 KB per message.

A write that fails because of where the store is — the disk is full, the database is locked past
``busy_timeout``, an I/O error, the store is closing or its queue is full — raises
``Unavailable`` (the client is told to retry after a delay), and the trouble is logged once when
it starts and once when it ends (``server.health.Episode``). Only a write that is wrong in itself
raises ``ChatError``.

A high-water mark (``generation``, bumped by every transaction) is kept in ``<db>.hwm`` beside
the file: a database that was copied back by hand and so went backwards is detected at open, said
loudly, and given a new ``epoch`` so that every client starts over.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite
import orjson

from server import site_profile
from server.auth import new_id, normalize_origin
from server.errors import ChatError, Code, Unavailable
from server.health import Episode, Health
from server.private import private_file
from server.reports import Row as ReportRow
from server.store import watermark
from server.store.articles import Articles
from server.store.migrations import MIGRATIONS
from server.store.models import (
    PRIVATE_KINDS,
    Agent,
    Attachment,
    Block,
    Canned,
    Change,
    Conversation,
    Hit,
    Load,
    Message,
    Page,
    Role,
    Site,
    Team,
    Visitor,
)
from server.tasks import report_death

log = logging.getLogger("livechat.store")
T = TypeVar("T")
Op = Callable[[sqlite3.Connection], Any]
Clock = Callable[[], float]
Ids = Callable[[str], str]
Choose = Callable[[Iterable[Load], str | None], str | None]

#: Shown as verified: the site vouched for the visitor, and for every name or email shown.
_VERIFIED = ("coalesce(v.verified AND (v.claims_signed OR (v.name IS NULL AND v.email IS NULL)), "
             "0)")
_CONV_COLS = (
    "c.id, c.site_id, c.visitor_id, c.status, c.assignee_id, a.name, c.last_seq, c.last_message, "
    "c.created_at, c.updated_at, v.name, v.email, " + _VERIFIED + ", c.visitor_read_seq, "
    "c.agent_read_seq, c.rating, c.rating_comment, "
    "(SELECT group_concat(t.tag, ',') FROM conversation_tags t WHERE t.conversation_id = c.id), "
    "c.unread, "
    "c.snoozed_until, c.team_id, (SELECT name FROM teams WHERE id = c.team_id), c.visitor_seq"
)
_CONV_FROM = (
    "conversations c LEFT JOIN agents a ON a.id = c.assignee_id "
    "LEFT JOIN visitors v ON v.id = c.visitor_id"
)
_MSG_COLS = (
    "conversation_id, seq, client_msg_id, kind, author_type, author_id, author_name, body, "
    "created_at, data"
)
_ATTACHMENT_COLS = "id, site_id, uploader_id, name, content_type, size, created_at"
_BLOCK_COLS = ("b.id, b.site_id, b.visitor_id, v.name, b.ip IS NOT NULL, b.until, b.reason, "
               "a.name, b.created_at")
_BLOCK_FROM = ("blocks b LEFT JOIN visitors v ON v.id = b.visitor_id "
               "JOIN agents a ON a.id = b.created_by")
_PREVIEW_CHARS = 140
_MAX_ATTRIBUTES = 50
_MAX_TAGS = 20
_MAX_PAGES = 50
_INDEX_ROUND = 1000
#: How long a checkpoint that truncates the WAL may wait for readers and other processes'
#: writers; when it cannot finish in time it is tried again a second later.
_TRUNCATE_WAIT_MS = 500
_TRUNCATE_RETRY = 1.0
#: A refused write may be sent again after this long.
RETRY_AFTER_MS = 1000

#: SQLite's primary result codes that say the store cannot write now, not that a write is wrong.
_UNAVAILABLE = {
    sqlite3.SQLITE_FULL: "the disk is full",
    sqlite3.SQLITE_BUSY: "the database is locked by another process",
    sqlite3.SQLITE_LOCKED: "the database is locked",
    sqlite3.SQLITE_IOERR: "a disk I/O error",
    sqlite3.SQLITE_READONLY: "the database is read-only",
    sqlite3.SQLITE_CANTOPEN: "the database file cannot be opened",
    sqlite3.SQLITE_NOMEM: "out of memory",
    sqlite3.SQLITE_PROTOCOL: "a locking protocol error",
}


class StoreClosed(Unavailable):
    """The store is closed, or its writer died; nothing more can be written."""

    def __init__(self, reason: str = "the store is closed") -> None:
        super().__init__(reason, RETRY_AFTER_MS)


def unavailable_reason(exc: BaseException) -> str | None:
    """Why ``exc`` means the store cannot write now (a full disk, a lock, I/O), or None when it
    is about the write itself."""
    code = getattr(exc, "sqlite_errorcode", None)
    if not isinstance(exc, sqlite3.Error) or code is None:
        return None
    return _UNAVAILABLE.get(code & 0xFF)


def _conversation(row: Sequence[Any]) -> Conversation:
    return Conversation(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8],
                        row[9], row[10], row[11], bool(row[12]), row[13], row[14], row[15],
                        row[16], tuple(sorted(row[17].split(","))) if row[17] else (), row[18],
                        row[19], row[20], row[21], row[22])


def _message(row: Sequence[Any]) -> Message:
    return Message(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8],
                   orjson.loads(row[9]) if row[9] else None)


def _site(row: Sequence[Any]) -> Site:
    return Site(row[0], row[1], tuple(orjson.loads(row[2])), row[3], bool(row[4]), row[5], row[6],
                site_profile.from_json(orjson.loads(row[7])))


def _ensure_visitor(db: sqlite3.Connection, site_id: str, visitor_id: str, now: int) -> None:
    """The visitor's row, made on first need (a first message, a form, attributes, a page)."""
    db.execute("INSERT OR IGNORE INTO visitors(id, site_id, created_at) VALUES (?, ?, ?)",
               (visitor_id, site_id, now))


def _file_name(data: dict[str, Any] | None) -> str:
    """The body of a message that is only an attachment: the file's name."""
    return str(data["attachment"]["name"]) if data else ""


def _attachment(row: Sequence[Any]) -> Attachment:
    return Attachment(*row)


def _visitor(row: Sequence[Any]) -> Visitor:
    return Visitor(row[0], row[1], row[2], row[3], bool(row[4]), orjson.loads(row[5]), row[6],
                   row[7], row[8], row[9])


def _block(row: Sequence[Any]) -> Block:
    return Block(row[0], row[1], row[2], row[3], bool(row[4]), row[5], row[6], row[7], row[8])


def _canned(row: Sequence[Any]) -> Canned:
    return Canned(*row)


#: Named, not ``*``: migrations of other features may add columns to agents in any order.
_AGENT_COLS = ("id, email, name, password_hash, role, active, session_generation, created_at, "
               "capacity, last_assigned_at, avatar_file, avatar_type")


def _agent(row: Sequence[Any]) -> Agent:
    """A row of ``SELECT {_AGENT_COLS} FROM agents``."""
    return Agent(row[0], row[1], row[2], row[3], row[4], bool(row[5]), row[6], row[7], row[8],
                 row[9], row[10], row[11])


def _configure(db: sqlite3.Connection, synchronous: str, *, reader: bool, busy_ms: int = 5000,
               wal_limit: int = 64 * 1024 * 1024) -> None:
    db.execute(f"PRAGMA busy_timeout = {int(busy_ms)}")
    db.execute("PRAGMA journal_mode = WAL")
    db.execute(f"PRAGMA synchronous = {synchronous}")
    db.execute("PRAGMA foreign_keys = ON")
    # Checkpoints (the WAL copied back into the database, with an fsync) are taken by the
    # checkpoint task, not by whichever commit crosses 1,000 pages: that commit's acks would wait.
    db.execute("PRAGMA wal_autocheckpoint = 0")
    # When the log restarts after a complete checkpoint, a file larger than this is cut back.
    db.execute(f"PRAGMA journal_size_limit = {int(wal_limit) // 2}")
    if reader:
        db.execute("PRAGMA query_only = ON")


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


class SchemaTooNew(Exception):
    """The database was upgraded by a newer livechat: this one would misread it."""


def check_schema(version: int, known: int) -> None:
    if version > known:
        raise SchemaTooNew(
            f"the database has schema version {version}, newer than this livechat's ({known}): "
            "it was upgraded by a newer release. Run that release (or restore a backup taken "
            "before the upgrade with `livechat restore`)")


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


class SQLiteStore:
    """See ``server.store.Store`` for the contract."""

    def __init__(
        self,
        path: Path | str,
        *,
        clock: Clock,
        ids: Ids = new_id,
        synchronous: str = "NORMAL",
        max_batch: int = 512,
        wal_limit: int = 64 * 1024 * 1024,
        busy_timeout: float = 5.0,
        max_queue: int = 10_000,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = str(path)
        self._clock = clock
        self._ids = ids
        self._synchronous = synchronous
        self._max_batch = max_batch
        #: The WAL is checkpointed and truncated when it passes half of this (bytes).
        self.wal_limit = wal_limit
        self._wal_path = self.path + "-wal"
        self._truncate_after = 0.0
        self._busy_ms = int(busy_timeout * 1000)
        self._max_queue = max_queue
        self._monotonic = monotonic
        #: The current outage of writes, if any (logged when it starts and when it ends).
        self.trouble = Episode(monotonic)
        self._wal_trouble = Episode(monotonic)
        self._checkpoint_trouble = Episode(monotonic)
        self._overload = Episode(monotonic)
        #: When the running batch was handed to the writer's thread (None: the writer is idle).
        self._batch_since: float | None = None
        self._last_commit: float | None = None
        self._probe: asyncio.Future[None] | None = None
        self._generation = 0
        self._queue: asyncio.Queue[tuple[Op, asyncio.Future[Any]]] = asyncio.Queue()
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self._checkpoints: asyncio.Task[None] | None = None
        self._checkpointer: aiosqlite.Connection | None = None
        self.checkpoint_interval = 1.0
        self._failure: BaseException | None = None
        self.epoch = ""
        #: Transactions committed (group commit shows as fewer commits than writes).
        self.commits = 0
        #: (conversation id, seq) of the texts and notes the running batch wrote, for search.
        self._fts_rows: list[tuple[str, int]] = []
        self._indexer: asyncio.Task[None] | None = None
        self.index_interval = 0.5
        #: Called inside the transaction of every message or event appended (the webhook
        #: outbox, server/store/webhooks.py, writes its rows there).
        self.on_append: Callable[[sqlite3.Connection, Message], None] | None = None
        #: Called inside the transaction that changed a visitor's name, email or attributes.
        self.on_visitor: Callable[[sqlite3.Connection, str, str], None] | None = None
        #: Called with every message appended, inside its transaction (the email outbox
        #: writes its jobs there: server/store/outbox.py).
        self.append_hooks: list[Callable[[sqlite3.Connection, Message], None]] = []
        #: Told of each committed batch: (writes, seconds from handing it to the thread).
        self.on_batch: Callable[[int, float], None] | None = None
        #: The knowledge base (server/store/articles.py), on this store's writer and reader.
        self.articles = Articles(self)

    # --- lifecycle ---------------------------------------------------------------------------

    async def open(self) -> None:
        private_file(Path(self.path))  # 0600, so that its WAL and -shm files are too
        self._writer = await aiosqlite.connect(self.path, isolation_level=None)
        await _in_thread(self._writer, _configure, self._synchronous, reader=False,
                         busy_ms=self._busy_ms, wal_limit=self.wal_limit)
        await _in_thread(self._writer, migrate)
        self.epoch, self._generation = await _in_thread(self._writer, self._check_watermark)
        self._reader = await aiosqlite.connect(self.path, isolation_level=None)
        await _in_thread(self._reader, _configure, self._synchronous, reader=True,
                         busy_ms=self._busy_ms, wal_limit=self.wal_limit)
        self._task = asyncio.create_task(self._write_loop(), name="store-writer")
        # Opened here, not in the task: a task cancelled while connecting would leave
        # aiosqlite's thread behind.
        self._checkpointer = await aiosqlite.connect(self.path, isolation_level=None)
        await self._checkpointer.execute(f"PRAGMA busy_timeout = {self._busy_ms}")
        self._checkpoints = asyncio.create_task(self._checkpoint_loop(self._checkpointer),
                                                name="store-checkpoint")
        self._checkpoints.add_done_callback(report_death)
        self._indexer = asyncio.create_task(self._index_loop(), name="store-indexer")
        self._indexer.add_done_callback(report_death)

    async def _index_loop(self) -> None:
        """Index pending messages for search every ``index_interval`` seconds: whichever process
        wrote them, or a crash left them (a read when there is nothing, no write)."""
        while True:
            await asyncio.sleep(self.index_interval)
            try:
                await self.index_pending()
            except StoreClosed:
                return
            except Unavailable:
                pass  # logged once by the writer; the next round retries
            except sqlite3.Error as exc:
                log.warning("search indexing failed (%s); the next round retries", exc)

    async def index_pending(self) -> int:
        """Move every pending message into the search index (in rounds of 1,000, each its own
        write). A search calls it first, so it sees every acknowledged message."""
        if await self._one("SELECT 1 FROM fts_pending LIMIT 1") is None:
            return 0  # nothing to write: no trip through the writer
        total = 0
        while True:
            done = await self._submit(self._index_round)
            total += done
            if done < _INDEX_ROUND:
                return total

    @staticmethod
    def _index_round(db: sqlite3.Connection) -> int:
        rows = db.execute(
            "SELECT p.conversation_id, p.seq, m.body FROM fts_pending p JOIN messages m "
            "ON m.conversation_id = p.conversation_id AND m.seq = p.seq LIMIT ?",
            (_INDEX_ROUND,)).fetchall()
        db.executemany("INSERT INTO messages_fts(body, conversation_id, seq) VALUES (?, ?, ?)",
                       [(body, conv, seq) for conv, seq, body in rows])
        db.executemany("DELETE FROM fts_pending WHERE conversation_id = ? AND seq = ?",
                       [(conv, seq) for conv, seq, _ in rows])
        return len(rows)

    def _check_watermark(self, db: sqlite3.Connection) -> tuple[str, int]:
        """The store's epoch and generation, after comparing them with ``<db>.hwm``: a file
        that went backwards (an older copy put back by hand) gets a new epoch, loudly."""
        epoch = db.execute("SELECT value FROM meta WHERE key = 'epoch'").fetchone()[0]
        generation = int(db.execute(
            "SELECT value FROM meta WHERE key = 'generation'").fetchone()[0])
        mark = watermark.read(self.path)
        if mark is not None and mark.epoch == epoch and generation < mark.generation:
            epoch = secrets.token_hex(8)
            db.execute("UPDATE meta SET value = ? WHERE key = 'epoch'", (epoch,))
            log.critical(
                "THE DATABASE WENT BACKWARDS: %s is at generation %d, but generation %d was "
                "written before (an older copy put back by hand?). Messages written since that "
                "copy are gone, and sequence numbers will be reused. It now has a new epoch, %s, "
                "so that every client starts over. Use `livechat restore` to restore a backup.",
                self.path, generation, mark.generation, epoch)
        watermark.write(self.path, watermark.Mark(epoch, generation))
        return str(epoch), generation

    async def _checkpoint_loop(self, conn: aiosqlite.Connection) -> None:
        """A passive checkpoint every ``checkpoint_interval`` seconds, on its own connection:
        it never blocks writers or readers. (The writer truncates the WAL when it grows past
        half of ``wal_limit`` anyway: see ``_bound_wal``.) The high-water mark is kept here."""
        while True:
            await asyncio.sleep(self.checkpoint_interval)
            with contextlib.suppress(OSError):
                if os.stat(self._wal_path).st_size >= self.wal_limit // 2:
                    continue  # the writer truncates it; a checkpoint here would be in its way
            try:
                # Fetched to the end: a statement left open would hold a read snapshot, and no
                # checkpoint could then truncate the log.
                await conn.execute_fetchall("PRAGMA wal_checkpoint(PASSIVE)")
            except sqlite3.Error as exc:
                if self._checkpoint_trouble.fail(str(exc)):
                    log.warning("checkpoints fail (%s); retrying every second", exc)
            else:
                ended = self._checkpoint_trouble.recover()
                if ended is not None:
                    log.warning("checkpoints succeed again after %.1f s", ended.lasted)
            with contextlib.suppress(OSError):
                watermark.write(self.path, watermark.Mark(self.epoch, self._generation))

    async def close(self) -> None:
        if self._indexer is not None:
            self._indexer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._indexer
            self._indexer = None
        if self._checkpoints is not None:
            self._checkpoints.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._checkpoints
            self._checkpoints = None
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        while not self._queue.empty():
            _, fut = self._queue.get_nowait()
            if not fut.done():
                fut.set_exception(StoreClosed("store closed"))
        for conn in (self._writer, self._reader, self._checkpointer):
            if conn is not None:
                await conn.close()
        self._writer = self._reader = self._checkpointer = None
        if self.epoch:
            with contextlib.suppress(OSError):
                watermark.write(self.path, watermark.Mark(self.epoch, self._generation))

    @property
    def healthy(self) -> bool:
        return self._task is not None and not self._task.done() and self._failure is None

    async def write_health(self, bound: float) -> Health:
        """Whether a write commits within ``bound`` seconds. A commit within the bound, with
        nothing waiting since, proves it; otherwise a probe write (an empty transaction, shared
        by concurrent callers) is queued like any other write and awaited for at most
        ``bound``."""
        if not self.healthy:
            return Health(False, "the store is closed" if self._failure is None
                          else "the store's writer died", None)
        now = self._monotonic()
        if self._batch_since is not None and now - self._batch_since >= bound:
            return Health(False, f"a write has been waiting {now - self._batch_since:.1f} s: "
                          f"{self.trouble.reason or 'the database is locked or the disk slow'}",
                          now - self._batch_since)
        if self._last_commit is not None and now - self._last_commit < bound \
                and self._batch_since is None and not self.trouble.down:
            return Health(True)  # committed within the bound, and nothing is waiting now
        if self._probe is None or self._probe.done():
            self._probe = asyncio.ensure_future(self._submit(lambda db: None))
            # Its outcome is read here or, when it outlives the bound, dropped.
            self._probe.add_done_callback(lambda f: f.cancelled() or f.exception())
        try:
            async with asyncio.timeout(bound):
                await asyncio.shield(self._probe)
        except TimeoutError:
            return Health(False, f"no write committed within {bound:g} s: "
                          f"{self.trouble.reason or 'the database is locked or the disk slow'}",
                          self.trouble.down_for() or bound)
        except Unavailable as exc:
            return Health(False, exc.reason, self.trouble.down_for())
        except Exception as exc:
            return Health(False, f"the probe write failed ({type(exc).__name__})", None)
        return Health(True)

    # --- the writer --------------------------------------------------------------------------

    async def _submit(self, op: Callable[[sqlite3.Connection], T]) -> T:
        if not self.healthy:
            raise StoreClosed("the store is not accepting writes") from self._failure
        if self._queue.qsize() >= self._max_queue:
            if self._overload.fail("overloaded"):
                log.error("writes refused: %d are already waiting; clients are told to retry",
                          self._max_queue)
            raise Unavailable("the store is overloaded", RETRY_AFTER_MS)
        fut: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((op, fut))
        return await fut

    def _refused(self, reason: str, count: int) -> None:
        if self.trouble.fail(reason, count):
            log.error("writes refused: %s; clients are told to retry (error 'unavailable') "
                      "until it recovers", reason)

    def _committed(self) -> None:
        self._last_commit = self._monotonic()
        ended = self.trouble.recover()
        if ended is not None:
            log.warning("writes commit again, after %.1f s of %s (%d writes refused)",
                        ended.lasted, ended.reason, ended.refused)
        if self._overload.down and self._queue.qsize() < self._max_queue // 2:
            overloaded = self._overload.recover()
            if overloaded is not None:
                log.warning("writes accepted again after %.1f s of overload", overloaded.lasted)

    async def _write_loop(self) -> None:
        assert self._writer is not None
        try:
            while True:
                batch = [await self._queue.get()]
                while len(batch) < self._max_batch and not self._queue.empty():
                    batch.append(self._queue.get_nowait())
                ops = [op for op, _ in batch]
                started = self._batch_since = self._monotonic()
                try:
                    outcomes = await _in_thread(self._writer, self._run_batch, ops)
                except Exception as exc:  # the transaction as a whole failed: nothing committed
                    reason = unavailable_reason(exc)
                    if reason is None:
                        log.error("write transaction failed: %s", type(exc).__name__)
                        outcomes = [(False, exc)] * len(batch)
                    else:
                        self._refused(reason, len(batch))
                        outcomes = [(False, Unavailable(reason, RETRY_AFTER_MS))] * len(batch)
                else:
                    self._committed()
                    if self.on_batch is not None:
                        self.on_batch(len(batch), self._monotonic() - started)
                finally:
                    self._batch_since = None
                for (_, fut), (ok, value) in zip(batch, outcomes, strict=True):
                    if fut.done():
                        continue
                    if ok:
                        fut.set_result(value)
                    else:
                        fut.set_exception(value)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            self._failure = exc
            log.critical("store writer died", exc_info=exc)
            raise

    def _run_batch(self, db: sqlite3.Connection, ops: list[Op]) -> list[tuple[bool, Any]]:
        self._bound_wal(db)
        db.execute("BEGIN IMMEDIATE")
        outcomes: list[tuple[bool, Any]] = []
        try:
            for op in ops:
                db.execute("SAVEPOINT op")
                indexed = len(self._fts_rows)
                try:
                    outcomes.append((True, op(db)))
                    db.execute("RELEASE op")
                except Exception as exc:
                    if unavailable_reason(exc) is not None:
                        raise  # the store's trouble, not this write's: the batch fails
                    db.execute("ROLLBACK TO op")
                    db.execute("RELEASE op")
                    del self._fts_rows[indexed:]  # what the refused op wrote is not indexed
                    outcomes.append((False, exc))
            # The batch's messages, for the indexer (in the same transaction: none is missed).
            if self._fts_rows:
                db.executemany("INSERT INTO fts_pending VALUES (?, ?)", self._fts_rows)
            generation = db.execute(
                "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation' "
                "RETURNING value").fetchone()[0]
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        finally:
            self._fts_rows.clear()
        self._generation = int(generation)
        self.commits += 1
        return outcomes

    def _bound_wal(self, db: sqlite3.Connection) -> None:
        """Between two transactions: once the WAL has passed half its limit, copy it back and
        truncate it (TRUNCATE waits for readers and other processes' writers, at most
        ``_TRUNCATE_WAIT_MS``). Past half the limit one attempt is made per batch (after one
        that had to wait, none for a second); past the whole limit the writer keeps trying for
        up to its busy timeout before it writes on, so that no load can outrun the checkpoint.
        Only a reader that holds an old snapshot for longer can keep the log growing (said in
        the log, once)."""
        try:
            size = os.stat(self._wal_path).st_size
        except OSError:
            return
        if size < self.wal_limit // 2:
            return
        hard = size >= self.wal_limit
        if not hard and self._monotonic() < self._truncate_after:
            return
        started = self._monotonic()
        deadline = started + (self._busy_ms / 1000 if hard else 0)
        while True:
            attempt = self._monotonic()
            busy, why = self._truncate(db)
            if not busy:
                ended = self._wal_trouble.recover()
                if ended is not None:
                    log.warning("the WAL was truncated again after %.1f s", ended.lasted)
                return
            now = self._monotonic()
            if now >= deadline:
                break
            if now - attempt < 0.005:  # another checkpoint held its lock: try again shortly
                time.sleep(0.005)
        waited = self._monotonic() - started > 0.005
        self._truncate_after = self._monotonic() + (_TRUNCATE_RETRY if waited else 0)
        # Under half-limit pressure a busy attempt is ordinary (several processes checkpoint);
        # only a WAL that stays past its whole limit is worth telling.
        if hard and self._wal_trouble.fail(why):
            log.warning("the WAL (%d MB) is past its limit and could not be truncated: %s; "
                        "retrying", size // 1_000_000, why)

    def _truncate(self, db: sqlite3.Connection) -> tuple[bool, str]:
        db.execute(f"PRAGMA busy_timeout = {_TRUNCATE_WAIT_MS}")
        try:
            busy = bool(db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0])
        except sqlite3.Error as exc:
            return True, f"the checkpoint failed ({exc})"
        finally:
            db.execute(f"PRAGMA busy_timeout = {self._busy_ms}")
        return busy, "readers or another process kept it busy"

    # --- reads -------------------------------------------------------------------------------

    # --- for the store's own modules (api_tokens, webhooks…): the write path and the reader --

    @property
    def clock(self) -> Clock:
        return self._clock

    async def submit(self, op: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``op`` in the writer's next transaction (its own savepoint); see ``_submit``."""
        return await self._submit(op)

    async def read_all(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        return await self._all(sql, params)

    async def read_one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return await self._one(sql, params)

    def load_conversation(self, db: sqlite3.Connection, conversation_id: str) -> Conversation:
        """(Inside a write) the conversation as the writer sees it now."""
        return self._load_conversation(db, conversation_id)

    def append(self, db: sqlite3.Connection, conversation_id: str, client_msg_id: str | None,
               kind: Any, author_type: Any, author_id: str | None, author_name: str | None,
               body: str, now: int, data: dict[str, Any] | None = None) -> Message:
        """(Inside a write) append a message or event with the next seq; see ``_append``."""
        return self._append(db, conversation_id, client_msg_id, kind, author_type, author_id,
                            author_name, body, now, data)

    def load_visitor(self, db: sqlite3.Connection, visitor_id: str) -> Visitor | None:
        """(Inside a write) the visitor as the writer sees it now."""
        row = db.execute(
            f"SELECT id, site_id, name, email, {_VERIFIED}, attributes, user_agent, language, "
            "timezone, referrer FROM visitors v WHERE id = ?", (visitor_id,)).fetchone()
        return _visitor(row) if row else None

    async def _all(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        if self._reader is None:
            raise StoreClosed("the store is closed")
        try:
            return list(await self._reader.execute_fetchall(sql, params))
        except sqlite3.Error as exc:
            reason = unavailable_reason(exc)
            if reason is None:
                raise
            raise Unavailable(reason, RETRY_AFTER_MS) from None

    async def _one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        rows = await self._all(sql, params)
        return rows[0] if rows else None

    async def site(self, site_id: str) -> Site | None:
        row = await self._one("SELECT * FROM sites WHERE id = ?", (site_id,))
        return _site(row) if row else None

    async def sites(self) -> list[Site]:
        return [_site(r) for r in await self._all("SELECT * FROM sites ORDER BY created_at, id")]

    async def agent(self, agent_id: str) -> Agent | None:
        row = await self._one(f"SELECT {_AGENT_COLS} FROM agents WHERE id = ?", (agent_id,))
        return _agent(row) if row else None

    async def agent_by_email(self, email: str) -> Agent | None:
        row = await self._one(f"SELECT {_AGENT_COLS} FROM agents WHERE email = ?",
                              (email.strip(),))
        return _agent(row) if row else None

    async def agents(self) -> list[Agent]:
        rows = await self._all(f"SELECT {_AGENT_COLS} FROM agents ORDER BY created_at, id")
        return [_agent(r) for r in rows]

    async def site_agents(self, site_ids: Sequence[str]) -> list[Agent]:
        """Active agents who work on any of these sites (admins work on all)."""
        marks = ",".join("?" * len(site_ids)) or "NULL"
        rows = await self._all(
            f"SELECT {_AGENT_COLS} FROM agents a WHERE a.active = 1 AND (a.role = 'admin' "
            "OR EXISTS (SELECT 1 FROM agent_sites s WHERE s.agent_id = a.id "
            f"AND s.site_id IN ({marks}))) "
            "ORDER BY a.name, a.id", tuple(site_ids),
        )
        return [_agent(r) for r in rows]

    async def agent_site_ids(self, agent: Agent) -> list[str]:
        if agent.role == "admin":
            rows = await self._all("SELECT id FROM sites ORDER BY id")
        else:
            rows = await self._all(
                "SELECT site_id FROM agent_sites WHERE agent_id = ? ORDER BY site_id", (agent.id,)
            )
        return [r[0] for r in rows]

    async def conversation(self, conversation_id: str) -> Conversation | None:
        row = await self._one(f"SELECT {_CONV_COLS} FROM {_CONV_FROM} WHERE c.id = ?",
                              (conversation_id,))
        return _conversation(row) if row else None

    async def current_conversation(self, visitor_id: str) -> Conversation | None:
        """The visitor's open conversation, else their most recent one, else None."""
        row = await self._one(
            f"SELECT {_CONV_COLS} FROM {_CONV_FROM} WHERE c.visitor_id = ? "
            "ORDER BY c.status = 'resolved', c.created_at DESC LIMIT 1",
            (visitor_id,),
        )
        return _conversation(row) if row else None

    async def open_conversations(self, site_ids: Sequence[str], limit: int = 500) -> list[
        Conversation
    ]:
        if not site_ids:
            return []
        marks = ",".join("?" * len(site_ids))
        rows = await self._all(
            f"SELECT {_CONV_COLS} FROM {_CONV_FROM} WHERE c.site_id IN ({marks}) "
            "AND c.status != 'resolved' ORDER BY c.created_at LIMIT ?",
            (*site_ids, limit),
        )
        return [_conversation(r) for r in rows]

    async def messages_after(self, conversation_id: str, after_seq: int, limit: int = 200) -> list[
        Message
    ]:
        rows = await self._all(
            f"SELECT {_MSG_COLS} FROM messages WHERE conversation_id = ? AND seq > ? "
            "ORDER BY seq LIMIT ?",
            (conversation_id, after_seq, limit),
        )
        return [_message(r) for r in rows]

    async def messages_before(self, conversation_id: str, before_seq: int, limit: int = 50) -> list[
        Message
    ]:
        rows = await self._all(
            f"SELECT {_MSG_COLS} FROM messages WHERE conversation_id = ? AND seq < ? "
            "ORDER BY seq DESC LIMIT ?",
            (conversation_id, before_seq, limit),
        )
        return [_message(r) for r in reversed(rows)]

    # --- writes: administration --------------------------------------------------------------

    def _now(self) -> int:
        return int(self._clock() * 1000)

    async def create_site(self, name: str, allowed_origins: Sequence[str]) -> Site:
        site = Site(self._ids("site"), name, tuple(allowed_origins), self._now())

        def op(db: sqlite3.Connection) -> Site:
            db.execute(
                "INSERT INTO sites(id, name, allowed_origins, created_at) VALUES (?, ?, ?, ?)",
                (site.id, site.name, orjson.dumps(list(site.allowed_origins)).decode(),
                 site.created_at),
            )
            return site

        return await self._submit(op)

    async def create_agent(
        self, email: str, name: str, password_hash: str, role: Role, site_ids: Sequence[str]
    ) -> Agent:
        agent = Agent(self._ids("agent"), email.strip(), name, password_hash, role, True, 0,
                      self._now())

        def op(db: sqlite3.Connection) -> Agent:
            try:
                db.execute(
                    "INSERT INTO agents(id, email, name, password_hash, role, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (agent.id, agent.email, agent.name, agent.password_hash, agent.role,
                     agent.created_at),
                )
                db.executemany(
                    "INSERT INTO agent_sites(agent_id, site_id) VALUES (?, ?)",
                    [(agent.id, s) for s in site_ids],
                )
            except sqlite3.IntegrityError as exc:
                raise ValueError(f"cannot create agent: {exc}") from None
            return agent

        return await self._submit(op)

    async def upsert_visitor(self, site_id: str, visitor_id: str, external_id: str,
                             name: str | None, email: str | None, *, signed: bool = False) -> None:
        """Record who a verified visitor is (what the site's backend vouched for).

        ``signed``: the name and email are covered by the signature (a JWT), and replace what
        was known. Otherwise only the user id is (the older hash): a name or email given beside
        it is kept as the visitor's own word, and the visitor no longer shows as verified while
        it is shown, unless signed values are already known (those are kept)."""
        now = self._now()

        def op(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT INTO visitors(id, site_id, created_at, external_id, verified) "
                "VALUES (?, ?, ?, ?, 1) ON CONFLICT(id) DO UPDATE SET "
                "external_id = excluded.external_id, verified = 1",
                (visitor_id, site_id, now, external_id))
            if signed:
                db.execute("UPDATE visitors SET name = ?, email = ?, claims_signed = 1 "
                           "WHERE id = ?", (name, email, visitor_id))
            elif name is not None or email is not None:
                db.execute("UPDATE visitors SET name = coalesce(?, name), "
                           "email = coalesce(?, email), claims_signed = 0 "
                           "WHERE id = ? AND claims_signed = 0", (name, email, visitor_id))

        await self._submit(op)

    # --- writes: the conversation ------------------------------------------------------------

    async def append_visitor_message(
        self, site_id: str, visitor_id: str, client_msg_id: str, body: str,
        attachment_id: str | None = None,
    ) -> Change:
        """Append to the visitor's open conversation, opening one if there is none.

        Idempotent on ``client_msg_id`` per visitor: a resend returns the stored message with
        ``duplicate=True``; the same id with another body raises ``id_conflict``.
        """
        now = self._now()

        def op(db: sqlite3.Connection) -> Change:
            # Through the visitor's conversations and the one unique index on (conversation,
            # client id): a second index on (author, client id) for this alone cost a random
            # page in every commit (docs/benchmarks.md).
            old = db.execute(
                f"SELECT {_MSG_COLS} FROM messages WHERE conversation_id IN (SELECT id FROM "
                "conversations WHERE visitor_id = ?) AND client_msg_id = ? "
                "AND author_type = 'visitor'",
                (visitor_id, client_msg_id),
            ).fetchone()
            if old is not None:
                return self._duplicate(db, _message(old), body)
            _ensure_visitor(db, site_id, visitor_id, now)
            row = db.execute(
                "SELECT id FROM conversations WHERE visitor_id = ? AND status != 'resolved'",
                (visitor_id,),
            ).fetchone()
            created = row is None
            conversation_id = self._ids("conv") if created else row[0]
            if created:
                db.execute(
                    "INSERT INTO conversations(id, site_id, visitor_id, status, created_at, "
                    "updated_at) VALUES (?, ?, ?, 'waiting', ?, ?)",
                    (conversation_id, site_id, visitor_id, now, now),
                )
            data = self._attachment_data(db, attachment_id, visitor_id)
            # (A snoozed conversation comes back as soon as the visitor writes: _append.)
            message = self._append(db, conversation_id, client_msg_id, "text", "visitor",
                                   visitor_id, None, body or _file_name(data), now, data)
            return Change(self._load_conversation(db, conversation_id), (message,), created)

        return await self._submit(op)

    async def append_agent_message(
        self, agent: Agent, site_ids: Sequence[str], conversation_id: str, client_msg_id: str,
        body: str, attachment_id: str | None = None,
    ) -> Change:
        """An agent's reply. A reply to a waiting conversation claims it first (the ``joined``
        event comes before the reply); a conversation assigned to someone else is refused."""
        now = self._now()

        def op(db: sqlite3.Connection) -> Change:
            conv = self._authorized(db, conversation_id, site_ids)
            old = db.execute(
                f"SELECT {_MSG_COLS} FROM messages WHERE conversation_id = ? AND client_msg_id = ?",
                (conversation_id, client_msg_id),
            ).fetchone()
            if old is not None:
                if old[5] != agent.id:
                    raise ChatError(Code.ID_CONFLICT, "that id was used for another message")
                return self._duplicate(db, _message(old), body)
            if conv.status == "resolved":
                raise ChatError(Code.RESOLVED, "the conversation is resolved")
            appended: list[Message] = []
            if conv.assignee_id is None:
                appended.extend(self._claim(db, conv, agent.id, agent.name, now))
            elif conv.assignee_id != agent.id:
                raise ChatError(Code.NOT_ASSIGNEE, "the conversation is assigned to someone else")
            data = self._attachment_data(db, attachment_id, agent.id)
            appended.append(self._append(db, conversation_id, client_msg_id, "text", "agent",
                                         agent.id, agent.name, body or _file_name(data), now,
                                         data))
            return Change(self._load_conversation(db, conversation_id), tuple(appended))

        return await self._submit(op)

    async def claim(self, agent: Agent, site_ids: Sequence[str], conversation_id: str) -> Change:
        """Compare-and-set: exactly one agent wins a waiting conversation. Claiming one's own
        conversation again is a no-op; anyone else's raises ``already_claimed``."""
        now = self._now()

        def op(db: sqlite3.Connection) -> Change:
            conv = self._authorized(db, conversation_id, site_ids)
            if conv.assignee_id == agent.id:
                return Change(conv, (), duplicate=True)
            if conv.status == "resolved":
                raise ChatError(Code.RESOLVED, "the conversation is resolved")
            events = self._claim(db, conv, agent.id, agent.name, now)
            return Change(self._load_conversation(db, conversation_id), tuple(events))

        return await self._submit(op)

    async def resolve(self, agent: Agent, site_ids: Sequence[str], conversation_id: str) -> Change:
        """By the assignee or an admin; a waiting conversation may be resolved by any agent of
        the site (spam, or already answered elsewhere). Resolving twice is a no-op."""
        now = self._now()

        def op(db: sqlite3.Connection) -> Change:
            conv = self._authorized(db, conversation_id, site_ids)
            if conv.status == "resolved":
                return Change(conv, (), duplicate=True)
            if conv.assignee_id not in (None, agent.id) and agent.role != "admin":
                raise ChatError(Code.NOT_ASSIGNEE, "the conversation is assigned to someone else")
            db.execute(
                "UPDATE conversations SET status = 'resolved', resolved_at = ?, updated_at = ? "
                "WHERE id = ?",
                (now, now, conversation_id),
            )
            event = self._append(db, conversation_id, None, "resolved", "agent", agent.id,
                                 agent.name, "", now)
            return Change(self._load_conversation(db, conversation_id), (event,))

        return await self._submit(op)

    async def transfer(self, agent: Agent, site_ids: Sequence[str], conversation_id: str,
                       to_agent_id: str, note: str | None = None) -> Change:
        """Hand an open conversation to another active agent of its site (the assignee or an
        admin may; a waiting conversation may be handed by any agent of the site)."""
        now = self._now()

        def op(db: sqlite3.Connection) -> Change:
            conv = self._authorized(db, conversation_id, site_ids)
            if conv.status == "resolved":
                raise ChatError(Code.RESOLVED, "the conversation is resolved")
            if conv.assignee_id == to_agent_id:  # done already (a resend after a lost ack)
                return Change(conv, (), duplicate=True)
            # (Any agent of the site may take a conversation over from its bot.)
            if (conv.assignee_id not in (None, agent.id) and agent.role != "admin"
                    and not conv.assignee_id.startswith("bot_")):
                raise ChatError(Code.NOT_ASSIGNEE, "the conversation is assigned to someone else")
            target = db.execute(
                "SELECT a.id, a.name FROM agents a WHERE a.id = ? AND a.active = 1 AND "
                "(a.role = 'admin' OR EXISTS (SELECT 1 FROM agent_sites s "
                "WHERE s.agent_id = a.id AND s.site_id = ?))",
                (to_agent_id, conv.site_id),
            ).fetchone()
            if target is None:
                raise ChatError(Code.NOT_FOUND, "no such agent for this site")
            if conv.assignee_id == target[0]:
                return Change(conv, (), duplicate=True)
            db.execute(
                "UPDATE conversations SET status = 'assigned', assignee_id = ?, updated_at = ? "
                "WHERE id = ?", (target[0], now, conversation_id),
            )
            events = []
            if note:  # for the colleague taking over; never for the visitor
                events.append(self._append(db, conversation_id, None, "note", "agent", agent.id,
                                           agent.name, note, now))
            events.append(self._append(db, conversation_id, None, "transferred", "agent",
                                       target[0], target[1], "", now))
            return Change(self._load_conversation(db, conversation_id), tuple(events))

        return await self._submit(op)

    # --- the widget: profile, attributes, receipts, ratings, attachments -------------------

    async def set_site_profile(self, site_id: str, **changes: Any) -> Site:
        """Change what the site shows visitors (``server.site_profile.change`` checks it)."""

        def op(db: sqlite3.Connection) -> Site:
            row = db.execute("SELECT * FROM sites WHERE id = ?", (site_id,)).fetchone()
            if row is None:
                raise ValueError(f"no such site: {site_id}")
            profile = site_profile.change(_site(row).profile, **changes)
            db.execute("UPDATE sites SET settings = ? WHERE id = ?",
                       (orjson.dumps(profile.to_json()).decode(), site_id))
            return _site(db.execute("SELECT * FROM sites WHERE id = ?", (site_id,)).fetchone())

        return await self._submit(op)

    async def visitor(self, visitor_id: str) -> Visitor | None:
        row = await self._one(
            f"SELECT id, site_id, name, email, {_VERIFIED}, attributes, user_agent, language, "
            "timezone, referrer FROM visitors v WHERE id = ?",
            (visitor_id,))
        return _visitor(row) if row else None

    async def set_visitor_profile(self, site_id: str, visitor_id: str, name: str | None,
                                  email: str | None) -> Conversation | None:
        """What a visitor typed into the pre-chat or offline form. A verified visitor's name and
        email come from the site's backend and are not overwritten. Returns the visitor's open
        conversation (its summary changed), if any."""
        now = self._now()

        def op(db: sqlite3.Connection) -> Conversation | None:
            _ensure_visitor(db, site_id, visitor_id, now)
            db.execute(
                "UPDATE visitors SET name = coalesce(?, name), email = coalesce(?, email) "
                "WHERE id = ? AND verified = 0", (name, email, visitor_id))
            if self.on_visitor is not None:
                self.on_visitor(db, site_id, visitor_id)
            row = db.execute("SELECT id FROM conversations WHERE visitor_id = ? "
                             "AND status != 'resolved'", (visitor_id,)).fetchone()
            return self._load_conversation(db, row[0]) if row else None

        return await self._submit(op)

    async def set_visitor_attributes(self, site_id: str, visitor_id: str,
                                     attributes: dict[str, Any]) -> None:
        """Merge custom attributes the site sent (``LiveChat('set', …)``); a null removes one."""
        now = self._now()

        def op(db: sqlite3.Connection) -> None:
            _ensure_visitor(db, site_id, visitor_id, now)
            known = orjson.loads(db.execute("SELECT attributes FROM visitors WHERE id = ?",
                                            (visitor_id,)).fetchone()[0])
            for key, value in attributes.items():
                if value is None:
                    known.pop(key, None)
                else:
                    known[key] = value
            if len(known) > _MAX_ATTRIBUTES:
                raise ChatError(Code.TOO_MANY, f"at most {_MAX_ATTRIBUTES} attributes")
            db.execute("UPDATE visitors SET attributes = ? WHERE id = ?",
                       (orjson.dumps(known).decode(), visitor_id))
            if self.on_visitor is not None:
                self.on_visitor(db, site_id, visitor_id)

        await self._submit(op)

    async def mark_read(self, conversation_id: str, reader: str, seq: int) -> int | None:
        """The visitor or an agent (``reader``) has seen up to ``seq``. Returns the new read
        mark when it moved forward, else None (receipts only ever move forward)."""
        column = {"visitor": "visitor_read_seq", "agent": "agent_read_seq"}[reader]

        def op(db: sqlite3.Connection) -> int | None:
            row = db.execute(
                f"UPDATE conversations SET {column} = min(?, last_seq) "
                f"WHERE id = ? AND {column} < min(?, last_seq) RETURNING {column}",
                (seq, conversation_id, seq),
            ).fetchone()
            if row is None:
                return None
            if reader == "agent":  # what is left unseen: usually nothing, a short range
                db.execute(
                    "UPDATE conversations SET unread = (SELECT count(*) FROM messages m "
                    "WHERE m.conversation_id = ? AND m.seq > ? AND m.author_type = 'visitor' "
                    "AND m.kind = 'text') WHERE id = ?", (conversation_id, row[0], conversation_id))
            return int(row[0])

        return await self._submit(op)

    async def rate(self, visitor_id: str, conversation_id: str, score: int,
                   comment: str | None) -> Change:
        """The visitor's satisfaction with a resolved conversation, once. The same rating sent
        again is a duplicate; a different one is refused."""
        now = self._now()

        def op(db: sqlite3.Connection) -> Change:
            conv = self._load_conversation_or_none(db, conversation_id)
            if conv is None or conv.visitor_id != visitor_id:
                raise ChatError(Code.NOT_FOUND, "no such conversation")
            if conv.status != "resolved":
                raise ChatError(Code.NOT_RESOLVED, "rate a conversation once it is resolved")
            if conv.rating is not None:
                if (conv.rating, conv.rating_comment) == (score, comment):
                    return Change(conv, (), duplicate=True)
                raise ChatError(Code.ALREADY_RATED, "this conversation is already rated")
            db.execute("UPDATE conversations SET rating = ?, rating_comment = ? WHERE id = ?",
                       (score, comment, conversation_id))
            event = self._append(db, conversation_id, None, "rated", "visitor", visitor_id, None,
                                 comment or "", now, {"score": score})
            return Change(self._load_conversation(db, conversation_id), (event,))

        return await self._submit(op)

    async def add_attachment(self, site_id: str, uploader_id: str, name: str, content_type: str,
                             size: int, attachment_id: str) -> Attachment:
        attachment = Attachment(attachment_id, site_id, uploader_id, name, content_type, size,
                                self._now())

        def op(db: sqlite3.Connection) -> Attachment:
            db.execute(f"INSERT INTO attachments({_ATTACHMENT_COLS}) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (attachment.id, attachment.site_id, attachment.uploader_id,
                        attachment.name, attachment.content_type, attachment.size,
                        attachment.created_at))
            return attachment

        return await self._submit(op)

    async def attachment(self, attachment_id: str) -> Attachment | None:
        row = await self._one(f"SELECT {_ATTACHMENT_COLS} FROM attachments WHERE id = ?",
                              (attachment_id,))
        return _attachment(row) if row else None

    async def uploaded_bytes(self, uploader_id: str) -> int:
        """What one uploader keeps stored (for the per-visitor quota)."""
        row = await self._one("SELECT coalesce(sum(size), 0) FROM attachments "
                              "WHERE uploader_id = ?", (uploader_id,))
        return int(row[0])

    async def drop_unattached(self, before: int) -> list[str]:
        """Forget uploads never sent in a message and made before ``before`` (ms); their ids,
        for the caller to delete the files (each id is returned to one caller only)."""
        if await self._one("SELECT 1 FROM attachments WHERE attached_at IS NULL "
                           "AND created_at < ? LIMIT 1", (before,)) is None:
            return []

        def op(db: sqlite3.Connection) -> list[str]:
            rows = db.execute("DELETE FROM attachments WHERE attached_at IS NULL AND "
                              "created_at < ? RETURNING id", (before,)).fetchall()
            return [r[0] for r in rows]

        return await self._submit(op)

    # --- the panel: notes, tags, reopen, canned responses, lists, visitor context -----------

    async def add_note(self, agent: Agent, site_ids: Sequence[str], conversation_id: str,
                       client_msg_id: str, body: str) -> Change:
        """An internal note: in the conversation's sequence for agents, never sent to the
        visitor (server/hub.py). Any agent of the site may write one, in any state."""
        now = self._now()

        def op(db: sqlite3.Connection) -> Change:
            self._authorized(db, conversation_id, site_ids)
            old = db.execute(
                f"SELECT {_MSG_COLS} FROM messages WHERE conversation_id = ? AND client_msg_id = ?",
                (conversation_id, client_msg_id),
            ).fetchone()
            if old is not None:
                if old[5] != agent.id or old[3] != "note":
                    raise ChatError(Code.ID_CONFLICT, "that id was used for another message")
                return self._duplicate(db, _message(old), body)
            note = self._append(db, conversation_id, client_msg_id, "note", "agent", agent.id,
                                agent.name, body, now)
            return Change(self._load_conversation(db, conversation_id), (note,))

        return await self._submit(op)

    async def set_tag(self, site_ids: Sequence[str], conversation_id: str, tag: str,
                      on: bool) -> Conversation:
        """Add or remove one tag (tags are state, not events: no seq)."""
        now = self._now()

        def op(db: sqlite3.Connection) -> Conversation:
            self._authorized(db, conversation_id, site_ids)
            if on:
                if db.execute("SELECT count(*) FROM conversation_tags WHERE conversation_id = ?",
                              (conversation_id,)).fetchone()[0] >= _MAX_TAGS:
                    raise ChatError(Code.TOO_MANY, f"at most {_MAX_TAGS} tags")
                db.execute("INSERT OR IGNORE INTO conversation_tags VALUES (?, ?)",
                           (conversation_id, tag))
            else:
                db.execute("DELETE FROM conversation_tags WHERE conversation_id = ? AND tag = ?",
                           (conversation_id, tag))
            db.execute("UPDATE conversations SET updated_at = ? WHERE id = ?",
                       (now, conversation_id))
            return self._load_conversation(db, conversation_id)

        return await self._submit(op)

    async def reopen(self, agent: Agent, site_ids: Sequence[str], conversation_id: str) -> Change:
        """A resolved conversation becomes the reopening agent's again. Refused while the
        visitor has another open conversation (a visitor has one at a time)."""
        now = self._now()

        def op(db: sqlite3.Connection) -> Change:
            conv = self._authorized(db, conversation_id, site_ids)
            if conv.status != "resolved":
                return Change(conv, (), duplicate=True)
            busy = db.execute("SELECT 1 FROM conversations WHERE visitor_id = ? AND status != "
                              "'resolved'", (conv.visitor_id,)).fetchone()
            if busy:
                raise ChatError(Code.ALREADY_OPEN,
                                "the visitor has another open conversation")
            db.execute(
                "UPDATE conversations SET status = 'assigned', assignee_id = ?, resolved_at = "
                "NULL, updated_at = ? WHERE id = ?", (agent.id, now, conversation_id))
            event = self._append(db, conversation_id, None, "reopened", "agent", agent.id,
                                 agent.name, "", now)
            return Change(self._load_conversation(db, conversation_id), (event,))

        return await self._submit(op)

    async def canned(self, agent: Agent, site_ids: Sequence[str]) -> list[Canned]:
        """The site-wide responses of these sites, and the agent's own."""
        if not site_ids:
            return []
        marks = ",".join("?" * len(site_ids))
        rows = await self._all(
            f"SELECT * FROM canned WHERE site_id IN ({marks}) AND (owner_id IS NULL OR "
            "owner_id = ?) ORDER BY shortcut, owner_id IS NULL, id", (*site_ids, agent.id))
        return [_canned(r) for r in rows]

    async def save_canned(self, agent: Agent, site_ids: Sequence[str], canned_id: str | None,
                          site_id: str, shortcut: str, body: str, shared: bool) -> Canned:
        """Create or change a canned response. Shared ones are the site admins' to manage."""
        now = self._now()
        if shared and agent.role != "admin":
            raise ChatError(Code.FORBIDDEN, "only admins manage shared responses")
        if site_id not in site_ids:
            raise ChatError(Code.NOT_FOUND, "no such site")
        owner = None if shared else agent.id

        def op(db: sqlite3.Connection) -> Canned:
            if canned_id is not None:
                self._own_canned(db, agent, site_ids, canned_id)
            new_id = canned_id or self._ids("canned")
            try:
                db.execute(
                    "INSERT INTO canned VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
                    "site_id = excluded.site_id, owner_id = excluded.owner_id, "
                    "shortcut = excluded.shortcut, body = excluded.body, "
                    "updated_at = excluded.updated_at",
                    (new_id, site_id, owner, shortcut, body, now))
            except sqlite3.IntegrityError:
                raise ChatError(Code.ID_CONFLICT, f"/{shortcut} is taken") from None
            return Canned(new_id, site_id, owner, shortcut, body, now)

        return await self._submit(op)

    async def delete_canned(self, agent: Agent, site_ids: Sequence[str], canned_id: str) -> None:
        def op(db: sqlite3.Connection) -> None:
            self._own_canned(db, agent, site_ids, canned_id)
            db.execute("DELETE FROM canned WHERE id = ?", (canned_id,))

        await self._submit(op)

    def _own_canned(self, db: sqlite3.Connection, agent: Agent, site_ids: Sequence[str],
                    canned_id: str) -> Canned:
        row = db.execute("SELECT * FROM canned WHERE id = ?", (canned_id,)).fetchone()
        canned = _canned(row) if row else None
        if canned is None or canned.site_id not in site_ids or (
                canned.owner_id is not None and canned.owner_id != agent.id):
            raise ChatError(Code.NOT_FOUND, "no such canned response")
        if canned.owner_id is None and agent.role != "admin":
            raise ChatError(Code.FORBIDDEN, "only admins manage shared responses")
        return canned

    async def conversation_list(self, site_ids: Sequence[str], *, status: str | None = None,
                                tag: str | None = None, before: tuple[int, str] | None = None,
                                limit: int = 50) -> list[Conversation]:
        """Conversations of these sites, newest activity first, a page at a time (``before``:
        the ``updated_at`` and ``id`` of the last one of the previous page)."""
        if not site_ids:
            return []
        marks = ",".join("?" * len(site_ids))
        where = [f"c.site_id IN ({marks})"]
        params: list[Any] = [*site_ids]
        if status is not None:
            where.append("c.status = ?")
            params.append(status)
        if tag is not None:
            where.append("EXISTS (SELECT 1 FROM conversation_tags t WHERE "
                         "t.conversation_id = c.id AND t.tag = ?)")
            params.append(tag)
        if before is not None:
            where.append("(c.updated_at < ? OR (c.updated_at = ? AND c.id < ?))")
            params.extend((before[0], before[0], before[1]))
        rows = await self._all(
            f"SELECT {_CONV_COLS} FROM {_CONV_FROM} WHERE {' AND '.join(where)} "
            "ORDER BY c.updated_at DESC, c.id DESC LIMIT ?", (*params, limit))
        return [_conversation(r) for r in rows]

    async def visitor_conversations(self, visitor_id: str, limit: int = 20) -> list[
        Conversation
    ]:
        rows = await self._all(
            f"SELECT {_CONV_COLS} FROM {_CONV_FROM} WHERE c.visitor_id = ? "
            "ORDER BY c.created_at DESC LIMIT ?", (visitor_id, limit))
        return [_conversation(r) for r in rows]

    async def set_visitor_context(self, site_id: str, visitor_id: str, *,
                                  user_agent: str | None, language: str | None,
                                  timezone: str | None, referrer: str | None,
                                  page: tuple[str, str] | None) -> None:
        """What the visitor's browser reports, and the page they are on (kept: the last 50)."""
        now = self._now()

        def op(db: sqlite3.Connection) -> None:
            _ensure_visitor(db, site_id, visitor_id, now)
            db.execute(
                "UPDATE visitors SET user_agent = coalesce(?, user_agent), "
                "language = coalesce(?, language), timezone = coalesce(?, timezone), "
                "referrer = coalesce(referrer, ?) WHERE id = ?",
                (user_agent, language, timezone, referrer, visitor_id))
            if page is None:
                return
            last = db.execute("SELECT url FROM visitor_pages WHERE visitor_id = ? "
                              "ORDER BY at DESC LIMIT 1", (visitor_id,)).fetchone()
            if last is not None and last[0] == page[0]:
                return  # a reload, or a second tab on the same page
            db.execute("INSERT OR IGNORE INTO visitor_pages VALUES (?, ?, ?, ?)",
                       (visitor_id, now, page[0], page[1]))
            db.execute(
                "DELETE FROM visitor_pages WHERE visitor_id = ? AND at < (SELECT at FROM "
                "visitor_pages WHERE visitor_id = ? ORDER BY at DESC LIMIT 1 OFFSET ?)",
                (visitor_id, visitor_id, _MAX_PAGES - 1))

        await self._submit(op)

    async def visitor_pages(self, visitor_id: str) -> list[Page]:
        rows = await self._all("SELECT url, title, at FROM visitor_pages WHERE visitor_id = ? "
                               "ORDER BY at DESC", (visitor_id,))
        return [Page(r[0], r[1], r[2]) for r in rows]

    async def snooze(self, site_ids: Sequence[str], conversation_id: str,
                     until: int | None) -> Conversation:
        """Out of the inbox until ``until`` (ms), or back now with None."""
        now = self._now()

        def op(db: sqlite3.Connection) -> Conversation:
            conv = self._authorized(db, conversation_id, site_ids)
            if conv.status == "resolved" and until is not None:
                raise ChatError(Code.RESOLVED, "the conversation is resolved")
            if until is not None and until <= now:
                raise ChatError(Code.BAD_FRAME, "snooze until a time in the future")
            db.execute("UPDATE conversations SET snoozed_until = ?, updated_at = ? WHERE id = ?",
                       (until, now, conversation_id))
            return self._load_conversation(db, conversation_id)

        return await self._submit(op)

    async def wake_snoozed(self) -> list[Conversation]:
        """Conversations whose snooze has run out, woken (each once, whichever process). A read
        first: the routers call this on every sweep, and usually nothing is due."""
        now = self._now()
        if await self._one("SELECT 1 FROM conversations WHERE snoozed_until <= ? LIMIT 1",
                           (now,)) is None:
            return []

        def op(db: sqlite3.Connection) -> list[Conversation]:
            rows = db.execute(
                "UPDATE conversations SET snoozed_until = NULL, updated_at = ? "
                "WHERE snoozed_until IS NOT NULL AND snoozed_until <= ? RETURNING id",
                (now, now)).fetchall()
            return [self._load_conversation(db, r[0]) for r in rows]

        return await self._submit(op)

    async def search(self, site_ids: Sequence[str], query: str, limit: int = 30) -> list[Hit]:
        """Messages and notes matching every word of ``query`` (prefixes too, accents
        ignored), and visitors by name or email, in these sites' conversations; newest first."""
        words = [w for w in query.split() if w][:8]
        if not words or not site_ids:
            return []
        await self.index_pending()  # every acknowledged message is found
        match = " ".join('"' + w.replace('"', '""') + '"*' for w in words)
        marks = ",".join("?" * len(site_ids))
        rows = await self._all(
            f"SELECT {_CONV_COLS}, messages_fts.seq, "
            "snippet(messages_fts, 0, '[', ']', '…', 12) FROM messages_fts "
            "JOIN conversations c ON c.id = messages_fts.conversation_id "
            "LEFT JOIN agents a ON a.id = c.assignee_id "
            "LEFT JOIN visitors v ON v.id = c.visitor_id "
            f"WHERE messages_fts MATCH ? AND c.site_id IN ({marks}) "
            "ORDER BY c.updated_at DESC, messages_fts.seq DESC LIMIT ?",
            (match, *site_ids, limit))
        hits = [Hit(_conversation(r), r[-2], r[-1]) for r in rows]
        escaped = query.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        like = f"%{escaped}%"
        people = await self._all(
            f"SELECT {_CONV_COLS} FROM {_CONV_FROM} WHERE c.site_id IN ({marks}) AND "
            "(v.name LIKE ? ESCAPE '\\' OR v.email LIKE ? ESCAPE '\\') "
            "ORDER BY c.updated_at DESC LIMIT ?", (*site_ids, like, like, limit))
        seen = {h.conversation.id for h in hits}
        hits += [Hit(_conversation(r), 0, r[10] or r[11] or "") for r in people
                 if r[0] not in seen]
        return hits[:limit]

    async def report_rows(self, site_ids: Sequence[str], start: int, end: int,
                          agent_id: str | None = None,
                          team_id: str | None = None) -> list[ReportRow]:
        """One row per conversation of these sites started in [start, end) (ms)."""
        if not site_ids:
            return []
        marks = ",".join("?" * len(site_ids))
        rows = await self._all(
            "SELECT c.id, c.site_id, c.created_at, c.first_assigned_at, "
            "(SELECT min(m.created_at) FROM messages m WHERE m.conversation_id = c.id "
            "AND m.author_type = 'agent' AND m.kind = 'text'), c.resolved_at, c.rating, "
            f"c.assignee_id FROM conversations c WHERE c.site_id IN ({marks}) "
            "AND c.created_at >= ? AND c.created_at < ? AND (? IS NULL OR c.assignee_id = ?) "
            "AND (? IS NULL OR c.team_id = ?) ORDER BY c.created_at",
            (*site_ids, start, end, agent_id, agent_id, team_id, team_id))
        return [ReportRow(*r) for r in rows]

    # --- administration: agents, teams -------------------------------------------------------

    async def update_agent(self, agent_id: str, *, name: str | None = None,
                           role: str | None = None, site_ids: Sequence[str] | None = None,
                           capacity: int | None = None, active: bool | None = None) -> Agent:
        """Change what is given. Deactivating ends every session of the agent (the session
        generation moves on, so their cookie stops working)."""
        if role not in (None, "admin", "agent"):
            raise ValueError("role is admin or agent")
        if capacity is not None and not 0 <= capacity <= 100:
            raise ValueError("capacity is 0 to 100")

        def op(db: sqlite3.Connection) -> Agent:
            row = db.execute(f"SELECT {_AGENT_COLS} FROM agents WHERE id = ?",
                             (agent_id,)).fetchone()
            if row is None:
                raise ValueError(f"no such agent: {agent_id}")
            for column, value in (("name", name), ("role", role), ("capacity", capacity)):
                if value is not None:
                    db.execute(f"UPDATE agents SET {column} = ? WHERE id = ?", (value, agent_id))
            if active is not None and active != bool(row[5]):
                db.execute("UPDATE agents SET active = ?, session_generation = "
                           "session_generation + 1 WHERE id = ?", (int(active), agent_id))
            if site_ids is not None:
                known = {r[0] for r in db.execute("SELECT id FROM sites")}
                if set(site_ids) - known:
                    raise ValueError("no such site")
                db.execute("DELETE FROM agent_sites WHERE agent_id = ?", (agent_id,))
                db.executemany("INSERT INTO agent_sites VALUES (?, ?)",
                               [(agent_id, s) for s in site_ids])
            return _agent(db.execute(f"SELECT {_AGENT_COLS} FROM agents WHERE id = ?",
                                     (agent_id,)).fetchone())

        return await self._submit(op)

    async def set_agent_avatar(self, agent_id: str, file: str | None,
                               content_type: str | None) -> tuple[Agent, str | None]:
        """The agent's picture is now ``file`` (None: none); the agent, and the file it
        replaced (for the caller to delete)."""

        def op(db: sqlite3.Connection) -> tuple[Agent, str | None]:
            row = db.execute("SELECT avatar_file FROM agents WHERE id = ?", (agent_id,)).fetchone()
            if row is None:
                raise ValueError(f"no such agent: {agent_id}")
            db.execute("UPDATE agents SET avatar_file = ?, avatar_type = ? WHERE id = ?",
                       (file, content_type, agent_id))
            agent = _agent(db.execute(f"SELECT {_AGENT_COLS} FROM agents WHERE id = ?",
                                      (agent_id,)).fetchone())
            return agent, row[0]

        return await self._submit(op)

    # --- the block list ----------------------------------------------------------------------

    async def note_visitor_ip(self, visitor_id: str, ip: str) -> None:
        """The address a visitor (with a row) last came from: what an address block blocks."""
        if (await self._one("SELECT 1 FROM visitors WHERE id = ? AND last_ip IS NOT ?",
                            (visitor_id, ip))) is None:
            return  # no row yet, or nothing new: no write

        def op(db: sqlite3.Connection) -> None:
            db.execute("UPDATE visitors SET last_ip = ? WHERE id = ?", (ip, visitor_id))

        await self._submit(op)

    async def block(self, agent: Agent, site_ids: Sequence[str], conversation_id: str, *,
                    until: int | None, address_until: int | None,
                    reason: str | None) -> list[Block]:
        """Block the conversation's visitor (until ``until`` ms, None: for good) and, when
        ``address_until`` is given, the address the visitor last came from until then."""
        now = self._now()

        def op(db: sqlite3.Connection) -> list[Block]:
            conv = self._authorized(db, conversation_id, site_ids)
            made = [self._ids("block")]
            db.execute("INSERT INTO blocks VALUES (?, ?, ?, NULL, ?, ?, ?, ?)",
                       (made[0], conv.site_id, conv.visitor_id, until, reason, agent.id, now))
            if address_until is not None:
                row = db.execute("SELECT last_ip FROM visitors WHERE id = ?",
                                 (conv.visitor_id,)).fetchone()
                if row is None or row[0] is None:
                    raise ChatError(Code.NOT_FOUND, "this visitor's address is not known")
                made.append(self._ids("block"))
                db.execute("INSERT INTO blocks VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                           (made[1], conv.site_id, conv.visitor_id, row[0], address_until,
                            reason, agent.id, now))
            return [self._load_block(db, block_id) for block_id in made]

        return await self._submit(op)

    @staticmethod
    def _load_block(db: sqlite3.Connection, block_id: str) -> Block:
        row = db.execute(f"SELECT {_BLOCK_COLS} FROM {_BLOCK_FROM} WHERE b.id = ?",
                         (block_id,)).fetchone()
        return _block(row)

    async def unblock(self, site_ids: Sequence[str], block_id: str) -> None:
        marks = ",".join("?" * len(site_ids)) or "NULL"

        def op(db: sqlite3.Connection) -> None:
            if db.execute(f"DELETE FROM blocks WHERE id = ? AND site_id IN ({marks})",
                          (block_id, *site_ids)).rowcount != 1:
                raise ChatError(Code.NOT_FOUND, "no such block")

        await self._submit(op)

    async def blocks(self, site_ids: Sequence[str]) -> list[Block]:
        """The blocks in force on these sites, newest first."""
        marks = ",".join("?" * len(site_ids)) or "NULL"
        rows = await self._all(
            f"SELECT {_BLOCK_COLS} FROM {_BLOCK_FROM} WHERE b.site_id IN ({marks}) "
            "AND (b.until IS NULL OR b.until > ?) ORDER BY b.created_at DESC, b.id",
            (*site_ids, self._now()))
        return [_block(r) for r in rows]

    async def blocked(self, site_id: str, visitor_id: str, ip: str) -> bool:
        """Whether this visitor, or anyone from this address, is blocked on the site now."""
        row = await self._one(
            "SELECT 1 FROM blocks WHERE site_id = ? AND (until IS NULL OR until > ?) AND "
            "((ip IS NULL AND visitor_id = ?) OR ip = ?) LIMIT 1",
            (site_id, self._now(), visitor_id, ip))
        return row is not None

    # --- agent sessions ---------------------------------------------------------------------

    async def create_session(self, agent_id: str, max_age: int) -> str:
        """A new signed-in session of the agent, valid ``max_age`` seconds (expired ones of
        every agent are deleted on the way)."""
        now = self._now()
        session_id = self._ids("sess")

        def op(db: sqlite3.Connection) -> str:
            db.execute("DELETE FROM agent_sessions WHERE expires_at <= ?", (now,))
            db.execute("INSERT INTO agent_sessions VALUES (?, ?, ?, ?)",
                       (session_id, agent_id, now, now + max_age * 1000))
            return session_id

        return await self._submit(op)

    async def session_agent(self, session_id: str) -> Agent | None:
        """The agent of a live session (not signed out, not expired), else None."""
        row = await self._one(
            "SELECT a.* FROM agent_sessions s JOIN agents a ON a.id = s.agent_id "
            "WHERE s.id = ? AND s.expires_at > ?", (session_id, self._now()))
        return _agent(row) if row else None

    async def end_session(self, session_id: str) -> None:
        def op(db: sqlite3.Connection) -> None:
            db.execute("DELETE FROM agent_sessions WHERE id = ?", (session_id,))

        await self._submit(op)

    async def end_sessions(self, agent_id: str) -> list[str]:
        """Sign the agent out everywhere; the ids of the sessions ended."""

        def op(db: sqlite3.Connection) -> list[str]:
            rows = db.execute("DELETE FROM agent_sessions WHERE agent_id = ? RETURNING id",
                              (agent_id,)).fetchall()
            return [r[0] for r in rows]

        return await self._submit(op)

    async def change_password(self, agent_id: str, password_hash: str) -> list[str]:
        """A new password: every session ends (the generation moves on, the rows go); the ids
        of the sessions ended."""

        def op(db: sqlite3.Connection) -> list[str]:
            if db.execute("UPDATE agents SET password_hash = ?, session_generation = "
                          "session_generation + 1 WHERE id = ? AND active = 1",
                          (password_hash, agent_id)).rowcount != 1:
                raise ValueError("no such active agent")
            rows = db.execute("DELETE FROM agent_sessions WHERE agent_id = ? RETURNING id",
                              (agent_id,)).fetchall()
            return [r[0] for r in rows]

        return await self._submit(op)

    async def set_password(self, agent_id: str, generation: int, password_hash: str) -> Agent:
        """Set a password with an invite (or reset) made for ``generation``; the generation
        moves on, so that the link works once and older sessions end."""

        def op(db: sqlite3.Connection) -> Agent:
            cur = db.execute(
                "UPDATE agents SET password_hash = ?, session_generation = session_generation + 1 "
                "WHERE id = ? AND session_generation = ? AND active = 1",
                (password_hash, agent_id, generation))
            if cur.rowcount != 1:
                raise ValueError("this link was used already, or the account is inactive")
            db.execute("DELETE FROM agent_sessions WHERE agent_id = ?", (agent_id,))
            return _agent(db.execute(f"SELECT {_AGENT_COLS} FROM agents WHERE id = ?",
                                     (agent_id,)).fetchone())

        return await self._submit(op)

    async def agent_sites(self) -> dict[str, list[str]]:
        """Agent id -> the sites they are given (admins work on all, whatever is listed)."""
        out: dict[str, list[str]] = {}
        for agent_id, site_id in await self._all(
                "SELECT agent_id, site_id FROM agent_sites ORDER BY site_id"):
            out.setdefault(agent_id, []).append(site_id)
        return out

    async def teams(self, site_ids: Sequence[str] | None = None) -> list[Team]:
        """Teams of these sites (None: every site's)."""
        where, params = "", tuple(site_ids or ())
        if site_ids is not None:
            where = f"WHERE t.site_id IN ({','.join('?' * len(site_ids)) or 'NULL'})"
            params = tuple(site_ids)
        rows = await self._all(
            "SELECT t.id, t.name, (SELECT group_concat(agent_id, ',') FROM team_members m "
            f"WHERE m.team_id = t.id), t.site_id FROM teams t {where} ORDER BY t.name, t.site_id",
            params)
        return [Team(r[0], r[1], tuple(sorted(r[2].split(","))) if r[2] else (), r[3])
                for r in rows]

    async def save_team(self, team_id: str | None, name: str, members: Sequence[str],
                        site_id: str | None = None) -> Team:
        """Create a team of ``site_id`` (required for a new team), or change one (its site stays).
        Members must work on the team's site (admins work on every site)."""
        name = name.strip()
        if not 0 < len(name) <= 60:
            raise ValueError("a team name is 1 to 60 characters")
        if team_id is None and not site_id:
            raise ValueError("a team needs a site")
        now = self._now()

        def op(db: sqlite3.Connection) -> Team:
            tid = team_id or self._ids("team")
            site = site_id
            if team_id is not None:
                row = db.execute("SELECT site_id FROM teams WHERE id = ?", (team_id,)).fetchone()
                if row is None:
                    raise ValueError(f"no such team: {team_id}")
                site = row[0]
            elif db.execute("SELECT 1 FROM sites WHERE id = ?", (site,)).fetchone() is None:
                raise ValueError("no such site")
            known = {r[0] for r in db.execute(
                "SELECT a.id FROM agents a WHERE a.role = 'admin' OR EXISTS (SELECT 1 FROM "
                "agent_sites s WHERE s.agent_id = a.id AND s.site_id = ?)", (site,))}
            if set(members) - known:
                raise ValueError("every member must be an agent of the team's site")
            try:
                db.execute("INSERT INTO teams(id, site_id, name, created_at) VALUES (?, ?, ?, ?) "
                           "ON CONFLICT(id) DO UPDATE SET name = excluded.name",
                           (tid, site, name, now))
            except sqlite3.IntegrityError:
                raise ValueError(f"this site has a team called {name!r}") from None
            db.execute("DELETE FROM team_members WHERE team_id = ?", (tid,))
            db.executemany("INSERT INTO team_members VALUES (?, ?)",
                           [(tid, m) for m in sorted(set(members))])
            return Team(tid, name, tuple(sorted(set(members))), str(site))

        return await self._submit(op)

    async def delete_team(self, team_id: str) -> None:
        def op(db: sqlite3.Connection) -> None:
            db.execute("UPDATE conversations SET team_id = NULL WHERE team_id = ?", (team_id,))
            db.execute("DELETE FROM team_members WHERE team_id = ?", (team_id,))
            if db.execute("DELETE FROM teams WHERE id = ?", (team_id,)).rowcount != 1:
                raise ValueError(f"no such team: {team_id}")

        await self._submit(op)

    async def assign_team(self, site_ids: Sequence[str], conversation_id: str,
                          team_id: str | None) -> Conversation:
        now = self._now()

        def op(db: sqlite3.Connection) -> Conversation:
            conv = self._authorized(db, conversation_id, site_ids)
            if team_id is not None and db.execute(
                    "SELECT 1 FROM teams WHERE id = ? AND site_id = ?",
                    (team_id, conv.site_id)).fetchone() is None:
                raise ChatError(Code.NOT_FOUND, "no such team on this conversation's site")
            db.execute("UPDATE conversations SET team_id = ?, updated_at = ? WHERE id = ?",
                       (team_id, now, conversation_id))
            return self._load_conversation(db, conversation_id)

        return await self._submit(op)

    # --- routing -----------------------------------------------------------------------------

    async def set_site_options(
        self, site_id: str, *, auto_assign: bool | None = None,
        identity_secret: str | None = None, identity_mode: str | None = None,
        allowed_origins: Sequence[str] | None = None, name: str | None = None,
    ) -> Site:
        """Change what is given; ``identity_secret=""`` removes the secret."""
        if name is not None and not 0 < len(name.strip()) <= 100:
            raise ValueError("a site name is 1 to 100 characters")
        if allowed_origins is not None:
            bad = [o for o in allowed_origins if normalize_origin(o) is None]
            if bad:
                raise ValueError(f"not an origin (scheme://host[:port]): {bad[0]}")
        if identity_mode not in (None, "optional", "mandatory"):
            raise ValueError("identity mode is optional or mandatory")

        def op(db: sqlite3.Connection) -> Site:
            if db.execute("SELECT 1 FROM sites WHERE id = ?", (site_id,)).fetchone() is None:
                raise ValueError(f"no such site: {site_id}")
            if auto_assign is not None:
                db.execute("UPDATE sites SET auto_assign = ? WHERE id = ?",
                           (int(auto_assign), site_id))
            if identity_secret is not None:
                db.execute("UPDATE sites SET identity_secret = ? WHERE id = ?",
                           (identity_secret or None, site_id))
            if identity_mode is not None:
                db.execute("UPDATE sites SET identity_mode = ? WHERE id = ?",
                           (identity_mode, site_id))
            if name is not None:
                db.execute("UPDATE sites SET name = ? WHERE id = ?", (name.strip(), site_id))
            if allowed_origins is not None:
                db.execute("UPDATE sites SET allowed_origins = ? WHERE id = ?",
                           (orjson.dumps(list(allowed_origins)).decode(), site_id))
            site = _site(db.execute("SELECT * FROM sites WHERE id = ?", (site_id,)).fetchone())
            if site.identity_mode == "mandatory" and not site.identity_secret:
                raise ValueError("mandatory identity needs an identity secret")
            return site

        return await self._submit(op)

    async def set_agent_capacity(self, agent_id: str, capacity: int) -> None:
        if capacity < 0:
            raise ValueError("capacity cannot be negative")

        def op(db: sqlite3.Connection) -> None:
            if db.execute("UPDATE agents SET capacity = ? WHERE id = ?",
                          (capacity, agent_id)).rowcount != 1:
                raise ValueError(f"no such agent: {agent_id}")

        await self._submit(op)

    async def assign_waiting(self, site_id: str, online_agent_ids: Sequence[str],
                             choose: Choose) -> list[Change]:
        """Assign the site's waiting conversations, oldest first, to online agents with room as
        ``choose`` (``server.routing.choose``) picks, in one transaction: capacity holds however
        many conversations and processes race."""
        now = self._now()

        def op(db: sqlite3.Connection) -> list[Change]:
            site = db.execute("SELECT auto_assign FROM sites WHERE id = ?", (site_id,)).fetchone()
            if site is None or not site[0] or not online_agent_ids:
                return []
            marks = ",".join("?" * len(online_agent_ids))
            rows = db.execute(
                f"SELECT a.id, a.name, a.capacity, a.last_assigned_at, "
                f"(SELECT count(*) FROM conversations c WHERE c.assignee_id = a.id "
                f"AND c.status = 'assigned') FROM agents a WHERE a.id IN ({marks}) "
                f"AND a.active = 1 AND (a.role = 'admin' OR EXISTS (SELECT 1 FROM agent_sites s "
                f"WHERE s.agent_id = a.id AND s.site_id = ?))",
                (*online_agent_ids, site_id),
            ).fetchall()
            loads = {r[0]: Load(r[0], r[4], r[2], r[3]) for r in rows}
            names = {r[0]: r[1] for r in rows}
            changes: list[Change] = []
            waiting = db.execute(
                "SELECT id, visitor_id FROM conversations WHERE site_id = ? AND status = 'waiting' "
                "ORDER BY created_at, id", (site_id,),
            ).fetchall()
            for conversation_id, visitor_id in waiting:
                last = db.execute(
                    "SELECT assignee_id FROM conversations WHERE visitor_id = ? AND id != ? "
                    "AND assignee_id IS NOT NULL ORDER BY created_at DESC LIMIT 1",
                    (visitor_id, conversation_id),
                ).fetchone()
                chosen = choose(loads.values(), last[0] if last else None)
                if chosen is None:
                    break
                conv = self._load_conversation(db, conversation_id)
                events = self._claim(db, conv, chosen, names[chosen], now)
                db.execute("UPDATE agents SET last_assigned_at = ? WHERE id = ?", (now, chosen))
                old = loads[chosen]
                loads[chosen] = Load(chosen, old.active + 1, old.capacity, now)
                changes.append(Change(self._load_conversation(db, conversation_id),
                                      tuple(events)))
            return changes

        return await self._submit(op)

    async def assignees(self, site_id: str) -> set[str]:
        """Agents who have assigned (open) conversations on the site."""
        rows = await self._all(
            "SELECT DISTINCT assignee_id FROM conversations WHERE site_id = ? "
            "AND status = 'assigned'", (site_id,),
        )
        return {r[0] for r in rows}

    async def requeue(self, site_id: str, agent_ids: Sequence[str]) -> list[Change]:
        """Return the site's open conversations assigned to these agents to the queue."""
        if not agent_ids:
            return []  # every sweep asks: no trip through the writer for nothing
        now = self._now()

        def op(db: sqlite3.Connection) -> list[Change]:
            marks = ",".join("?" * len(agent_ids))
            rows = db.execute(
                f"SELECT id FROM conversations WHERE site_id = ? AND status = 'assigned' "
                f"AND assignee_id IN ({marks})", (site_id, *agent_ids),
            ).fetchall()
            changes = []
            for (conversation_id,) in rows:
                db.execute(
                    "UPDATE conversations SET status = 'waiting', assignee_id = NULL, "
                    "updated_at = ? WHERE id = ?", (now, conversation_id),
                )
                event = self._append(db, conversation_id, None, "requeued", "system", None, None,
                                     "", now)
                changes.append(Change(self._load_conversation(db, conversation_id), (event,)))
            return changes

        return await self._submit(op)

    async def waiting(self, site_id: str) -> list[Conversation]:
        rows = await self._all(
            f"SELECT {_CONV_COLS} FROM {_CONV_FROM} WHERE c.site_id = ? AND c.status = 'waiting' "
            "ORDER BY c.created_at, c.id", (site_id,),
        )
        return [_conversation(r) for r in rows]

    async def outbox_backlog(self) -> dict[str, tuple[int, int | None]]:
        """Per durable outbox (``email``: email_jobs; ``webhook``: webhook_outbox), the jobs
        still to do and when the oldest of them was made (ms), for /metrics."""
        backlog: dict[str, tuple[int, int | None]] = {}
        for name, table in (("email", "email_jobs"), ("webhook", "webhook_outbox")):
            row = await self._one(f"SELECT count(*), min(created_at) FROM {table} "
                                  "WHERE state = 'pending'")
            backlog[name] = (int(row[0]), row[1])
        return backlog

    async def queue_position(self, site_id: str, conversation_id: str) -> int | None:
        """The place (1 = next) of a waiting conversation of the site in its queue, which is
        ``waiting``'s order; None when it is not waiting there. Counted, not listed: a visitor's
        hello asks this, and a thousand visitors may say hello at once."""
        row = await self._one(
            "SELECT 1 + (SELECT count(*) FROM conversations w WHERE w.site_id = c.site_id "
            "AND w.status = 'waiting' AND (w.created_at, w.id) < (c.created_at, c.id)) "
            "FROM conversations c WHERE c.id = ? AND c.site_id = ? AND c.status = 'waiting'",
            (conversation_id, site_id),
        )
        return int(row[0]) if row else None

    async def average_wait(self, site_id: str, recent: int = 50) -> float | None:
        """Seconds from a conversation's start to an agent joining, over the site's most recent
        ``recent`` joined conversations; None without any."""
        row = await self._one(
            "SELECT avg(wait) FROM (SELECT (first_assigned_at - created_at) / 1000.0 AS wait "
            "FROM conversations WHERE site_id = ? AND first_assigned_at IS NOT NULL "
            "ORDER BY created_at DESC LIMIT ?)", (site_id, recent),
        )
        return float(row[0]) if row and row[0] is not None else None

    # --- helpers run inside the writer's transaction ----------------------------------------

    def _load_conversation_or_none(self, db: sqlite3.Connection,
                                   conversation_id: str) -> Conversation | None:
        row = db.execute(f"SELECT {_CONV_COLS} FROM {_CONV_FROM} WHERE c.id = ?",
                         (conversation_id,)).fetchone()
        return _conversation(row) if row else None

    def _load_conversation(self, db: sqlite3.Connection, conversation_id: str) -> Conversation:
        conversation = self._load_conversation_or_none(db, conversation_id)
        assert conversation is not None, conversation_id
        return conversation

    def _authorized(
        self, db: sqlite3.Connection, conversation_id: str, site_ids: Sequence[str]
    ) -> Conversation:
        conversation = self._load_conversation_or_none(db, conversation_id)
        # Another site's conversation is "not found", so that ids cannot be probed.
        if conversation is None or conversation.site_id not in site_ids:
            raise ChatError(Code.NOT_FOUND, "no such conversation")
        return conversation

    def _duplicate(self, db: sqlite3.Connection, old: Message, body: str) -> Change:
        if old.body != body:
            raise ChatError(Code.ID_CONFLICT, "that id was used for another message")
        return Change(self._load_conversation(db, old.conversation_id), (old,), duplicate=True)

    def _claim(
        self, db: sqlite3.Connection, conv: Conversation, agent_id: str, agent_name: str, now: int
    ) -> list[Message]:
        cur = db.execute(
            "UPDATE conversations SET status = 'assigned', assignee_id = ?, updated_at = ?, "
            "first_assigned_at = coalesce(first_assigned_at, ?) "
            "WHERE id = ? AND assignee_id IS NULL AND status = 'waiting'",
            (agent_id, now, now, conv.id),
        )
        if cur.rowcount != 1:
            raise ChatError(Code.ALREADY_CLAIMED, "another agent has this conversation")
        return [self._append(db, conv.id, None, "joined", "agent", agent_id, agent_name, "", now)]

    def _append(
        self, db: sqlite3.Connection, conversation_id: str, client_msg_id: str | None, kind: Any,
        author_type: Any, author_id: str | None, author_name: str | None, body: str, now: int,
        data: dict[str, Any] | None = None,
    ) -> Message:
        # The next seq is read and written inside this transaction: gap-free and unique
        # (PRIMARY KEY (conversation_id, seq) would refuse a second writer's duplicate anyway).
        seq = db.execute(
            "SELECT last_seq + 1 FROM conversations WHERE id = ?", (conversation_id,)
        ).fetchone()[0]
        db.execute(
            f"INSERT INTO messages({_MSG_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (conversation_id, seq, client_msg_id, kind, author_type, author_id, author_name, body,
             now, orjson.dumps(data).decode() if data else None),
        )
        if kind in ("text", "note"):  # for the search indexer, once the batch's ops are done
            self._fts_rows.append((conversation_id, seq))
        if kind == "text":  # (a note is not what the inbox previews)
            # One statement: the visitor writing also counts as unseen, and ends a snooze.
            visitor = author_type == "visitor"
            db.execute(
                "UPDATE conversations SET last_seq = ?, visitor_seq = ?, updated_at = ?, "
                "last_message = ?, unread = unread + ?, snoozed_until = CASE WHEN ? THEN NULL "
                "ELSE snoozed_until END WHERE id = ?",
                (seq, seq, now, body[:_PREVIEW_CHARS], int(visitor), visitor, conversation_id),
            )
        elif kind in PRIVATE_KINDS:  # the visitor's view does not move
            db.execute("UPDATE conversations SET last_seq = ?, updated_at = ? WHERE id = ?",
                       (seq, now, conversation_id))
        else:
            db.execute("UPDATE conversations SET last_seq = ?, visitor_seq = ?, updated_at = ? "
                       "WHERE id = ?", (seq, seq, now, conversation_id))
        message = Message(conversation_id, seq, client_msg_id, kind, author_type, author_id,
                          author_name, body, now, data)
        if self.on_append is not None:
            self.on_append(db, message)
        for hook in self.append_hooks:
            hook(db, message)
        return message

    def _attachment_data(self, db: sqlite3.Connection, attachment_id: str | None,
                         uploader_id: str) -> dict[str, Any] | None:
        """The message data for an attachment its sender uploaded; anyone else's is unknown."""
        if attachment_id is None:
            return None
        row = db.execute(f"SELECT {_ATTACHMENT_COLS} FROM attachments WHERE id = ? "
                         "AND uploader_id = ?", (attachment_id, uploader_id)).fetchone()
        if row is None:
            raise ChatError(Code.NOT_FOUND, "no such attachment")
        # Sent: kept from now on (uploads never sent are deleted after the grace period).
        db.execute("UPDATE attachments SET attached_at = coalesce(attached_at, ?) WHERE id = ?",
                   (self._now(), attachment_id))
        return {"attachment": _attachment(row).public()}
