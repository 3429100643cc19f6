"""The store's aggregates, composed: ``Aggregates`` is every part whose SQL both databases
share, and each engine (``server.store.sqlite``, ``server.store.postgres``) adds itself and its
own search under it.

A new aggregate (an outbox, API tokens, articles, …) is a module of its own under
``server/store/`` — a class built on ``server.store.base.Base`` (``self._submit(op)`` for writes
in the group-committed transaction, ``self._all``/``self._one`` for reads) with a ``Protocol``
of its own — and one line here, in the bases of ``Aggregates``. Its tables are the next step of
``server.store.migrations.MIGRATIONS``.
"""

from __future__ import annotations

from server.store.attachments import Attachments
from server.store.blocks import Blocks
from server.store.conversations import Conversations
from server.store.directory import Directory
from server.store.mentions import Mentions
from server.store.panel import Panel
from server.store.queue import Queue
from server.store.reports import Reports
from server.store.sessions import Sessions
from server.store.teams import Teams
from server.store.visitors import Visitors


class Aggregates(
    Conversations,
    Queue,
    Directory,
    Sessions,
    Teams,
    Visitors,
    Panel,
    Blocks,
    Attachments,
    Reports,
    Mentions,
):
    """Every aggregate of the store (a new one: one line above)."""
