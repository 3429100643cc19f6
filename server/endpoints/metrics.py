"""``GET /metrics``: the Prometheus text format, never open to anyone by default.

* ``LIVECHAT_METRICS_TOKEN`` alone: served on the chat's own port to ``Authorization: Bearer
  <token>``; without it, or with another, ``401``.
* ``LIVECHAT_METRICS_LISTEN`` (``host:port``): served there only, on a listener of its own (the
  chat's port answers ``404``); with a token as well, the token is required there too.
* Neither: ``404``.

The listener of its own is a few lines over h11 (uvicorn's HTTP parser): one ``GET /metrics``
per connection, bounded in size and time. It binds with ``SO_REUSEPORT``, so that the workers of
``--workers N`` share the address as they share the chat's port; with ``LIVECHAT_METRICS_DIR``
any of them answers with the sum of all (server/metrics.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable

import h11
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from server.broker import PresenceUnavailable
from server.errors import Unavailable
from server.metrics import CONTENT_TYPE, authorized
from server.routing import agent_ids, presence_key

from .context import Context, context

_MAX_REQUEST = 16 * 1024
_DEADLINE = 10.0
_CHALLENGE = 'Bearer realm="metrics"'


class _Families(Collector):
    def __init__(self, families: list[GaugeMetricFamily]) -> None:
        self.families = families

    def collect(self) -> list[GaugeMetricFamily]:
        return self.families


#: How long a scrape waits for the database's gauges (``shared_state``).
STORE_READS_SECONDS = 2.0


async def shared_state(ctx: Context) -> CollectorRegistry:
    """What every process shares (the database, presence): read once, for this scrape."""
    waiting = GaugeMetricFamily("livechat_conversations_waiting",
                                "Conversations waiting for an agent, per site.", labels=["site"])
    oldest = GaugeMetricFamily("livechat_queue_oldest_wait_seconds", "How long the longest "
                               "waiting conversation has waited, per site, since it reached "
                               "people (its start, or its bot's handoff), or since it was last "
                               "put back in the queue (0: none waits).",
                               labels=["site"])
    typical = GaugeMetricFamily("livechat_queue_typical_wait_seconds", "Average time to a "
                                "person's first reply over the site's 50 most recent "
                                "conversations a person answered (bots' replies do not count).",
                                labels=["site"])
    online = GaugeMetricFamily("livechat_agents_online", "Agents available (panel connected, "
                               "not away), per site; absent while presence cannot be read.",
                               labels=["site"])
    wal = GaugeMetricFamily("livechat_sqlite_wal_bytes", "Size of the SQLite write-ahead log.")
    pending = GaugeMetricFamily("livechat_outbox_pending", "Jobs of a durable outbox still to "
                                "do (emails to send, webhook events to deliver).",
                                labels=["outbox"])
    behind = GaugeMetricFamily("livechat_outbox_oldest_seconds", "Age of the oldest job still "
                               "to do in a durable outbox (0: none).", labels=["outbox"])
    now = ctx.clock()
    # While the database cannot be read (in time: a read waits for a free connection for up
    # to the pool's timeout), its gauges are absent and the rest is scraped:
    # ``livechat_store_up`` is what says so (a 503 was a failed scrape, saying nothing).
    with contextlib.suppress(Unavailable, TimeoutError):
        async with asyncio.timeout(STORE_READS_SECONDS):
            await _store_gauges(ctx, now, waiting, oldest, typical, online, pending, behind)
    try:
        wal.add_metric([], (ctx.settings.db_path.parent / (ctx.settings.db_path.name + "-wal"))
                       .stat().st_size)
    except FileNotFoundError:
        wal.add_metric([], 0)
    registry = CollectorRegistry()
    registry.register(_Families([waiting, oldest, typical, online, wal, pending, behind]))
    return registry


async def _store_gauges(ctx: Context, now: float, waiting: GaugeMetricFamily,
                        oldest: GaugeMetricFamily, typical: GaugeMetricFamily,
                        online: GaugeMetricFamily, pending: GaugeMetricFamily,
                        behind: GaugeMetricFamily) -> None:
    """The gauges read from the database (and, per site, presence)."""
    for outbox, (count, oldest_ms) in (await ctx.store.outbox_backlog()).items():
        pending.add_metric([outbox], count)
        behind.add_metric([outbox], max(0.0, now - oldest_ms / 1000) if oldest_ms else 0)
    for site in await ctx.store.sites():
        count, since = await ctx.store.queue_wait(site.id)
        waiting.add_metric([site.id], count)
        # Since it reached people (its start, its bot's handoff) or was put back in the queue.
        oldest.add_metric([site.id], max(0.0, now - since / 1000) if since is not None else 0)
        average = await ctx.store.typical_reply(site.id)
        if average is not None:
            typical.add_metric([site.id], average)
        with contextlib.suppress(PresenceUnavailable):
            members = await ctx.presence.members(presence_key(site.id))
            online.add_metric([site.id], len(agent_ids(members)))


async def scrape(ctx: Context) -> bytes:
    ctx.metrics.sample(ctx.store, ctx.broker.inner if hasattr(ctx.broker, "inner")
                       else ctx.broker)
    return ctx.metrics.exposition(await shared_state(ctx))


async def metrics(request: Request) -> Response:
    ctx = context(request)
    settings = ctx.settings
    if settings.metrics_listen or not settings.metrics_token:
        return PlainTextResponse("Not Found", 404)
    if not authorized(request.headers.get("authorization"), settings.metrics_token):
        return PlainTextResponse("Unauthorized", 401, headers={"WWW-Authenticate": _CHALLENGE})
    return Response(await scrape(ctx), media_type=CONTENT_TYPE)


def split_listen(address: str) -> tuple[str, int]:
    """``host:port`` or ``[v6]:port``."""
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


async def listen(address: str, token: str, ctx: Callable[[], Context]) -> asyncio.Server:
    """The metrics on an address of their own (``LIVECHAT_METRICS_LISTEN``)."""
    host, port = split_listen(address)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if hasattr(socket, "SO_REUSEPORT"):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(_DEADLINE):
                await _answer(reader, writer, token, ctx)
        except (TimeoutError, h11.ProtocolError, OSError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    return await asyncio.start_server(serve, sock=sock, backlog=64)


async def _answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, token: str,
                  ctx: Callable[[], Context]) -> None:
    conn = h11.Connection(h11.SERVER, max_incomplete_event_size=_MAX_REQUEST)
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            data = await reader.read(4096)
            conn.receive_data(data)
            if not data and conn.their_state is not h11.SEND_BODY:
                return
            continue
        if isinstance(event, h11.Request):
            break
        if isinstance(event, h11.ConnectionClosed):
            return
    headers = {k.decode().lower(): v.decode("latin-1") for k, v in event.headers}
    status, extra, body = 200, [], b""
    if event.target.split(b"?", 1)[0] != b"/metrics":
        status, body = 404, b"Not Found"
    elif event.method not in (b"GET", b"HEAD"):
        status, body, extra = 405, b"Method Not Allowed", [("Allow", "GET, HEAD")]
    elif token and not authorized(headers.get("authorization"), token):
        status, body, extra = 401, b"Unauthorized", [("WWW-Authenticate", _CHALLENGE)]
    else:
        body = await scrape(ctx())
    kind = CONTENT_TYPE if status == 200 else "text/plain; charset=utf-8"
    out = conn.send(h11.Response(status_code=status, headers=[
        ("Content-Type", kind), ("Content-Length", str(len(body))), ("Connection", "close"),
        *extra]))
    assert out is not None
    writer.write(out)
    if event.method != b"HEAD":
        writer.write(conn.send(h11.Data(data=body)) or b"")
    writer.write(conn.send(h11.EndOfMessage()) or b"")
    await writer.drain()
    ctx().metrics.http_request("/metrics", status)
