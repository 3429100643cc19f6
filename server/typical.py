"""The widget's "typically replies in …" of each site (``typical_wait`` of every visitor's
``welcome``), kept for a minute per site and process: a visitor's hello no longer reads it from
the store each time (0.4 ms on SQLite, 4 ms on PostgreSQL: docs/benchmarks.md), and a thousand
visitors reconnecting at once ask the store once. A person's reply written by this process
makes every site's figure be read again at the next hello; one written by another process
shows within the minute."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from server.store import Store
from server.store.base import DB
from server.store.models import Message, is_bot

#: How long a site's figure is told before it is read again (seconds).
KEEP_FOR = 60.0


@dataclass(slots=True)
class _Read:
    at: float
    replies: int
    value: asyncio.Future[float | None]


class TypicalReplies:
    def __init__(self, store: Store, clock: Callable[[], float],
                 keep_for: float = KEEP_FOR) -> None:
        self._store, self._clock, self._keep_for = store, clock, keep_for
        self._reads: dict[str, _Read] = {}
        #: People's replies this process has written, counted in their transactions
        #: (``append_hooks``), and as committed: a read started before the reply's commit
        #: cannot see it, so only a count taken after the commit makes the next read.
        self._written = self._replies = 0
        store.append_hooks.append(self._appended)
        store.commit_hooks.append(self._committed)

    def _appended(self, db: DB, message: Message) -> None:
        # (Inside the reply's transaction: one that is rolled back only costs a read.)
        if message.kind == "text" and message.author_type == "agent" and not is_bot(
                message.author_id):
            self._written += 1

    def _committed(self) -> None:
        self._replies = self._written

    def fresh(self, site_id: str) -> bool:
        """Whether a hello now would be told the figure kept, without a read."""
        read = self._reads.get(site_id)
        return read is not None and read.replies == self._replies and (
            self._clock() - read.at < self._keep_for) and not (read.value.done() and (
                read.value.cancelled() or read.value.exception() is not None))

    async def get(self, site_id: str) -> float | None:
        """The site's figure: as read within the last minute and since this process's last
        person's reply, else read now (hellos that ask meanwhile wait for the same read)."""
        read = self._reads.get(site_id)
        if read is None or not self.fresh(site_id):  # (None: for the type checker)
            read = self._reads[site_id] = _Read(self._clock(), self._replies, asyncio.ensure_future(
                self._store.typical_reply(site_id)))
        # (Shielded: a hello that goes away while it waits does not cancel the others' read.)
        return await asyncio.shield(read.value)
