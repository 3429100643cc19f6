"""What every part of the store is built on, whichever database is under it.

A write is a plain function of a DB-API connection (``op(db)``), run by the engine inside one
transaction shared with whatever other writes were queued with it (group commit): on SQLite by
``server.store.sqlite``, on PostgreSQL by ``server.store.postgres``. The SQL of every op and
read is written once, in the dialect both databases share; the engines differ only in how they
run it (the PostgreSQL connection rewrites the placeholders and one aggregate function, see
``server.store.pg_connection.translate``) and in the few places a database needs its own words,
which ask ``dialect(db)`` (row locks, search).

The row converters and the helpers that run inside a write's transaction (appending a message
with its ``seq``, a compare-and-set claim, loading a conversation) are here, for every aggregate
to share.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import orjson
import psycopg

from server import site_profile
from server.errors import ChatError, Code, Unavailable
from server.store.models import (
    PRIVATE_KINDS,
    Agent,
    Attachment,
    Block,
    Canned,
    Change,
    Conversation,
    Load,
    Message,
    Site,
    Visitor,
    is_bot,
)

if TYPE_CHECKING:
    from server.store.articles import Articles

T = TypeVar("T")
Clock = Callable[[], float]
Ids = Callable[[str], str]
Choose = Callable[[Iterable[Load], str | None], str | None]
#: A refused write may be sent again after this long.
RETRY_AFTER_MS = 1000
#: A unique or foreign key refused a write, whichever database said so.
INTEGRITY: tuple[type[Exception], ...] = (sqlite3.IntegrityError, psycopg.IntegrityError)


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def __iter__(self) -> Iterator[Any]: ...


class DB(Protocol):
    """The connection a write runs on: ``sqlite3.Connection``, or the PostgreSQL writer's
    ``server.store.postgres.Connection`` (same calls, same ``?`` placeholders)."""

    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Cursor: ...
    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> Any: ...


Op = Callable[[DB], Any]


def dialect(db: DB) -> str:
    """``sqlite`` or ``postgresql``."""
    return str(getattr(db, "dialect", "sqlite"))


def for_update(db: DB) -> str:
    """Locks the rows a SELECT reads until the transaction ends (PostgreSQL; SQLite's one writer
    holds the whole database already)."""
    return " FOR UPDATE" if dialect(db) == "postgresql" else ""


def skip_locked(db: DB) -> str:
    """Like ``for_update``, skipping rows another machine's transaction holds: a sweep run by
    several machines at once takes each row once, and none waits for another."""
    return " FOR UPDATE SKIP LOCKED" if dialect(db) == "postgresql" else ""


class StoreClosed(Unavailable):
    """The store is closed, or its writer died; nothing more can be written."""

    def __init__(self, reason: str = "the store is closed") -> None:
        super().__init__(reason, RETRY_AFTER_MS)


#: Shown as verified: the site vouched for the visitor, and for every name or email shown.
VERIFIED = ("CASE WHEN v.verified = 1 AND (v.claims_signed = 1 OR "
            "(v.name IS NULL AND v.email IS NULL)) THEN 1 ELSE 0 END")
CONV_COLS = (
    "c.id, c.site_id, c.visitor_id, c.status, c.assignee_id, a.name, c.last_seq, c.last_message, "
    "c.created_at, c.updated_at, v.name, v.email, " + VERIFIED + ", c.visitor_read_seq, "
    "c.agent_read_seq, c.rating, c.rating_comment, "
    "(SELECT group_concat(t.tag, ',') FROM conversation_tags t WHERE t.conversation_id = c.id), "
    "c.unread, "
    "c.snoozed_until, c.team_id, (SELECT name FROM teams WHERE id = c.team_id), c.visitor_seq, "
    "c.queued_at"
)
CONV_FROM = (
    "conversations c LEFT JOIN agents a ON a.id = c.assignee_id "
    "LEFT JOIN visitors v ON v.id = c.visitor_id"
)
#: ``CONV_COLS`` as the ``RETURNING`` of an ``UPDATE conversations``: the summary as written,
#: without reading the row again (the joined names as subqueries).
CONV_RETURNING = (
    "id, site_id, visitor_id, status, assignee_id, "
    "(SELECT name FROM agents WHERE id = conversations.assignee_id), last_seq, last_message, "
    "created_at, updated_at, "
    "(SELECT name FROM visitors WHERE id = conversations.visitor_id), "
    "(SELECT email FROM visitors WHERE id = conversations.visitor_id), "
    "(SELECT " + VERIFIED + " FROM visitors v WHERE v.id = conversations.visitor_id), "
    "visitor_read_seq, agent_read_seq, rating, rating_comment, "
    "(SELECT group_concat(t.tag, ',') FROM conversation_tags t "
    "WHERE t.conversation_id = conversations.id), "
    "unread, snoozed_until, team_id, (SELECT name FROM teams WHERE id = conversations.team_id), "
    "visitor_seq, queued_at"
)
MSG_COLS = (
    "conversation_id, seq, client_msg_id, kind, author_type, author_id, author_name, body, "
    "created_at, data"
)
ATTACHMENT_COLS = "id, site_id, uploader_id, name, content_type, size, created_at"
#: Named, not ``*``: migrations of other features may add columns to agents in any order.
AGENT_COLS = ("id, email, name, password_hash, role, active, session_generation, created_at, "
              "capacity, last_assigned_at, avatar_file, avatar_type")
SITE_COLS = ("id, name, allowed_origins, created_at, auto_assign, identity_secret, "
             "identity_mode, settings, "
             "EXISTS (SELECT 1 FROM site_bots b WHERE b.site_id = sites.id)")
AGENT_COLS_A = ", ".join("a." + c.strip() for c in AGENT_COLS.split(","))
CANNED_COLS = "id, site_id, owner_id, shortcut, body, updated_at"
PREVIEW_CHARS = 140


def marks(values: Sequence[Any]) -> str:
    """``?, ?, ?`` for an ``IN (…)`` (``NULL`` for none: matches nothing)."""
    return ",".join("?" * len(values)) or "NULL"


def conv_row(row: Sequence[Any]) -> Conversation:
    return Conversation(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8],
                        row[9], row[10], row[11], bool(row[12]), row[13], row[14], row[15],
                        row[16], tuple(sorted(row[17].split(","))) if row[17] else (), row[18],
                        row[19], row[20], row[21], row[22], row[23])


def message_row(row: Sequence[Any]) -> Message:
    return Message(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8],
                   orjson.loads(row[9]) if row[9] else None)


def site_row(row: Sequence[Any]) -> Site:
    return Site(row[0], row[1], tuple(orjson.loads(row[2])), row[3], bool(row[4]), row[5], row[6],
                site_profile.from_json(orjson.loads(row[7])), bool(row[8]))


def agent_row(row: Sequence[Any]) -> Agent:
    """A row of ``SELECT {AGENT_COLS} FROM agents``."""
    return Agent(row[0], row[1], row[2], row[3], row[4], bool(row[5]), row[6], row[7], row[8],
                 row[9], row[10], row[11])


def attachment_row(row: Sequence[Any]) -> Attachment:
    return Attachment(*row)


def visitor_row(row: Sequence[Any]) -> Visitor:
    return Visitor(row[0], row[1], row[2], row[3], bool(row[4]), orjson.loads(row[5]), row[6],
                   row[7], row[8], row[9])


def block_row(row: Sequence[Any]) -> Block:
    return Block(row[0], row[1], row[2], row[3], bool(row[4]), row[5], row[6], row[7], row[8])


def canned_row(row: Sequence[Any]) -> Canned:
    return Canned(*row)


#: The id of the visitor an erasure leaves its conversations with starts so.
ERASED_PREFIX = "erased_"
#: Whether ``erased_visitors`` holds a visitor (a digest: ``erased_digest``).
ERASED_LOOKUP = "SELECT 1 FROM erased_visitors WHERE digest = ?"


def erased_digest(visitor_id: str) -> str:
    """What ``erased_visitors`` keeps of an erased visitor's id: its SHA-256, in hex."""
    return hashlib.sha256(visitor_id.encode()).hexdigest()


def kept_erased(visitor_id: str) -> bool:
    """Whether an erasure of this visitor is remembered (``erased_visitors``): not for a
    verified visitor, whose id is the site's user's, who may come back signed in."""
    return not visitor_id.startswith("usr_")


def ensure_visitor(db: DB, site_id: str, visitor_id: str, now: int) -> None:
    """The visitor's row, made on first need (a first message, a form, attributes, a page).
    Never again for an erased visitor (server/store/privacy.py): a frame of theirs that was
    on its way when they were erased, before their sockets were closed, is refused."""
    made = db.execute("INSERT INTO visitors(id, site_id, created_at) VALUES (?, ?, ?) "
                      "ON CONFLICT DO NOTHING", (visitor_id, site_id, now)).rowcount
    if made and kept_erased(visitor_id) and db.execute(
            ERASED_LOOKUP, (erased_digest(visitor_id),)).fetchone() is not None:
        raise ChatError(Code.NOT_FOUND, "this visitor was erased")


def file_name(data: dict[str, Any] | None) -> str:
    """The body of a message that is only an attachment: the file's name."""
    return str(data["attachment"]["name"]) if data else ""


class Base:
    """The engine's side (``_submit``, ``_all``) and the helpers every aggregate shares."""

    _clock: Clock
    _ids: Ids
    #: (conversation id, seq) of the texts and notes the running batch wrote, for search.
    _fts_rows: list[tuple[str, int]]
    epoch: str
    #: Called inside the transaction of every message or event appended (the webhook
    #: outbox, server/store/webhooks.py, writes its rows there).
    on_append: Callable[[DB, Message], None] | None
    #: Called inside the transaction that changed a visitor's name, email or attributes.
    on_visitor: Callable[[DB, str, str], None] | None
    #: Called with every message appended, inside its transaction (the email outbox
    #: writes its jobs there: server/store/outbox.py).
    append_hooks: list[Callable[[DB, Message], None]]
    #: Told of each committed batch: (writes, seconds from handing it to the writer).
    on_batch: Callable[[int, float], None] | None
    #: Called after each committed batch, on the event loop, before its writers are answered
    #: (server/typical.py).
    commit_hooks: list[Callable[[], None]]
    #: The knowledge base (server/store/articles.py), on this store's writer and reader.
    articles: Articles

    def _init_hooks(self) -> None:
        """The hooks above, none set yet (each engine's ``__init__`` calls this)."""
        self.on_append = None
        self.on_visitor = None
        self.append_hooks = []
        self.on_batch = None
        self.commit_hooks = []

    async def _submit(self, op: Callable[[DB], T], quick: bool = False) -> T:
        """Run ``op`` in the next write transaction; its result once that has committed."""
        raise NotImplementedError

    async def _all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """Every row of a read (it sees every write that has returned)."""
        raise NotImplementedError

    async def _one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        rows = await self._all(sql, params)
        return rows[0] if rows else None

    def _now(self) -> int:
        return int(self._clock() * 1000)

    # --- for the store's own modules (api_tokens, webhooks…): the write path and the reader --

    @property
    def clock(self) -> Clock:
        return self._clock

    async def submit(self, op: Callable[[DB], T]) -> T:
        """Run ``op`` in the writer's next transaction; see ``_submit``."""
        return await self._submit(op)

    async def read_all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return await self._all(sql, params)

    async def read_one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return await self._one(sql, params)

    def load_conversation(self, db: DB, conversation_id: str,
                          lock: bool = False) -> Conversation:
        """(Inside a write) the conversation as the writer sees it now; ``lock``: see
        ``_load_conversation_or_none``."""
        return self._load_conversation(db, conversation_id, lock)

    def append(self, db: DB, conversation_id: str, client_msg_id: str | None,
               kind: Any, author_type: Any, author_id: str | None, author_name: str | None,
               body: str, now: int, data: dict[str, Any] | None = None) -> Message:
        """(Inside a write) append a message or event with the next seq; see ``_append``."""
        return self._append(db, conversation_id, client_msg_id, kind, author_type, author_id,
                            author_name, body, now, data)

    def load_visitor(self, db: DB, visitor_id: str) -> Visitor | None:
        """(Inside a write) the visitor as the writer sees it now."""
        row = db.execute(
            f"SELECT id, site_id, name, email, {VERIFIED}, attributes, user_agent, language, "
            "timezone, referrer FROM visitors v WHERE id = ?", (visitor_id,)).fetchone()
        return visitor_row(row) if row else None

    async def index_pending(self) -> int:
        """Bring the search index up to date with every acknowledged write (SQLite indexes in
        bulk after the commit; PostgreSQL's index is updated by the write itself)."""
        return 0

    async def forget_indexed(self, merge: bool = False) -> None:
        """Delete from the search index what an erasure or a deletion left in ``fts_forget``
        (SQLite's index is in a file of its own; PostgreSQL's goes with the rows)."""
        return None

    # --- helpers run inside the writer's transaction ----------------------------------------

    def _load_conversation_or_none(self, db: DB, conversation_id: str,
                                   lock: bool = False) -> Conversation | None:
        """``lock``: the write will decide from what it reads, so on PostgreSQL the row is held
        until the commit (``FOR UPDATE``): another machine's write to the conversation waits,
        and then reads what this one wrote."""
        locked = " FOR UPDATE OF c" if lock and dialect(db) == "postgresql" else ""
        row = db.execute(f"SELECT {CONV_COLS} FROM {CONV_FROM} WHERE c.id = ?{locked}",
                         (conversation_id,)).fetchone()
        return conv_row(row) if row else None

    def _load_conversation(self, db: DB, conversation_id: str,
                           lock: bool = False) -> Conversation:
        conversation = self._load_conversation_or_none(db, conversation_id, lock)
        assert conversation is not None, conversation_id
        return conversation

    def _authorized(
        self, db: DB, conversation_id: str, site_ids: Sequence[str]
    ) -> Conversation:
        conversation = self._load_conversation_or_none(db, conversation_id, lock=True)
        # Another site's conversation is "not found", so that ids cannot be probed.
        if conversation is None or conversation.site_id not in site_ids:
            raise ChatError(Code.NOT_FOUND, "no such conversation")
        return conversation

    def _duplicate(self, db: DB, old: Message, body: str,
                   attachment_id: str | None = None) -> Change:
        """A resend (the same id): the stored message again, if it is the same message. One that
        is only a file was stored with the file's name as its body."""
        attached = old.data.get("attachment") if old.data else None
        if (attached.get("id") if isinstance(attached, dict) else None) != attachment_id:
            raise ChatError(Code.ID_CONFLICT, "that id was used for another message")
        if attachment_id is not None:
            body = body or file_name(old.data)
        if old.body != body:
            raise ChatError(Code.ID_CONFLICT, "that id was used for another message")
        return Change(self._load_conversation(db, old.conversation_id), (old,), duplicate=True)

    def _claim(
        self, db: DB, conv: Conversation, agent_id: str, agent_name: str, now: int
    ) -> list[Message]:
        # (``first_assigned_at``, of schema step 2, is no longer written: nothing read it, and
        # it took a bot's claim for the first join. Waits come from the events: people.py.)
        cur = db.execute(
            "UPDATE conversations SET status = 'assigned', assignee_id = ?, updated_at = ? "
            "WHERE id = ? AND assignee_id IS NULL AND status = 'waiting'",
            (agent_id, now, conv.id),
        )
        if cur.rowcount != 1:
            raise ChatError(Code.ALREADY_CLAIMED, "another agent has this conversation")
        return [self._append(db, conv.id, None, "joined", "agent", agent_id, agent_name, "", now)]

    def _append(
        self, db: DB, conversation_id: str, client_msg_id: str | None, kind: Any,
        author_type: Any, author_id: str | None, author_name: str | None, body: str, now: int,
        data: dict[str, Any] | None = None,
    ) -> Message:
        return self._append_begin(db, conversation_id, client_msg_id, kind, author_type,
                                  author_id, author_name, body, now, data)()

    def _append_begin(
        self, db: DB, conversation_id: str, client_msg_id: str | None, kind: Any,
        author_type: Any, author_id: str | None, author_name: str | None, body: str, now: int,
        data: dict[str, Any] | None = None,
    ) -> Callable[[], Message]:
        """Send an append's statements; the function returned reads its ``seq`` and gives the
        message. Statements sent before calling it travel with these (one round trip on
        PostgreSQL for the append and, say, the conversation's summary)."""
        finish = self._append_send(db, conversation_id, client_msg_id, kind, author_type,
                                   author_id, author_name, body, now, data, summary=False)
        return lambda: finish()[0]

    def _append_summary_begin(
        self, db: DB, conversation_id: str, client_msg_id: str | None, kind: Any,
        author_type: Any, author_id: str | None, author_name: str | None, body: str, now: int,
        data: dict[str, Any] | None = None,
    ) -> Callable[[], tuple[Message, Conversation]]:
        """``_append_begin``, and the conversation's summary as the append left it, returned by
        the append's own ``UPDATE``: the row just written is not read again."""
        finish = self._append_send(db, conversation_id, client_msg_id, kind, author_type,
                                   author_id, author_name, body, now, data, summary=True)

        def both() -> tuple[Message, Conversation]:
            message, conversation = finish()
            assert conversation is not None
            return message, conversation

        return both

    def _append_send(
        self, db: DB, conversation_id: str, client_msg_id: str | None, kind: Any,
        author_type: Any, author_id: str | None, author_name: str | None, body: str, now: int,
        data: dict[str, Any] | None, summary: bool,
    ) -> Callable[[], tuple[Message, Conversation | None]]:
        returning = "last_seq, " + CONV_RETURNING if summary else "last_seq"
        # The next seq is taken by the UPDATE of the conversation's row, which holds that row
        # until the transaction ends (in PostgreSQL a second machine's append waits for it, then
        # reads the new last_seq): gap-free and unique. The INSERT reads it back from the row
        # (the same transaction sees its own UPDATE), so it need not wait for the UPDATE's answer.
        if kind == "text" and author_type == "agent" and not is_bot(author_id):
            # A person's reply: the conversation keeps when a person first replied (the
            # earliest, ``first_reply_at``: what the widget's "typically replies in …" and the
            # reports read, server/store/people.py), in this same statement.
            taken = db.execute(
                "UPDATE conversations SET last_seq = last_seq + 1, visitor_seq = last_seq + 1, "
                "updated_at = ?, last_message = ?, first_reply_at = CASE WHEN first_reply_at "
                f"<= ? THEN first_reply_at ELSE ? END WHERE id = ? RETURNING {returning}",
                (now, body[:PREVIEW_CHARS], now, now, conversation_id),
            )
        elif kind == "text":  # (a note is not what the inbox previews)
            # One statement: the visitor writing also counts as unseen, and ends a snooze.
            visitor = author_type == "visitor"
            taken = db.execute(
                "UPDATE conversations SET last_seq = last_seq + 1, visitor_seq = last_seq + 1, "
                "updated_at = ?, last_message = ?, unread = unread + ?, snoozed_until = "
                f"CASE WHEN ? THEN NULL ELSE snoozed_until END WHERE id = ? RETURNING {returning}",
                (now, body[:PREVIEW_CHARS], int(visitor), visitor, conversation_id),
            )
        elif kind in PRIVATE_KINDS:  # the visitor's view does not move
            taken = db.execute("UPDATE conversations SET last_seq = last_seq + 1, updated_at = ? "
                               f"WHERE id = ? RETURNING {returning}", (now, conversation_id))
        else:
            taken = db.execute("UPDATE conversations SET last_seq = last_seq + 1, "
                               "visitor_seq = last_seq + 1, updated_at = ? WHERE id = ? "
                               f"RETURNING {returning}", (now, conversation_id))
        db.execute(
            f"INSERT INTO messages({MSG_COLS}) VALUES (?, (SELECT last_seq FROM conversations "
            "WHERE id = ?), ?, ?, ?, ?, ?, ?, ?, ?)",
            (conversation_id, conversation_id, client_msg_id, kind, author_type, author_id,
             author_name, body, now, orjson.dumps(data).decode() if data else None),
        )

        def finish() -> tuple[Message, Conversation | None]:
            row = taken.fetchone()
            seq = int(row[0])
            if kind in ("text", "note"):  # for the search indexer, once the batch's ops are done
                self._fts_rows.append((conversation_id, seq))
            message = Message(conversation_id, seq, client_msg_id, kind, author_type, author_id,
                              author_name, body, now, data)
            if self.on_append is not None:
                self.on_append(db, message)
            for hook in self.append_hooks:
                hook(db, message)
            return message, conv_row(row[1:]) if summary else None

        return finish

    def _attachment_data(self, db: DB, attachment_id: str | None,
                         uploader_id: str) -> dict[str, Any] | None:
        """The message data for an attachment its sender uploaded; anyone else's is unknown."""
        if attachment_id is None:
            return None
        row = db.execute(f"SELECT {ATTACHMENT_COLS} FROM attachments WHERE id = ? "
                         "AND uploader_id = ?", (attachment_id, uploader_id)).fetchone()
        if row is None:
            raise ChatError(Code.NOT_FOUND, "no such attachment")
        # Sent: kept from now on (uploads never sent are deleted after the grace period).
        db.execute("UPDATE attachments SET attached_at = coalesce(attached_at, ?) WHERE id = ?",
                   (self._now(), attachment_id))
        return {"attachment": attachment_row(row).public()}
