"""What every endpoint needs, built by the app's lifespan and found on ``app.state``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from starlette.requests import HTTPConnection

from server.auth import Tokens, normalize_origin
from server.broker import Broker, Presence
from server.chat import Chat
from server.config import Settings
from server.hub import Hub
from server.ratelimit import TokenBucket
from server.routing import Router
from server.store import Store

AGENT_COOKIE = "livechat_agent"


@dataclass
class Context:
    settings: Settings
    store: Store
    broker: Broker
    presence: Presence
    hub: Hub
    chat: Chat
    tokens: Tokens
    clock: Callable[[], float]
    router: Router
    #: Upload rate limits, per uploader (server/endpoints/files.py).
    upload_buckets: dict[str, TokenBucket] = field(default_factory=dict)
    #: Avatar key → agent id (server/endpoints/avatars.py), rebuilt when a key is not in it.
    avatar_index: dict[str, str] = field(default_factory=dict)
    avatar_indexed_at: float = float("-inf")

    def own_origin(self, conn: HTTPConnection) -> str:
        """This server's origin: LIVECHAT_PUBLIC_URL, else what the request was addressed to."""
        if self.settings.public_url:
            return normalize_origin(self.settings.public_url) or ""
        scheme = {"ws": "http", "wss": "https"}.get(conn.url.scheme, conn.url.scheme)
        host = conn.headers.get("host", "")
        return normalize_origin(f"{scheme}://{host}") or ""


def context(conn: HTTPConnection) -> Context:
    ctx: Context = conn.app.state.ctx
    return ctx
