"""The app factory. The lifespan opens every resource and closes it again; nothing is global."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import sys
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from starlette.applications import Starlette
from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server import broker as brokers
from server import clock
from server.access import AccessLog
from server.assets import asset_dir
from server.auth import Tokens
from server.bots import FirstResponder, keep_connected
from server.broker import PresenceUnavailable
from server.chat import Chat
from server.config import Settings, StartupError, from_env
from server.endpoints import (
    account,
    admin,
    api_v1,
    articles,
    avatars,
    email,
    files,
    help_pages,
    http,
    knowledge,
    reports,
)
from server.endpoints import metrics as metrics_endpoint
from server.endpoints.agent import agent_socket
from server.endpoints.api_base import Api
from server.endpoints.context import Context
from server.endpoints.visitor import visitor_socket
from server.errors import Close, Unavailable
from server.hashing import HashPool
from server.hub import Hub
from server.lean import LeanStaticFiles
from server.limits import Buckets, Limits
from server.logins import Backoff
from server.mail import listener
from server.mail.service import Mail
from server.metrics import MeteredBroker, Metrics, counting
from server.privacy import run_retention
from server.private import private_dir
from server.routing import Router, agent_ids, connected_key, visitor_presence_key
from server.store import Store
from server.store.api_reads import ApiReads
from server.store.api_tokens import ApiTokens
from server.store.bots import Bots
from server.store.factory import cannot_open, create_files, create_store
from server.store.privacy import Privacy
from server.store.webhooks import Webhooks
from server.tasks import report_death
from server.typical import TypicalReplies
from server.webhooks import Deliverer

log = logging.getLogger("livechat")


class NoSniff:
    """Every HTTP response, static files included, is served with ``nosniff``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(k.lower() == b"x-content-type-options" for k, _ in headers):
                    headers.append((b"x-content-type-options", b"nosniff"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_header)


class NoNul:
    """Any request with a NUL character in its path or query string (``%00``) is ``400
    bad_request``, before any route: no address of ours holds one, and PostgreSQL refuses NUL in
    text, so a route that passed one to the store would fail there."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and (
                "\x00" in scope["path"] or b"%00" in scope["query_string"]):
            if scope["type"] == "websocket":  # refused before the handshake (HTTP 403)
                await send({"type": "websocket.close", "code": 1008})
                return
            await JSONResponse({"error": "bad_request",
                                "message": "a NUL character in the address"},
                               status_code=400)(scope, receive, send)
            return
        await self.app(scope, receive, send)


#: The collector's generation thresholds while serving (Python's default: 700, 10, 10). The
#: message path makes few cyclic objects, so young collections can be rarer; see
#: docs/benchmarks.md for what each setting measured.
GC_THRESHOLDS = (7000, 20, 20)


def quiet_gc() -> Callable[[], None]:
    """Keep the cyclic garbage collector from pausing the loop for long: everything made at
    start-up (modules, settings, the app, caches: most of the heap, and never garbage) is moved
    out of the collector's generations with ``gc.freeze()``, so that a full collection scans only
    what was made since — a 29 ms pause in the profile of issue 11 otherwise. Returns the undo."""
    before = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)

    def restore() -> None:
        gc.set_threshold(*before)
        gc.unfreeze()

    return restore


async def _sample(metrics: Metrics, store: Store, broker: brokers.Broker) -> None:
    """What is polled rather than counted (health, the Redis outbox, drops), every second."""
    while True:
        metrics.sample(store, broker)
        await asyncio.sleep(1.0)


def make_folders(settings: Settings) -> None:
    """The uploads folder and the metrics' (if any), made if missing: ``livechat serve`` does it
    before uvicorn starts, and the lifespan again; a folder that cannot be made is said so."""
    folders = [("LIVECHAT_UPLOADS", settings.uploads_path())]
    if (metrics_dir := settings.metrics_path()) is not None:
        folders.append(("LIVECHAT_METRICS_DIR", metrics_dir))
    for name, folder in folders:
        try:
            private_dir(folder)
        except OSError as exc:
            raise folder_error(name, folder, exc) from None


def folder_error(name: str, folder: object, exc: OSError) -> StartupError:
    """The one line a setting's folder that cannot be used is refused with."""
    return StartupError(f"{name}: cannot use {folder} as a folder: {exc.strerror or exc}")


@contextlib.asynccontextmanager
async def _listening(name: str, address: str) -> AsyncIterator[None]:
    """A listener's address that cannot be listened on (in use, not this machine's) is said."""
    try:
        yield
    except OSError as exc:
        raise StartupError(f"{name}: cannot listen on {address}: "
                           f"{exc.strerror or exc}") from None


class SaysWhyStartFailed:
    """A start-up that failed with a ``StartupError`` is logged as its one line rather than as
    Starlette's traceback (uvicorn then exits, non-zero)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return

        async def say(message: Message) -> None:
            # (Sent by Starlette while it handles the lifespan's exception.)
            if message["type"] == "lifespan.startup.failed" and isinstance(
                    exc := sys.exc_info()[1], StartupError):
                message = {**message, "message": str(exc)}
            await send(message)

        await self.app(scope, receive, say)


def create_app(settings: Settings | None = None, *, clock: Callable[[], float] = time.time) -> (
    Starlette
):
    settings = (settings or from_env()).validate()
    try:
        metrics = Metrics(settings.metrics_path())
    except OSError as exc:
        raise folder_error("LIVECHAT_METRICS_DIR", settings.metrics_path(), exc) from None

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # Whatever fails, what was opened is closed again (in the reverse order): a store left
        # open keeps its threads, and the process, alive after uvicorn gave up.
        async with contextlib.AsyncExitStack() as opened:
            opened.callback(metrics.close)
            store = create_store(settings, clock)
            try:
                await store.open()
            except Exception as exc:
                if (said := cannot_open(exc, settings)) is None:
                    raise
                raise StartupError(str(said)) from None
            opened.push_async_callback(store.close)
            store.on_batch = metrics.store_batch
            make_folders(settings)
            inner, presence = brokers.create(settings.broker_url, clock, settings.redis_prefix,
                                             settings.health_timeout)
            opened.push_async_callback(presence.close)
            broker = MeteredBroker(inner, metrics)
            opened.push_async_callback(broker.close)
            hub = Hub(broker)
            chat = Chat(store, broker, clock=clock, metrics=metrics)
            router = Router(store, presence, chat, settings.routing_interval,
                            settings.requeue_grace, clock, hub.local_agents)
            chat.on_change = lambda conversation: router.poke(conversation.site_id)
            tasks: list[asyncio.Task[None]] = []

            def start(name: str, work: Coroutine[Any, Any, None]) -> None:
                """A background task of this process, whose death is reported."""
                tasks.append(asyncio.create_task(work, name=name))
                tasks[-1].add_done_callback(report_death)

            async def stop_tasks() -> None:
                for task in tasks:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task

            hasher = HashPool(settings.password_workers, settings.password_queue)
            opened.callback(hasher.close)
            opened.push_async_callback(stop_tasks)
            opened.callback(hub.close_all, Close.GOING_AWAY, "server restarting")
            file_store = create_files(settings, store)
            mail = Mail(settings, store, clock, chat, files=file_store)
            mail.install()

            async def visitor_online(visitor_id: str) -> bool:
                try:
                    return bool(await presence.members(visitor_presence_key(visitor_id)))
                except PresenceUnavailable:
                    return False  # unknown: the check-in goes by email as well

            chat.sweepers.append(lambda: mail.wake_follow_ups(visitor_online))

            async def agent_online(site_id: str, agent_id: str) -> bool:
                try:
                    return agent_id in agent_ids(await presence.members(connected_key(site_id)))
                except PresenceUnavailable:
                    return False  # unknown: the email goes

            mail.agent_online = agent_online
            await broker.start(counting(hub.deliver, metrics), hub.reset)
            await router.prime()
            for name, work in (("inbox-publisher", chat.run_inbox_publisher()),
                               ("router", router.run())):
                start(name, work)
            ctx = app.state.ctx = Context(
                settings, store, broker, presence, hub, chat, Tokens(settings.secret_keys, clock),
                clock, router, TypicalReplies(store, clock), hasher=hasher,
                account_backoff=Backoff(settings.login_failures_per_account, clock),
                ip_backoff=Backoff(settings.login_failures_per_ip, clock),
                limits=Limits.from_settings(settings, clock), mail=mail,
                metrics=metrics, files=file_store)
            hooks, bots = Webhooks(store), Bots(store)
            chat.first_responder = (responder := FirstResponder(bots, chat)).take
            if settings.bot_reply_timeout:
                chat.sweepers.append(
                    lambda: responder.hand_off_unanswered(settings.bot_reply_timeout))
            app.state.api = Api(ApiTokens(store), ApiReads(store), Buckets(
                settings.api_rate_per_second, settings.api_rate_burst, clock), hooks, responder,
                rights := Privacy(store))
            start("retention", run_retention(rights, file_store, settings.retention_interval))
            start("bots-connected", keep_connected(bots, presence, settings.presence_ttl))
            start("webhook-deliverer", Deliverer.from_settings(hooks, settings, clock).run())
            if mail.on or settings.email_reply_domain:
                start("email-worker", mail.run())
            if settings.smtp_listen:
                async with _listening("LIVECHAT_SMTP_LISTEN", settings.smtp_listen):
                    smtp_listener = await listener.serve(mail, settings.smtp_listen)
                opened.callback(smtp_listener.close)
            start("upload-sweeper", files.run_sweeper(ctx))
            start("metrics", _sample(metrics, store, inner))
            if settings.metrics_listen:
                async with _listening("LIVECHAT_METRICS_LISTEN", settings.metrics_listen):
                    metrics_server = await metrics_endpoint.listen(
                        settings.metrics_listen, settings.metrics_token, lambda: ctx)
                opened.callback(metrics_server.close)
            log.info("livechat ready (store %s, broker %s)",
                     "postgresql" if settings.postgres else settings.db_path,
                     settings.broker_url.split(":", 1)[0])
            restore_gc = quiet_gc()
            try:
                yield
            finally:
                restore_gc()

    routes = [
        Route("/", http.index),
        Route("/healthz", http.health),
        Route("/metrics", metrics_endpoint.metrics),
        Route("/favicon.ico", http.favicon),
        Route("/widget.js", http.widget_loader),
        Route("/widget/frame", http.widget_frame),
        Route("/widget/launcher.css", http.widget_launcher_css),
        Route("/widget/kb/search", knowledge.search),
        Route("/widget/kb/articles/{article_id}", knowledge.article),
        Route("/widget/kb/article", knowledge.article),
        Route("/widget/kb/events", knowledge.event, methods=["POST"]),
        Mount("/widget/static", LeanStaticFiles(directory=asset_dir("widget") / "static")),
        Route("/help/{slug}", help_pages.home),
        Route("/help/{slug}/sitemap.xml", help_pages.sitemap),
        Route("/help/{slug}/theme.css", help_pages.theme),
        Route("/help/{slug}/{lang}", help_pages.index),
        Route("/help/{slug}/{lang}/search", help_pages.search),
        Route("/help/{slug}/{lang}/category/{category}", help_pages.category),
        Route("/help/{slug}/{lang}/{article}", help_pages.article),
        Route("/help/{slug}/{lang}/{article}/vote", help_pages.vote, methods=["POST"]),
        Route("/agent", http.panel),
        Route("/agent/reset", http.reset_page),
        Mount("/agent/static", LeanStaticFiles(directory=asset_dir("agent_ui") / "static")),
        Route("/api/agent/login", account.login, methods=["POST"]),
        Route("/api/agent/logout", account.logout, methods=["POST"]),
        Route("/api/agent/me", account.me),
        Route("/api/agent/password", account.change_password, methods=["POST"]),
        Route("/api/agent/reset", account.reset_password, methods=["POST"]),
        Route("/api/files", files.upload, methods=["POST"]),
        Route("/api/reports", reports.report),
        Route("/api/agent/accept", admin.accept_invite, methods=["POST"]),
        Route("/api/admin/sites", admin.list_sites),
        Route("/api/admin/sites", admin.create_site, methods=["POST"]),
        Route("/api/admin/sites/{site_id}", admin.change_site, methods=["PATCH"]),
        Route("/api/admin/agents", admin.list_agents),
        Route("/api/admin/agents", admin.invite, methods=["POST"]),
        Route("/api/admin/agents/{agent_id}", admin.change_agent, methods=["PATCH"]),
        Route("/api/admin/agents/{agent_id}/reset", admin.reset_link, methods=["POST"]),
        Route("/api/admin/teams", admin.list_teams),
        Route("/api/admin/teams", admin.save_team, methods=["POST"]),
        Route("/api/admin/teams/{team_id}", admin.save_team, methods=["PATCH"]),
        Route("/api/admin/teams/{team_id}", admin.delete_team, methods=["DELETE"]),
        Route("/api/admin/articles", articles.list_articles),
        Route("/api/admin/articles", articles.save_article, methods=["POST"]),
        Route("/api/admin/articles/preview", articles.preview, methods=["POST"]),
        Route("/api/admin/articles/{article_id}", articles.get_article),
        Route("/api/admin/articles/{article_id}", articles.save_article, methods=["PATCH"]),
        Route("/api/admin/articles/{article_id}", articles.delete_article, methods=["DELETE"]),
        Route("/api/admin/sites/{site_id}/help", articles.help_centre, methods=["PUT"]),
        Route("/api/agent/articles", articles.agent_search),
        Route("/api/agent/articles/by-url", articles.agent_by_url),
        Route("/files/{file_id}", files.download),
        Route("/api/agent/avatar", avatars.upload, methods=["POST"]),
        Route("/api/agent/avatar", avatars.remove, methods=["DELETE"]),
        Route("/avatars/{key}", avatars.download),
        *api_v1.routes(),
        Route("/email/unsubscribe", email.unsubscribe, methods=["GET", "POST"]),
        Route("/api/email/inbound", email.receive, methods=["POST"]),
        Route("/api/agent/forgot", email.forgot_password, methods=["POST"]),
        Route("/email/rate", email.rate, methods=["GET", "POST"]),
        Route("/api/agent/email-prefs", email.email_prefs, methods=["GET", "POST"]),
        WebSocketRoute("/ws/visitor", visitor_socket),
        WebSocketRoute("/ws/agent", agent_socket),
    ]
    app = Starlette(routes=routes, lifespan=lifespan,
                    exception_handlers={Unavailable: http.unavailable})
    app.add_middleware(NoNul)
    app.add_middleware(NoSniff)
    # The loader and the frame's files go out compressed (WebSockets are not touched).
    app.add_middleware(GZipMiddleware, minimum_size=1000)
    # Outermost: it sees what really went out (compressed sizes, final status) and gives every
    # line logged inside the request's id.
    app.add_middleware(AccessLog, metrics=metrics)
    app.add_middleware(SaysWhyStartFailed)
    return app


def factory() -> Starlette:
    """For ``uvicorn --factory server.app:factory``: settings from the environment."""
    return create_app(from_env(), clock=clock.from_env())
