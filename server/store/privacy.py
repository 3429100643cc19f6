"""Data rights, kept by the store: everything held about a visitor (for an export), erasing a
visitor, and the retention of resolved conversations per site. Plain standard SQL, except the
full-text index (SQLite's FTS5), whose rows are deleted and whose segments are merged so that no
erased word stays in it.

**Erasure** (one transaction): the visitor's row (name, email, attributes, browser, address),
the pages they visited, their blocks, every word of their conversations — their messages, the
agents' replies, internal notes, rating comments, the inbox preview — the files sent in them,
their search index entries, and webhook events about them (sent or not, with their lines in the
delivery log) are deleted or emptied.
What is **kept**, anonymously: each conversation's row and the skeleton of its events (who wrote
— visitor or agent —, when, the agent's id and name, the rating's score), moved to a new visitor
id that leads nowhere, so that reports count the conversation, its response and resolution times
as before; so are their knowledge-base events (searches, views, votes), without the words they
searched. An erasure is recorded (when, by whom, how much) without any of the erased data, and
the visitor's id as a digest (``erased_visitors``), so that a token kept by their browser is
refused (``Visitors.was_erased``) rather than bringing the id back.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from server.auth import new_id
from server.store.base import DB, ERASED_PREFIX, dialect, erased_digest, kept_erased
from server.store.models import Attachment, Conversation, Message, Page, Visitor

if TYPE_CHECKING:
    from server.store.facade import Aggregates

#: Conversations deleted per transaction by a retention sweep (each batch commits on its own).
SWEEP_BATCH = 200
DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class Held:
    """Everything the store holds about one visitor."""

    visitor: Visitor
    pages: list[Page]
    conversations: list[tuple[Conversation, list[Message]]]
    attachments: list[Attachment]
    #: What they did with the help articles, oldest first: ``{kind, article_id, query,
    #: results, helpful, at}``.
    knowledge_base: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Erased:
    id: str
    conversations: int
    messages: int
    files: list[str]
    at: int
    #: The conversations emptied (their summaries changed: the panels are told).
    conversation_ids: tuple[str, ...] = ()

    def public(self) -> dict[str, Any]:
        return {"erasure_id": self.id, "conversations": self.conversations,
                "messages": self.messages, "files": len(self.files), "at": self.at}


def _marks(values: Sequence[Any]) -> str:
    return ",".join("?" * len(values))


def _attachment_ids(rows: Sequence[Sequence[Any]]) -> set[str]:
    """The files a set of messages (their ``data`` column) carry."""
    found = set()
    for (data,) in rows:
        parsed = orjson.loads(data) if data else None
        if isinstance(parsed, dict) and isinstance(parsed.get("attachment"), dict):
            found.add(str(parsed["attachment"].get("id")))
    return found


def _forget_conversations(db: DB, ids: Sequence[str]) -> None:
    """The search index, webhook events, emails (jobs, which hold the visitor's address, and
    threads), follow-ups and notes' mentions of these conversations."""
    marks = _marks(ids)
    # Reply emails received (raw, with the visitor's words) are found by their reply address,
    # r.<the thread's reply key>.<expiry>.<mac>@domain (server/mail/addresses.py).
    for (key,) in db.execute(f"SELECT reply_key FROM email_threads WHERE conversation_id IN "
                             f"({marks})", tuple(ids)).fetchall():
        db.execute("DELETE FROM email_inbound WHERE recipient LIKE ? ESCAPE '\\'",
                   ("r." + key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                    + ".%",))
    # SQLite's search index is a file of its own, whose rows of these conversations the store
    # deletes once this commits (``forget_indexed``: server/store/sqlite_search.py);
    # PostgreSQL's is an index on the messages.
    indexes = ("fts_pending",) if dialect(db) == "sqlite" else ()
    if indexes:
        db.executemany("INSERT OR IGNORE INTO fts_forget(conversation_id) VALUES (?)",
                       [(i,) for i in ids])
    _forget_webhook_events(db, f"conversation_id IN ({marks})", tuple(ids))
    for table in (*indexes, "email_jobs", "email_threads", "follow_ups", "note_mentions"):
        db.execute(f"DELETE FROM {table} WHERE conversation_id IN ({marks})", tuple(ids))


def _forget_webhook_events(db: DB, where: str, params: tuple[Any, ...]) -> None:
    """Webhook events (``where`` on ``webhook_outbox``), then their lines in the delivery log,
    whose excerpts (the start of the receiver's answer) may hold the payload again. In this
    order: on PostgreSQL a delivery being recorded holds its event's row, so its line is
    committed before the event can be deleted, and is found here (server/store/webhooks.py
    logs nothing for an event already deleted)."""
    gone = db.execute(f"DELETE FROM webhook_outbox WHERE {where} RETURNING id", params).fetchall()
    db.executemany("DELETE FROM webhook_deliveries WHERE outbox_id = ?", [(r[0],) for r in gone])


def _forget_kb_events(db: DB, site_id: str, cutoff: int) -> None:
    """The site's knowledge-base events (searches, views, votes) older than ``cutoff`` (ms)."""
    db.execute("DELETE FROM kb_events WHERE site_id = ? AND created_at < ?", (site_id, cutoff))


class Privacy:
    def __init__(self, store: Aggregates) -> None:
        self._store = store

    def _now(self) -> int:
        return int(self._store.clock() * 1000)

    async def held(self, visitor_id: str) -> Held | None:
        store = self._store
        visitor = await store.visitor(visitor_id)
        if visitor is None:
            return None
        conversations = []
        for conversation in await self._conversations(visitor_id):
            messages: list[Message] = []
            while True:
                page = await store.messages_after(conversation.id,
                                                  messages[-1].seq if messages else 0, 200)
                messages += page
                if len(page) < 200:
                    break
            conversations.append((conversation, messages))
        files: set[str] = {row[0] for row in await store.read_all(
            "SELECT id FROM attachments WHERE uploader_id = ?", (visitor_id,))}
        for _, messages in conversations:
            files |= _attachment_ids([(orjson.dumps(m.data).decode() if m.data else None,)
                                      for m in messages])
        attachments = [a for a in [await store.attachment(f) for f in sorted(files)]
                       if a is not None]
        events = [{"kind": r[0], "article_id": r[1], "query": r[2], "results": r[3],
                   "helpful": None if r[4] is None else bool(r[4]), "at": r[5]}
                  for r in await store.read_all(
                      "SELECT kind, article_id, query, results, helpful, created_at "
                      "FROM kb_events WHERE visitor_id = ? ORDER BY created_at", (visitor_id,))]
        return Held(visitor, await store.visitor_pages(visitor_id), conversations, attachments,
                    events)

    async def _conversations(self, visitor_id: str) -> list[Conversation]:
        rows = await self._store.read_all(
            "SELECT id FROM conversations WHERE visitor_id = ? ORDER BY created_at, id",
            (visitor_id,))
        found = [await self._store.conversation(row[0]) for row in rows]
        return [c for c in found if c is not None]

    async def erase(self, site_ids: Sequence[str], visitor_id: str, erased_by: str) -> Erased:
        """Erase the visitor (see the module's docstring); ``LookupError`` when this visitor is
        not one of ``site_ids``'. The caller deletes the returned files from disk."""
        now, erasure_id = self._now(), new_id("era")
        placeholder = new_id(ERASED_PREFIX.rstrip("_"))

        def op(db: DB) -> Erased:
            row = db.execute("SELECT site_id FROM visitors WHERE id = ?",
                             (visitor_id,)).fetchone()
            if row is None or row[0] not in site_ids or visitor_id.startswith(ERASED_PREFIX):
                raise LookupError("no such visitor")
            # (With SQLite, what this deletes or replaces is overwritten with zeros:
            # ``secure_delete``, server/store/sqlite_db.py.)
            site_id = row[0]
            ids = [r[0] for r in db.execute("SELECT id FROM conversations WHERE visitor_id = ?",
                                            (visitor_id,)).fetchall()]
            files: set[str] = {r[0] for r in db.execute(
                "SELECT id FROM attachments WHERE uploader_id = ?", (visitor_id,)).fetchall()}
            count = 0
            if ids:
                marks = _marks(ids)
                files |= _attachment_ids(db.execute(
                    f"SELECT data FROM messages WHERE conversation_id IN ({marks}) "
                    "AND data IS NOT NULL", tuple(ids)).fetchall())
                db.execute("INSERT INTO visitors(id, site_id, created_at) VALUES (?, ?, ?)",
                           (placeholder, site_id, now))
                count = db.execute(
                    "UPDATE messages SET body = '', client_msg_id = NULL, "
                    "data = CASE WHEN kind = 'rated' THEN data ELSE NULL END, "
                    "author_id = CASE WHEN author_type = 'visitor' THEN ? ELSE author_id END, "
                    "author_name = CASE WHEN author_type = 'visitor' THEN NULL "
                    f"ELSE author_name END WHERE conversation_id IN ({marks})",
                    (placeholder, *ids)).rowcount
                # Changed now (``updated_at``): an integration that syncs by
                # ``updated_since`` sees them resolved and emptied. One that was open is closed
                # with no ``resolved_at``: nobody resolved it, and the reports' resolution times
                # must not count the erasure as one (retention goes by ``updated_at`` for it).
                db.execute(
                    "UPDATE conversations SET visitor_id = ?, last_message = '', "
                    "rating_comment = NULL, snoozed_until = NULL, status = 'resolved', "
                    f"updated_at = ? WHERE id IN ({marks})", (placeholder, now, *ids))
                _forget_conversations(db, ids)
            if files:
                db.execute(f"DELETE FROM attachments WHERE id IN ({_marks(list(files))})",
                           tuple(files))
            # What they did with the help articles stays counted, anonymously (with the same
            # nowhere-leading id as their conversations: "suggestion accepted" counts the same),
            # without the words they searched.
            db.execute("UPDATE kb_events SET visitor_id = ?, query = NULL WHERE visitor_id = ?",
                       (placeholder, visitor_id))
            _forget_webhook_events(db, "visitor_id = ?", (visitor_id,))
            db.execute("DELETE FROM visitor_pages WHERE visitor_id = ?", (visitor_id,))
            db.execute("DELETE FROM blocks WHERE visitor_id = ?", (visitor_id,))
            db.execute("DELETE FROM visitors WHERE id = ?", (visitor_id,))
            # A token their browser kept must not bring this id back (the widget, told 4401,
            # starts a new visitor): kept as a digest, which names no one. A verified visitor's
            # id is the site's user's, who may come back signed in, as a new, empty visitor.
            if kept_erased(visitor_id):
                db.execute("INSERT INTO erased_visitors(digest, erased_at) VALUES (?, ?) "
                           "ON CONFLICT DO NOTHING", (erased_digest(visitor_id), now))
            db.execute("INSERT INTO erasures(id, site_id, erased_by, erased_at, conversations, "
                       "messages, files) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (erasure_id, site_id, erased_by, now, len(ids), count, len(files)))
            return Erased(erasure_id, len(ids), count, sorted(files), now, tuple(ids))

        erased = await self._store.submit(op)
        # Nothing of what they wrote is left in the search index either, not even in the
        # index's older segments (merged), nor in the write-ahead logs (SQLite's: truncated).
        await self._store.forget_indexed(merge=True)
        return erased

    async def erasures(self, site_ids: Sequence[str]) -> list[dict[str, Any]]:
        if not site_ids:
            return []
        rows = await self._store.read_all(
            "SELECT id, site_id, erased_by, erased_at, conversations, messages, files "
            f"FROM erasures WHERE site_id IN ({_marks(site_ids)}) ORDER BY erased_at DESC",
            tuple(site_ids))
        return [{"id": r[0], "site_id": r[1], "erased_by": r[2], "at": r[3],
                 "conversations": r[4], "messages": r[5], "files": r[6]} for r in rows]

    # --- retention ---------------------------------------------------------------------------

    async def set_retention(self, site_id: str, days: int | None) -> None:
        """Keep resolved conversations ``days`` days (None: for ever)."""
        if days is not None and not 1 <= days <= 36500:
            raise ValueError("retention is 1 to 36500 days, or none")

        def op(db: DB) -> None:
            if db.execute("SELECT 1 FROM sites WHERE id = ?", (site_id,)).fetchone() is None:
                raise LookupError(f"no such site: {site_id}")
            db.execute("DELETE FROM site_retention WHERE site_id = ?", (site_id,))
            if days is not None:
                db.execute("INSERT INTO site_retention(site_id, days) VALUES (?, ?)",
                           (site_id, days))

        await self._store.submit(op)

    async def retention(self) -> dict[str, int]:
        rows = await self._store.read_all("SELECT site_id, days FROM site_retention")
        return {r[0]: r[1] for r in rows}

    async def sweep(self) -> tuple[int, list[str]]:
        """Delete every conversation resolved longer ago than its site keeps them, with its
        messages, tags, search entries, webhook events and files, in batches, each its own
        transaction; and the site's knowledge-base events as old. Safe with several processes
        sweeping at once (the writer's lock serialises them; what one deleted, the other does
        not find). Returns the count and the files to delete from disk."""
        deleted, files = 0, []
        now = self._now()
        for site_id, days in (await self.retention()).items():
            cutoff = now - days * DAY_MS
            await self._store.submit(functools.partial(_forget_kb_events, site_id=site_id,
                                                       cutoff=cutoff))
            while True:
                batch = await self._store.submit(
                    functools.partial(self._sweep_batch, site_id=site_id, cutoff=cutoff))
                deleted += batch[0]
                files += batch[1]
                if batch[0] < SWEEP_BATCH:
                    break
        if deleted:
            await self._store.forget_indexed()
        return deleted, files

    @staticmethod
    def _sweep_batch(db: DB, site_id: str, cutoff: int) -> tuple[int, list[str]]:
        ids = [r[0] for r in db.execute(
            "SELECT id FROM conversations WHERE site_id = ? AND status = 'resolved' "
            "AND resolved_at < ? ORDER BY resolved_at LIMIT ?",
            (site_id, cutoff, SWEEP_BATCH)).fetchall()]
        if len(ids) < SWEEP_BATCH:  # closed by an erasure while open: no resolved_at
            ids += [r[0] for r in db.execute(
                "SELECT id FROM conversations WHERE site_id = ? AND status = 'resolved' "
                "AND resolved_at IS NULL AND updated_at < ? LIMIT ?",
                (site_id, cutoff, SWEEP_BATCH - len(ids))).fetchall()]
        if not ids:
            return 0, []
        marks = _marks(ids)
        files = sorted(_attachment_ids(db.execute(
            f"SELECT data FROM messages WHERE conversation_id IN ({marks}) "
            "AND data IS NOT NULL", tuple(ids)).fetchall()))
        if files:
            db.execute(f"DELETE FROM attachments WHERE id IN ({_marks(files)})", tuple(files))
        _forget_conversations(db, ids)
        db.execute(f"DELETE FROM messages WHERE conversation_id IN ({marks})", tuple(ids))
        db.execute(f"DELETE FROM conversation_tags WHERE conversation_id IN ({marks})",
                   tuple(ids))
        db.execute(f"DELETE FROM conversations WHERE id IN ({marks})", tuple(ids))
        # (No merge of the search index here: its automatic merges drop the deleted rows in
        # time; an erasure merges at once, as it promises that nothing is left.)
        return len(ids), files
