"""The store: the record of every conversation and the source of truth.

Contract kept by every implementation (``SQLiteStore``, the embedded default, and
``PostgresStore``, for several machines; the same tests prove both):

* A write returns only after it is durable (committed); callers ack after it returns.
* Each conversation has one gap-free ``seq`` starting at 1, assigned inside the write.
* ``client_msg_id`` makes a send idempotent: a resend returns ``Change(duplicate=True)`` with the
  original message; the same id with a different body raises ``ChatError(id_conflict)``.
* A visitor has at most one conversation that is not resolved.
* ``claim`` is compare-and-set across every process sharing the store.
* A refused write (``ChatError``) changes nothing.
* A write that cannot be done now through no fault of its own (a full disk, a lock held past the
  busy timeout, the store closing or overloaded) raises ``server.errors.Unavailable`` and
  changes nothing; it may be sent again after ``retry_after_ms``.
* ``assign_waiting`` never gives an agent more open conversations than their capacity, however
  many writers race.
* Reads see every write that has returned.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from server.health import Health
from server.store.articles import ArticleStore
from server.store.attachments import AttachmentStore
from server.store.base import DB, Choose, StoreClosed
from server.store.blocks import BlockStore
from server.store.conversations import ConversationStore
from server.store.directory import DirectoryStore
from server.store.mentions import MentionStore
from server.store.models import (
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
    Site,
    Team,
    Visitor,
)
from server.store.panel import PanelStore
from server.store.queue import QueueStore
from server.store.reports import ReportStore
from server.store.search import SearchStore
from server.store.sessions import SessionStore
from server.store.sqlite import SQLiteStore
from server.store.teams import TeamStore
from server.store.visitors import VisitorStore

__all__ = ["Agent", "Attachment", "Block", "Canned", "Change", "Choose", "Conversation", "Health",
           "Hit",
           "Load", "Message", "Page", "SQLiteStore", "Site", "Store", "StoreClosed", "Team",
           "Visitor"]


class Store(
    ConversationStore,
    QueueStore,
    DirectoryStore,
    SessionStore,
    TeamStore,
    VisitorStore,
    PanelStore,
    BlockStore,
    AttachmentStore,
    SearchStore,
    ReportStore,
    MentionStore,
    Protocol,
):
    """The whole store: every aggregate's protocol (each in its module, with its semantics), and
    the engine's own life. ``SQLiteStore`` and ``PostgresStore`` both are one."""

    epoch: str
    #: Called with every message appended, inside its transaction (server/typical.py, and the
    #: email outbox: server/store/email_jobs.py).
    append_hooks: list[Callable[[DB, Message], None]]
    #: Called after each committed batch of writes, on the event loop (server/typical.py).
    commit_hooks: list[Callable[[], None]]

    @property
    def articles(self) -> ArticleStore:
        """The knowledge base: server/store/articles.py."""
        ...

    async def open(self) -> None: ...
    async def close(self) -> None: ...
    async def write_health(self, bound: float) -> Health: ...
