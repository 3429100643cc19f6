"""The store: the record of every conversation and the source of truth.

Contract kept by every implementation (``SQLiteStore`` today; a shared SQL server later):

* A write returns only after it is durable (committed); callers ack after it returns.
* Each conversation has one gap-free ``seq`` starting at 1, assigned inside the write.
* ``client_msg_id`` makes a send idempotent: a resend returns ``Change(duplicate=True)`` with the
  original message; the same id with a different body raises ``ChatError(id_conflict)``.
* A visitor has at most one conversation that is not resolved.
* ``claim`` is compare-and-set across every process sharing the store.
* A refused write (``ChatError``) changes nothing.
* Reads see every write that has returned.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from server.store.models import Agent, Change, Conversation, Message, Role, Site
from server.store.sqlite import SQLiteStore, StoreClosed

__all__ = ["Agent", "Change", "Conversation", "Message", "SQLiteStore", "Site", "Store",
           "StoreClosed"]


class Store(Protocol):
    epoch: str

    async def open(self) -> None: ...
    async def close(self) -> None: ...
    async def ping(self) -> bool: ...

    async def site(self, site_id: str) -> Site | None: ...
    async def sites(self) -> list[Site]: ...
    async def agent(self, agent_id: str) -> Agent | None: ...
    async def agent_by_email(self, email: str) -> Agent | None: ...
    async def agents(self) -> list[Agent]: ...
    async def agent_site_ids(self, agent: Agent) -> list[str]: ...
    async def conversation(self, conversation_id: str) -> Conversation | None: ...
    async def current_conversation(self, visitor_id: str) -> Conversation | None: ...
    async def open_conversations(self, site_ids: Sequence[str], limit: int = 500) -> list[
        Conversation
    ]: ...
    async def messages_after(self, conversation_id: str, after_seq: int, limit: int = 200) -> list[
        Message
    ]: ...
    async def messages_before(self, conversation_id: str, before_seq: int, limit: int = 50) -> list[
        Message
    ]: ...

    async def create_site(self, name: str, allowed_origins: Sequence[str]) -> Site: ...
    async def create_agent(
        self, email: str, name: str, password_hash: str, role: Role, site_ids: Sequence[str]
    ) -> Agent: ...
    async def append_visitor_message(
        self, site_id: str, visitor_id: str, client_msg_id: str, body: str
    ) -> Change: ...
    async def append_agent_message(
        self, agent: Agent, site_ids: Sequence[str], conversation_id: str, client_msg_id: str,
        body: str,
    ) -> Change: ...
    async def claim(
        self, agent: Agent, site_ids: Sequence[str], conversation_id: str
    ) -> Change: ...
    async def resolve(
        self, agent: Agent, site_ids: Sequence[str], conversation_id: str
    ) -> Change: ...
