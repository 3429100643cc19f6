"""The broker's channels, by name, and the orders sent on them besides frames. Pure.

A socket subscribes (through the hub, server/hub.py) to the channels of what it follows: a
conversation's (its messages and events, typing, presence), its site's (inbox summaries, for
agents), its visitor's (every tab of that visitor), its site's status (what visitors may know),
and, for agents, its account's and its session's (orders to close).
"""

from __future__ import annotations

import orjson


def conversation_channel(conversation_id: str) -> str:
    return f"conv:{conversation_id}"


def site_channel(site_id: str) -> str:
    return f"site:{site_id}"


def visitor_channel(visitor_id: str) -> str:
    return f"visitor:{visitor_id}"


def agent_channel(agent_id: str) -> str:
    """One agent's sockets: ``{"close": code}`` when an admin changed the account, and the
    frames for them alone (``mention``: a colleague's note is for them)."""
    return f"agent:{agent_id}"


def status_channel(site_id: str) -> str:
    """What a site's visitors may know of it (whether anyone is online); no conversations."""
    return f"status:{site_id}"


def session_channel(session_id: str) -> str:
    """Orders for the sockets of one agent session: ``{"close": code}`` when it is signed out."""
    return f"session:{session_id}"


def close_order(code: int, ip: str | None = None) -> bytes:
    """On an ``agent:``, ``session:`` or ``visitor:`` channel: close those sockets with
    ``code``; on a ``status:`` channel, with ``ip``: those of a site's visitors that come from
    that address (an address block). (Frames start with ``{"type"``, so the two never mix.)"""
    return orjson.dumps({"close": code} if ip is None else {"close": code, "ip": ip})


def from_connection(origin: str, data: bytes) -> bytes:
    """A frame for a visitor's channel that the connection ``origin`` (its ``uid``) already
    knows about, so that only the visitor's other tabs are sent it."""
    return b"@" + origin.encode() + b" " + data
