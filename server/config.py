"""Settings, read from the environment (12-factor) and validated before anything starts."""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from server.config_values import ConfigError as ConfigError  # (re-exported: raised by all)
from server.config_values import decimal, integer, is_origin, switch
from server.config_values import valid_port as valid_port
from server.private import private_dir

#: The longest ``LIVECHAT_BOT_REPLY_TIMEOUT`` (a year, in seconds).
MAX_BOT_REPLY_TIMEOUT = 365 * 86400


#: The least length of a secret (signing keys, the metrics token, the inbound email secret).
MIN_SECRET_CHARS = 16


class StartupError(Exception):
    """What starting failed on (a folder that cannot be made, a port in use), in a line that
    says what to fix: no traceback. Before uvicorn starts, ``livechat``'s exit status 1; in the
    app's start-up, uvicorn's 3 (server/app.py)."""


SYNCHRONOUS_MODES = ("NORMAL", "FULL")
POSTGRES_SCHEMES = ("postgresql://", "postgres://")


@dataclass(frozen=True)
class Settings:
    db_path: Path = Path("livechat.db")
    #: ``postgresql://…``: the store is PostgreSQL (server/store/postgres.py); empty: SQLite at
    #: ``db_path`` (``LIVECHAT_DATABASE_URL=sqlite:///path`` sets that path).
    database_url: str = ""
    #: PostgreSQL: read connections kept open at least / at most per process (the writer has
    #: one more of its own), and seconds a read waits for a free one before ``unavailable``.
    pg_pool_min: int = 1
    pg_pool_max: int = 10
    pg_pool_timeout: float = 5.0
    #: Newest first. The first key signs; every key verifies, so keys can be rotated.
    secret_keys: tuple[str, ...] = ()
    broker_url: str = "memory://"
    #: Every Redis key and channel starts with this, so several deployments can share a Redis.
    redis_prefix: str = "livechat"
    #: Public origin of this server (e.g. https://chat.example.com). Empty: taken from each request.
    public_url: str = ""
    workers: int = 1
    sqlite_synchronous: str = "NORMAL"
    max_frame_bytes: int = 64 * 1024
    max_text_chars: int = 4000
    visitor_token_max_age: int = 180 * 24 * 3600
    agent_session_max_age: int = 12 * 3600
    outbound_queue_frames: int = 512
    #: Seconds a new socket has to send its hello before it is closed with 4408.
    hello_timeout: float = 10.0
    #: An agent whose panel stops sending heartbeats (every 20 s) shows as offline after this.
    presence_ttl: float = 60.0
    #: An agent with no panel connected for this long has their open conversations put back in
    #: the queue (a reload or a short network drop does not).
    requeue_grace: float = 120.0
    #: Seconds a site's bot may leave a visitor's message unanswered before the conversation
    #: goes to people, as if handed off (server/bots.py); 0: never.
    bot_reply_timeout: float = 60.0
    #: Seconds between routing sweeps (the safety net behind event-driven routing).
    routing_interval: float = 5.0
    #: Per connection: sustained frames per second and the burst allowed above it.
    rate_per_second: float = 10.0
    rate_burst: int = 40
    cookie_secure: bool = False
    #: Where attachments are kept; empty: a folder beside the database ("<db>-files").
    uploads_dir: str = ""
    max_upload_bytes: int = 10 * 1024 * 1024
    #: The WAL is checkpointed and truncated when it passes half of this (bytes).
    wal_limit: int = 64 * 1024 * 1024
    #: Seconds a write waits for another process's write lock before it is refused
    #: (``unavailable``, retry later).
    sqlite_busy_timeout: float = 5.0
    #: /healthz says "down" when a write cannot commit, or Redis does not answer a ping, within
    #: this many seconds.
    health_timeout: float = 2.0
    #: WebSocket keepalive: a ping every interval; a peer that does not answer within the timeout
    #: is closed (1011) and its connection aborted.
    ws_ping_interval: float = 20.0
    ws_ping_timeout: float = 20.0
    #: The furthest in the future a signed identity may expire (seconds): a hash or token good
    #: for longer is refused, so that none becomes a permanent credential.
    identity_max_lifetime: int = 7 * 24 * 3600
    #: Wrong passwords allowed before a login is refused for a while (doubling from 1 s to
    #: 15 min), per account and per client address (server/logins.py).
    login_failures_per_account: int = 5
    login_failures_per_ip: int = 20
    #: Threads that hash passwords, and how many checks may wait for them (server/hashing.py).
    password_workers: int = 1
    password_queue: int = 32
    # --- limits in layers (docs/security.md) ---------------------------------------------
    #: Proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (addresses or networks).
    trusted_proxies: tuple[str, ...] = ("127.0.0.1", "::1")
    #: Seconds a connection has to send a whole request header (each request, keep-alive too).
    header_timeout: float = 10.0
    #: Open connections at most (0: the descriptor limit, raised to its hard limit at start,
    #: less 64 for the server's own files); the last ``reserved_connections`` of them are kept
    #: for /healthz and the agents' panel, socket and API.
    max_connections: int = 0
    reserved_connections: int = 32
    max_connections_per_ip: int = 500
    #: WebSocket handshakes per client address per second (bursts of twice as many).
    handshakes_per_ip: float = 20.0
    #: Per client address per minute.
    new_visitors_per_ip: int = 60
    new_conversations_per_ip: int = 20
    uploads_per_ip: int = 30
    upload_bytes_per_ip: int = 100 * 1024 * 1024
    #: Requests to the knowledge base's public routes (widget search, articles, help centre).
    kb_requests_per_ip: int = 600
    #: Bytes of files one visitor or agent may have stored, and how long an upload may wait
    #: to be sent in a message before it is deleted (seconds).
    upload_quota_bytes: int = 50 * 1024 * 1024
    upload_grace: float = 3600.0
    max_sockets_per_visitor: int = 20
    #: Frames per second (and burst) of one visitor across all its sockets (pings aside).
    visitor_rate_per_second: float = 10.0
    visitor_rate_burst: int = 40
    #: Per site, so that a site under attack does not starve the others: frames per second
    #: from all its visitors (bursts of twice as many), new visitors and conversations per
    #: minute, visitor sockets at once.
    site_rate_per_second: float = 1000.0
    site_new_visitors_per_minute: int = 1200
    site_new_conversations_per_minute: int = 600
    max_site_connections: int = 10_000
    #: Per API token: sustained requests per second and the burst allowed above it.
    api_rate_per_second: float = 10.0
    api_rate_burst: int = 50
    #: Webhooks (server/webhooks.py): deliveries to private, loopback and link-local addresses
    #: are refused unless this is set; seconds a receiver has to answer; the first retry's delay
    #: (doubling each time, at most an hour); how long an event is retried, and an endpoint may
    #: fail without a success, before the event is failed and the endpoint disabled; how long a
    #: process holds an event it is delivering (then another may); how often the outbox is read;
    #: deliveries under way at once per process.
    webhook_allow_private: bool = False
    webhook_timeout: float = 10.0
    webhook_retry_base: float = 5.0
    webhook_max_age: float = 86400.0
    webhook_lease: float = 60.0
    webhook_poll: float = 0.5
    webhook_concurrency: int = 8
    #: Seconds between two sweeps that delete resolved conversations past their site's
    #: retention (server/privacy.py).
    retention_interval: float = 3600.0
    # --- email (docs/email.md) -------------------------------------------------------------
    #: smtp://user:pass@host:587 (STARTTLS) or smtps://user:pass@host:465; empty: email is off.
    smtp_url: str = ""
    #: The sender of sites that set none (``livechat site set KEY --email-from``).
    email_from: str = ""
    #: Replies to emails go to <token>@this domain (its MX is this server's SMTP listener, an
    #: MTA piping to ``livechat inbound-email``, or a provider posting to the HTTP door); empty:
    #: emails carry no reply address.
    email_reply_domain: str = ""
    #: Seconds an agent's reply may stay unseen before the visitor gets it (and any that follow
    #: within this time) by email.
    email_delay: float = 120.0
    #: Seconds before the first retry of an email that failed for a while (it doubles, up to an
    #: hour; after ``email_give_up`` seconds it counts as failed).
    email_retry: float = 30.0
    email_give_up: float = 3 * 24 * 3600.0
    #: Seconds a process holds an email it is sending; another process takes it over after.
    email_lease: float = 120.0
    #: Seconds between looks at the outbox (new jobs in this process wake it at once).
    email_poll: float = 1.0
    #: host:port of the built-in SMTP listener for replies (aiosmtpd); empty: none.
    smtp_listen: str = ""
    #: The key providers sign inbound posts with (POST /api/email/inbound); empty: door closed.
    email_inbound_secret: str = ""
    #: How long the reply address of an email stays good (seconds).
    email_reply_max_age: int = 90 * 24 * 3600
    #: The hour (UTC, 0-23) admins get the digest of the previous 24 hours' missed
    #: conversations; -1: never.
    email_digest_hour: int = 8

    @property
    def email_on(self) -> bool:
        return bool(self.smtp_url)
    # --- metrics (docs/deployment.md) ------------------------------------------------------
    #: ``GET /metrics`` on the chat's port to ``Authorization: Bearer <token>``.
    metrics_token: str = ""
    #: ``host:port``: the metrics on a listener of their own instead (not on the chat's port).
    metrics_listen: str = ""
    #: prometheus-client's multiprocess directory: every process using it is summed in a
    #: scrape. Empty: this process alone, or "<db>-metrics" with more than one worker.
    metrics_dir: str = ""

    @property
    def postgres(self) -> bool:
        return self.database_url.startswith(POSTGRES_SCHEMES)

    def uploads_path(self) -> Path:
        if self.uploads_dir:
            return Path(self.uploads_dir)
        return self.db_path.with_name(self.db_path.name + "-files")

    def metrics_path(self) -> Path | None:
        """Where the processes' metrics are summed (None: in this process's memory)."""
        if self.metrics_dir:
            return Path(self.metrics_dir)
        if self.workers > 1 and (self.metrics_token or self.metrics_listen):
            return self.db_path.with_name(self.db_path.name + "-metrics")
        return None

    def validate(self) -> Settings:
        if not self.secret_keys or any(len(k) < MIN_SECRET_CHARS for k in self.secret_keys):
            raise ConfigError("LIVECHAT_SECRET_KEYS needs at least one key of 16+ characters")
        if self.workers < 1:
            raise ConfigError("workers must be at least 1")
        if self.workers > 1 and self.broker_url.startswith("memory"):
            raise ConfigError(
                "the memory broker only works inside one process; with more than one worker "
                "set LIVECHAT_REDIS_URL (or LIVECHAT_BROKER_URL=redis://...)"
            )
        if self.broker_url.split(":", 1)[0] not in ("memory", "redis", "rediss", "unix"):
            raise ConfigError("the broker URL must be memory:// or redis://host:port/db")
        if not re.fullmatch(r"[A-Za-z0-9_-]+", self.redis_prefix):
            raise ConfigError("LIVECHAT_REDIS_PREFIX must be letters, digits, - and _")
        if self.database_url and not self.postgres:
            raise ConfigError("LIVECHAT_DATABASE_URL must be postgresql://… or sqlite:///path")
        if not 1 <= self.pg_pool_min <= self.pg_pool_max or self.pg_pool_timeout <= 0:
            raise ConfigError("LIVECHAT_PG_POOL_MIN must be at least 1 and at most "
                              "LIVECHAT_PG_POOL_MAX; LIVECHAT_PG_POOL_TIMEOUT above 0")
        if self.sqlite_synchronous not in SYNCHRONOUS_MODES:
            raise ConfigError(f"LIVECHAT_SQLITE_SYNCHRONOUS must be one of {SYNCHRONOUS_MODES}")
        self._positive("presence_ttl", "routing_interval")
        self._not_negative("requeue_grace")
        if not 0 <= self.bot_reply_timeout <= MAX_BOT_REPLY_TIMEOUT:
            raise ConfigError("LIVECHAT_BOT_REPLY_TIMEOUT must be 0 (never) to "
                              f"{MAX_BOT_REPLY_TIMEOUT} seconds (a year)")
        self._positive("rate_per_second", "rate_burst")
        if self.max_text_chars < 1:
            raise ConfigError("LIVECHAT_MAX_TEXT_CHARS must be at least 1")
        if self.max_frame_bytes < 1024:
            raise ConfigError("LIVECHAT_MAX_FRAME_BYTES must be at least 1024")
        self._positive("login_failures_per_account", "login_failures_per_ip")
        if self.password_workers < 1 or self.password_queue < 0:
            raise ConfigError("LIVECHAT_PASSWORD_WORKERS must be at least 1")
        try:
            for proxy in self.trusted_proxies:
                ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            raise ConfigError("LIVECHAT_TRUSTED_PROXIES: addresses or networks, comma-separated "
                              "(e.g. 127.0.0.1,10.0.0.0/8)") from None
        self._positive("header_timeout", "handshakes_per_ip", "new_visitors_per_ip",
                       "new_conversations_per_ip", "uploads_per_ip", "upload_bytes_per_ip",
                       "upload_quota_bytes", "max_connections_per_ip", "max_sockets_per_visitor",
                       "site_rate_per_second", "visitor_rate_per_second", "visitor_rate_burst",
                       "site_new_visitors_per_minute", "site_new_conversations_per_minute",
                       "max_site_connections", "api_rate_per_second", "api_rate_burst",
                       "kb_requests_per_ip")
        self._not_negative("max_connections", "reserved_connections")
        if self.upload_grace < 0:
            raise ConfigError("LIVECHAT_UPLOAD_GRACE cannot be negative")
        if self.identity_max_lifetime < 60:
            raise ConfigError("LIVECHAT_IDENTITY_MAX_LIFETIME must be at least 60 seconds")
        if self.max_upload_bytes < 1:
            raise ConfigError("LIVECHAT_MAX_UPLOAD_BYTES must be positive")
        if self.wal_limit < 1024 * 1024:
            raise ConfigError("LIVECHAT_WAL_LIMIT_BYTES must be at least 1048576 (1 MiB)")
        self._positive("sqlite_busy_timeout", "health_timeout", "ws_ping_interval",
                       "ws_ping_timeout", "hello_timeout", "webhook_timeout",
                       "webhook_retry_base", "webhook_max_age", "webhook_poll",
                       "webhook_concurrency", "retention_interval")
        if self.webhook_lease <= self.webhook_timeout:
            raise ConfigError("LIVECHAT_WEBHOOK_LEASE must be longer than "
                              "LIVECHAT_WEBHOOK_TIMEOUT")
        if self.public_url and not is_origin(self.public_url):
            raise ConfigError("LIVECHAT_PUBLIC_URL must be an origin: http:// or https://, the "
                              "host and an optional port, no path (e.g. https://chat.example.com "
                              f"or https://chat.example.com:8443), not {self.public_url!r}")
        from server.config_email import check_email  # (it imports this module)

        check_email(self)
        if self.metrics_token and len(self.metrics_token) < MIN_SECRET_CHARS:
            raise ConfigError("LIVECHAT_METRICS_TOKEN must be at least 16 characters")
        if self.metrics_listen:
            host, _, port = self.metrics_listen.rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ConfigError("LIVECHAT_METRICS_LISTEN must be host:port "
                                  "(e.g. 127.0.0.1:9100 or [::1]:9100)")
        return self

    def _positive(self, *fields: str) -> None:
        for name in fields:
            if getattr(self, name) <= 0:
                raise ConfigError(f"{setting_name(name)} must be positive, not "
                                  f"{getattr(self, name)!r}")

    def _not_negative(self, *fields: str) -> None:
        for name in fields:
            if getattr(self, name) < 0:
                raise ConfigError(f"{setting_name(name)} cannot be negative, not "
                                  f"{getattr(self, name)!r}")

    def with_(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]


def check_serving(env: Mapping[str, str]) -> None:
    """The settings ``livechat serve`` (and ``demo``) read beside these, as its options'
    defaults: checked by them and by ``doctor``, which then says so (other commands do not
    serve, and do not look)."""
    from server.logs import FORMATS, LEVELS

    for name, allowed in (("LIVECHAT_LOG_FORMAT", FORMATS), ("LIVECHAT_LOG_LEVEL", LEVELS)):
        if name in env and env[name] not in allowed:
            raise ConfigError(f"{name} is one of {', '.join(allowed)}")
    port = env.get("PORT")
    if port is not None and not valid_port(port):
        raise ConfigError("PORT is a port number, 1 to 65535")


def configured_keys(raw: str) -> tuple[str, ...]:
    """The keys of a LIVECHAT_SECRET_KEYS value (comma-separated, newest first)."""
    return tuple(k.strip() for k in raw.split(",") if k.strip())


def secret_keys_from(env: Mapping[str, str], db_path: Path) -> tuple[str, ...]:
    """Keys from LIVECHAT_SECRET_KEYS (comma-separated, newest first).

    Without it, a key is generated once and kept in a file beside the database (mode 0600), so
    that the embedded default needs no configuration and tokens survive restarts.
    """
    keys = configured_keys(env.get("LIVECHAT_SECRET_KEYS", ""))
    if keys:
        return keys
    key_file = db_path.with_name(db_path.name + ".secret")
    if not key_file.exists():
        private_dir(key_file.parent)
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(48))
    return (key_file.read_text().strip(),)


def default_db_path(env: Mapping[str, str]) -> Path:
    """The SQLite file when none is named (``--db``): ``LIVECHAT_DATABASE_URL=sqlite:///path``
    (relative, or ``sqlite:////…`` absolute), else ``LIVECHAT_DB``, else ``livechat.db``. The
    server and every command find the same file so."""
    database_url = env.get("LIVECHAT_DATABASE_URL", "").strip()
    if database_url.startswith("sqlite:///"):
        return Path(database_url.removeprefix("sqlite:///"))
    return Path(env.get("LIVECHAT_DB", "livechat.db"))


#: The settings whose names are not ``LIVECHAT_`` and their field's, in capitals.
_NAMED_OTHERWISE = {"wal_limit": "LIVECHAT_WAL_LIMIT_BYTES",
                    "upload_quota_bytes": "LIVECHAT_UPLOAD_QUOTA",
                    "site_new_visitors_per_minute": "LIVECHAT_SITE_NEW_VISITORS",
                    "site_new_conversations_per_minute": "LIVECHAT_SITE_NEW_CONVERSATIONS"}


def setting_name(field: str) -> str:
    """The environment variable a ``Settings`` field is read from (every refusal names it)."""
    return _NAMED_OTHERWISE.get(field, "LIVECHAT_" + field.upper())


_STAND_IN = ("(generated once every other setting is checked)",)


def from_env(env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
    """The settings of ``env`` (default: the process's). ``db_path=`` (a ``--db`` given to a
    command) is SQLite at that path, whatever ``LIVECHAT_DATABASE_URL`` says."""
    env = os.environ if env is None else env
    database_url = env.get("LIVECHAT_DATABASE_URL", "").strip()
    given = overrides.pop("db_path", None)
    if database_url.startswith("sqlite:///") or given is not None:
        # (the path: default_db_path's, or a ``--db`` given, which wins over any URL)
        database_url = ""
    db_path = Path(str(given or default_db_path(env)))
    if database_url.startswith(POSTGRES_SCHEMES) and not env.get("LIVECHAT_SECRET_KEYS"):
        raise ConfigError("with LIVECHAT_DATABASE_URL=postgresql://… set LIVECHAT_SECRET_KEYS: "
                          "every machine must sign with the same keys (a key file on one "
                          "machine's disk would not do)")
    broker = env.get("LIVECHAT_BROKER_URL") or env.get("LIVECHAT_REDIS_URL") or "memory://"
    settings = Settings(
        db_path=db_path,
        database_url=database_url,
        pg_pool_min=integer(env, "LIVECHAT_PG_POOL_MIN", 1),
        pg_pool_max=integer(env, "LIVECHAT_PG_POOL_MAX", 10),
        pg_pool_timeout=decimal(env, "LIVECHAT_PG_POOL_TIMEOUT", 5.0),
        # (A stand-in until every other setting is checked: the key file is made only then,
        # so that a refused start leaves no file behind.)
        secret_keys=configured_keys(env.get("LIVECHAT_SECRET_KEYS", "")) or _STAND_IN,
        broker_url=broker,
        redis_prefix=env.get("LIVECHAT_REDIS_PREFIX", "livechat"),
        public_url=env.get("LIVECHAT_PUBLIC_URL", "").rstrip("/"),
        workers=integer(env, "LIVECHAT_WORKERS", 1),
        sqlite_synchronous=env.get("LIVECHAT_SQLITE_SYNCHRONOUS", "NORMAL").upper(),
        max_frame_bytes=integer(env, "LIVECHAT_MAX_FRAME_BYTES", 64 * 1024),
        max_text_chars=integer(env, "LIVECHAT_MAX_TEXT_CHARS", 4000),
        rate_per_second=decimal(env, "LIVECHAT_RATE_PER_SECOND", 10.0),
        hello_timeout=decimal(env, "LIVECHAT_HELLO_TIMEOUT", 10.0),
        presence_ttl=decimal(env, "LIVECHAT_PRESENCE_TTL", 60.0),
        requeue_grace=decimal(env, "LIVECHAT_REQUEUE_GRACE", 120.0),
        bot_reply_timeout=decimal(env, "LIVECHAT_BOT_REPLY_TIMEOUT", 60.0),
        routing_interval=decimal(env, "LIVECHAT_ROUTING_INTERVAL", 5.0),
        rate_burst=integer(env, "LIVECHAT_RATE_BURST", 40),
        cookie_secure=switch(env, "LIVECHAT_COOKIE_SECURE"),
        uploads_dir=env.get("LIVECHAT_UPLOADS", ""),
        max_upload_bytes=integer(env, "LIVECHAT_MAX_UPLOAD_BYTES", 10 * 1024 * 1024),
        wal_limit=integer(env, "LIVECHAT_WAL_LIMIT_BYTES", 64 * 1024 * 1024),
        sqlite_busy_timeout=decimal(env, "LIVECHAT_SQLITE_BUSY_TIMEOUT", 5.0),
        health_timeout=decimal(env, "LIVECHAT_HEALTH_TIMEOUT", 2.0),
        ws_ping_interval=decimal(env, "LIVECHAT_WS_PING_INTERVAL", 20.0),
        ws_ping_timeout=decimal(env, "LIVECHAT_WS_PING_TIMEOUT", 20.0),
        identity_max_lifetime=integer(env, "LIVECHAT_IDENTITY_MAX_LIFETIME", 7 * 24 * 3600),
        login_failures_per_account=integer(env, "LIVECHAT_LOGIN_FAILURES_PER_ACCOUNT", 5),
        login_failures_per_ip=integer(env, "LIVECHAT_LOGIN_FAILURES_PER_IP", 20),
        password_workers=integer(env, "LIVECHAT_PASSWORD_WORKERS", 1),
        password_queue=integer(env, "LIVECHAT_PASSWORD_QUEUE", 32),
        trusted_proxies=tuple(p.strip() for p in env.get(
            "LIVECHAT_TRUSTED_PROXIES", "127.0.0.1,::1").split(",") if p.strip()),
        header_timeout=decimal(env, "LIVECHAT_HEADER_TIMEOUT", 10.0),
        max_connections=integer(env, "LIVECHAT_MAX_CONNECTIONS", 0),
        reserved_connections=integer(env, "LIVECHAT_RESERVED_CONNECTIONS", 32),
        max_connections_per_ip=integer(env, "LIVECHAT_MAX_CONNECTIONS_PER_IP", 500),
        handshakes_per_ip=decimal(env, "LIVECHAT_HANDSHAKES_PER_IP", 20.0),
        new_visitors_per_ip=integer(env, "LIVECHAT_NEW_VISITORS_PER_IP", 60),
        new_conversations_per_ip=integer(env, "LIVECHAT_NEW_CONVERSATIONS_PER_IP", 20),
        uploads_per_ip=integer(env, "LIVECHAT_UPLOADS_PER_IP", 30),
        upload_bytes_per_ip=integer(env, "LIVECHAT_UPLOAD_BYTES_PER_IP", 100 * 1024 * 1024),
        kb_requests_per_ip=integer(env, "LIVECHAT_KB_REQUESTS_PER_IP", 600),
        upload_quota_bytes=integer(env, "LIVECHAT_UPLOAD_QUOTA", 50 * 1024 * 1024),
        upload_grace=decimal(env, "LIVECHAT_UPLOAD_GRACE", 3600.0),
        max_sockets_per_visitor=integer(env, "LIVECHAT_MAX_SOCKETS_PER_VISITOR", 20),
        visitor_rate_per_second=decimal(env, "LIVECHAT_VISITOR_RATE_PER_SECOND", 10.0),
        visitor_rate_burst=integer(env, "LIVECHAT_VISITOR_RATE_BURST", 40),
        site_rate_per_second=decimal(env, "LIVECHAT_SITE_RATE_PER_SECOND", 1000.0),
        site_new_visitors_per_minute=integer(env, "LIVECHAT_SITE_NEW_VISITORS", 1200),
        site_new_conversations_per_minute=integer(env, "LIVECHAT_SITE_NEW_CONVERSATIONS", 600),
        max_site_connections=integer(env, "LIVECHAT_MAX_SITE_CONNECTIONS", 10_000),
        api_rate_per_second=decimal(env, "LIVECHAT_API_RATE_PER_SECOND", 10.0),
        api_rate_burst=integer(env, "LIVECHAT_API_RATE_BURST", 50),
        webhook_allow_private=switch(env, "LIVECHAT_WEBHOOK_ALLOW_PRIVATE"),
        webhook_timeout=decimal(env, "LIVECHAT_WEBHOOK_TIMEOUT", 10.0),
        webhook_retry_base=decimal(env, "LIVECHAT_WEBHOOK_RETRY_BASE", 5.0),
        webhook_max_age=decimal(env, "LIVECHAT_WEBHOOK_MAX_AGE", 86400.0),
        webhook_lease=decimal(env, "LIVECHAT_WEBHOOK_LEASE", 60.0),
        webhook_poll=decimal(env, "LIVECHAT_WEBHOOK_POLL", 0.5),
        webhook_concurrency=integer(env, "LIVECHAT_WEBHOOK_CONCURRENCY", 8),
        retention_interval=decimal(env, "LIVECHAT_RETENTION_INTERVAL", 3600.0),
        smtp_url=env.get("LIVECHAT_SMTP_URL", "").strip(),
        email_from=env.get("LIVECHAT_EMAIL_FROM", "").strip(),
        email_reply_domain=env.get("LIVECHAT_EMAIL_REPLY_DOMAIN", "").strip().lower(),
        email_delay=decimal(env, "LIVECHAT_EMAIL_DELAY", 120.0),
        email_retry=decimal(env, "LIVECHAT_EMAIL_RETRY", 30.0),
        email_give_up=decimal(env, "LIVECHAT_EMAIL_GIVE_UP", 3 * 24 * 3600.0),
        email_lease=decimal(env, "LIVECHAT_EMAIL_LEASE", 120.0),
        email_poll=decimal(env, "LIVECHAT_EMAIL_POLL", 1.0),
        smtp_listen=env.get("LIVECHAT_SMTP_LISTEN", "").strip(),
        email_inbound_secret=env.get("LIVECHAT_EMAIL_INBOUND_SECRET", "").strip(),
        email_reply_max_age=integer(env, "LIVECHAT_EMAIL_REPLY_MAX_AGE", 90 * 24 * 3600),
        email_digest_hour=integer(env, "LIVECHAT_EMAIL_DIGEST_HOUR", 8),
        metrics_token=env.get("LIVECHAT_METRICS_TOKEN", "").strip(),
        metrics_listen=env.get("LIVECHAT_METRICS_LISTEN", "").strip(),
        metrics_dir=env.get("LIVECHAT_METRICS_DIR", "").strip(),
    )
    settings = settings.with_(**overrides).validate()
    if settings.secret_keys == _STAND_IN:
        settings = settings.with_(secret_keys=secret_keys_from(env, db_path))
    return settings
