"""What every endpoint needs, built by the app's lifespan and found on ``app.state``."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from starlette.requests import HTTPConnection

from server.auth import Tokens, normalize_origin
from server.broker import Broker, Presence
from server.chat import Chat
from server.config import Settings
from server.hashing import HashPool
from server.hub import Hub
from server.limits import Counts, Limits
from server.logins import Backoff
from server.mail.service import Mail
from server.metrics import Metrics
from server.routing import Router
from server.store import Store
from server.store.filestore import FileStore, LocalFiles
from server.typical import TypicalReplies

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
    #: The widget's "typically replies in …" per site, kept a minute (server/typical.py).
    typical: TypicalReplies
    #: Password hashing (server/hashing.py) and the slowing of guesses (server/logins.py),
    #: per account and per client address.
    hasher: HashPool = field(default_factory=HashPool)
    account_backoff: Backoff = field(default_factory=lambda: Backoff(5, time.time))
    ip_backoff: Backoff = field(default_factory=lambda: Backoff(20, time.time))
    #: Password checks waiting or running, per client address (server/endpoints/account.py).
    login_checks: dict[str, int] = field(default_factory=dict)
    #: Avatar key → agent id (server/endpoints/avatars.py), rebuilt when a key is not in it.
    avatar_index: dict[str, str] = field(default_factory=dict)
    avatar_indexed_at: float = float("-inf")
    #: Limits per client address, visitor and site (server/limits.py).
    limits: Limits = field(default_factory=lambda: Limits.from_settings(Settings(), time.time))
    #: Uploads under way per uploader (one at a time: server/endpoints/files.py).
    uploads_in_flight: Counts = field(default_factory=lambda: Counts(1))
    #: Where uploaded files' bytes are kept (server/store/filestore.py; app.py chooses).
    files: FileStore = field(default_factory=lambda: LocalFiles(Settings().uploads_path()))
    #: Email (server/mail): the outbox, the doors and the worker.
    mail: Mail | None = None
    #: Prometheus metrics (server/metrics.py).
    metrics: Metrics = field(default_factory=Metrics)

    def own_origin(self, conn: HTTPConnection) -> str:
        """This server's origin: LIVECHAT_PUBLIC_URL, else what the request was addressed to."""
        if self.settings.public_url:
            return normalize_origin(self.settings.public_url) or ""
        scheme = {"ws": "http", "wss": "https"}.get(conn.url.scheme, conn.url.scheme)
        host = conn.headers.get("host", "")
        return normalize_origin(f"{scheme}://{host}") or ""


def client_ip(conn: HTTPConnection) -> str:
    """The client's address: the TCP peer's, or the one a trusted proxy forwarded (uvicorn's
    proxy-headers handling, limited to LIVECHAT_TRUSTED_PROXIES, has put it in the scope)."""
    return conn.client.host if conn.client else "unknown"


def context(conn: HTTPConnection) -> Context:
    ctx: Context = conn.app.state.ctx
    return ctx
