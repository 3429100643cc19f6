"""The conversation's operations: write to the store, then ring the doorbell.

Publishing happens only after the store has committed, and a failed publish never undoes or
fails a committed write: subscribers recover from the store by ``seq``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import orjson

from server.auth import VisitorIdentity
from server.broker import Broker
from server.hub import conversation_channel, site_channel, visitor_channel
from server.store import Agent, Change, Store

log = logging.getLogger("livechat.chat")


class Chat:
    def __init__(self, store: Store, broker: Broker) -> None:
        self.store = store
        self.broker = broker

    async def visitor_send(self, who: VisitorIdentity, client_msg_id: str, body: str) -> Change:
        change = await self.store.append_visitor_message(
            who.site_id, who.visitor_id, client_msg_id, body
        )
        await self._publish(change)
        return change

    async def agent_send(
        self, agent: Agent, site_ids: Sequence[str], conversation_id: str, client_msg_id: str,
        body: str,
    ) -> Change:
        change = await self.store.append_agent_message(
            agent, site_ids, conversation_id, client_msg_id, body
        )
        await self._publish(change)
        return change

    async def claim(self, agent: Agent, site_ids: Sequence[str], conversation_id: str) -> Change:
        change = await self.store.claim(agent, site_ids, conversation_id)
        await self._publish(change)
        return change

    async def resolve(self, agent: Agent, site_ids: Sequence[str], conversation_id: str) -> Change:
        change = await self.store.resolve(agent, site_ids, conversation_id)
        await self._publish(change)
        return change

    async def _publish(self, change: Change) -> None:
        if change.duplicate:
            return
        conv = change.conversation
        try:
            for message in change.messages:
                await self.broker.publish(
                    conversation_channel(conv.id), orjson.dumps(message.frame())
                )
            if change.created:
                await self.broker.publish(
                    visitor_channel(conv.visitor_id),
                    orjson.dumps({"type": "conversation", "conversation": conv.visitor_state()}),
                )
            await self.broker.publish(
                site_channel(conv.site_id),
                orjson.dumps({"type": "conversation", "conversation": conv.summary()}),
            )
        except Exception as exc:  # committed is committed; readers catch up from the store
            log.warning("publish failed (%s); subscribers will catch up", type(exc).__name__)
