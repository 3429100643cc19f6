"""Bot first, then a person. A site with a bot (``livechat bot create``) has each new
conversation claimed by its bot in the moment it opens, before anyone is told of it: the bot is
told by webhook (``message.created``) and answers through the REST API as its own agent id. When
the bot calls ``POST /api/v1/conversations/{id}/handoff``, or the visitor presses "Talk to a
person" (the widget's ``handoff`` frame), the conversation goes to the human queue — waiting,
nobody assigned, the bot's exchange kept above — and routing proceeds as for any conversation.

Visitors and agents see who answers: a bot's messages and assignee carry ``bot: true``.

A bot never opens a panel, so the router would take it for an agent who left and put its
conversations back in the queue after the grace period; ``keep_connected`` marks each bot as
connected (never as online: it is not offered conversations by auto-assignment).
"""

from __future__ import annotations

import asyncio
import logging

from server.broker import Presence
from server.chat import Chat
from server.errors import Unavailable
from server.routing import connected_key
from server.store import Change
from server.store.bots import Bots, is_bot

log = logging.getLogger("livechat.bots")


class FirstResponder:
    def __init__(self, bots: Bots, chat: Chat) -> None:
        self.bots = bots
        self.chat = chat

    async def take(self, change: Change) -> Change:
        """(For a conversation just opened, before it is published.) The site's bot claims it,
        if the site has a bot; the change then holds the bot's ``joined`` after the message."""
        conversation = change.conversation
        bot = await self.bots.for_site(conversation.site_id)
        if bot is None or conversation.assignee_id is not None:
            return change
        try:
            claimed = await self.chat.store.claim(bot, [conversation.site_id], conversation.id)
        except Exception as exc:  # a person was quicker, or the store is down: no bot this time
            log.warning("bot did not take %s (%s)", conversation.id, type(exc).__name__)
            return change
        return Change(claimed.conversation, change.messages + claimed.messages, change.created)

    async def handoff(self, site_ids: list[str], conversation_id: str) -> Change:
        change = await self.bots.handoff(site_ids, conversation_id)
        await self.chat.publish(change)
        return change

    async def hand_off_unanswered(self, after: float) -> None:
        """(At each routing sweep.) A conversation whose visitor a bot has left unanswered
        for ``after`` seconds goes to people, as if the bot had handed it off: a bot that is
        down, whose webhook fails or is disabled, or that has nothing to say, must not leave
        the visitor waiting for ever (a black-box tester's bot did)."""
        before = self.bots.now() - int(after * 1000)
        try:
            found = await self.bots.unanswered(before)
        except Unavailable:
            raise  # the store's outage: the router's sweep says it once, and retries
        except Exception:  # never in the way of routing, which this sweep comes before
            log.exception("bots' unanswered conversations not read")
            return
        for site_id, conversation_id in found:
            try:
                change = await self.bots.handoff([site_id], conversation_id,
                                                 unanswered_before=before)
            except Exception as exc:  # gone meanwhile (an erasure), or the store is down
                log.warning("bot's unanswered %s not handed off (%s)", conversation_id,
                            type(exc).__name__)
                continue
            if not change.duplicate:
                log.info("bot left %s unanswered for %gs: handed to people", conversation_id,
                         after)
                await self.chat.publish(change)


async def keep_connected(bots: Bots, presence: Presence, ttl: float) -> None:
    """Mark every bot as connected to its site, again every third of the presence TTL."""
    while True:
        try:
            for site_id, bot in await bots.all():
                await presence.touch(connected_key(site_id), f"{bot.id}:bot", ttl)
        except Exception as exc:  # presence down: the router does not requeue then either
            log.warning("bots not marked connected (%s)", type(exc).__name__)
        await asyncio.sleep(ttl / 3)


__all__ = ["FirstResponder", "is_bot", "keep_connected"]
