"""Webhook delivery: a task per process takes due rows from the outbox (server/store/webhooks.py)
and POSTs them, signed per the Standard Webhooks specification with its reference library
(``webhook-id``, ``webhook-timestamp``, ``webhook-signature: v1,<base64 HMAC-SHA256>``).

A 2xx answer is a delivery; anything else — another status, a redirect (never followed), a
timeout, a refused connection, a refused address — is retried after ``retry_base × 2^attempts``
seconds (at most an hour) until the event is ``max_age`` old (a day), then it is marked failed.

SSRF: the URL's host is resolved before each delivery, and an address that is private, loopback,
link-local, multicast, reserved or unspecified is refused unless LIVECHAT_WEBHOOK_ALLOW_PRIVATE
is set (the check and the connection resolve separately: a host whose DNS answers change between
the two can still slip through; put an egress proxy in front where that matters).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx
from standardwebhooks import Webhook

from server.config import Settings
from server.errors import Unavailable
from server.health import Episode
from server.store.webhooks import Due, Webhooks, span

log = logging.getLogger("livechat.webhooks")
USER_AGENT = "livechat-webhooks/1"
MAX_RETRY_SECONDS = 3600.0


class Refused(ValueError):
    """The URL may not be delivered to (scheme, host, or a private address)."""


class Malformed(Refused):
    """Not an http(s) URL at all (a bad request, rather than a URL we will not deliver to)."""


def check_url(url: str) -> tuple[str, int]:
    """The host and port of an http(s) URL, or ``Refused``."""
    if len(url) > 2000:
        raise Refused("the URL is longer than 2000 characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # (a port out of range, a bad IPv6 literal)
        raise Malformed("not a URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Malformed("the URL must be http:// or https:// with a host")
    if parts.username or parts.password:
        raise Refused("no credentials in the URL: the signature authenticates us")
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


#: NAT64's well-known prefix (RFC 6052): its addresses reach the IPv4 address in their last 32 bits.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
#: Not on the internet, and not ``is_private`` in every Python we run on: IETF protocol
#: assignments (RFC 6890).
_NOT_GLOBAL = (ipaddress.IPv4Network("192.0.0.0/24"),)


def _carried(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one is delivered to: mapped, 6to4 (RFC 3056) or NAT64."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def private(address: str) -> bool:
    """An address a webhook may not reach: anything not on the public internet (private,
    shared such as carrier-grade NAT's 100.64.0.0/10, loopback, link-local, multicast, reserved,
    unspecified), judged for an IPv6 address that carries an IPv4 one by the IPv4 address."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        ip = _carried(ip) or ip
    return bool(not ip.is_global or ip.is_private or ip.is_loopback or ip.is_link_local
                or ip.is_multicast or ip.is_reserved or ip.is_unspecified
                or any(ip in net for net in _NOT_GLOBAL if ip.version == net.version))


async def guard(url: str, allow_private: bool) -> None:
    """Refused unless the URL's host resolves, and every address it resolves to may be reached
    (any, with ``allow_private``)."""
    host, port = check_url(url)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port,
                                                             type=socket.SOCK_STREAM)
    except OSError:
        raise Refused(f"{host} does not resolve") from None
    if allow_private:
        return
    for info in infos:
        if private(str(info[4][0])):
            raise Refused(f"{host} resolves to a private, loopback or link-local address "
                          "(LIVECHAT_WEBHOOK_ALLOW_PRIVATE allows it)")


def sign(secret: str, event_id: str, at: float, payload: bytes) -> dict[str, str]:
    """The Standard Webhooks headers of one delivery."""
    stamp = datetime.fromtimestamp(int(at), UTC)
    signature = Webhook(secret).sign(event_id, stamp, payload.decode())
    return {"webhook-id": event_id, "webhook-timestamp": str(int(at)),
            "webhook-signature": signature, "content-type": "application/json",
            "user-agent": USER_AGENT}


class Deliverer:
    def __init__(self, hooks: Webhooks, *, clock: Callable[[], float], timeout: float,
                 retry_base: float, max_age: float, lease: float, poll: float,
                 concurrency: int, allow_private: bool) -> None:
        self.hooks = hooks
        self._clock = clock
        #: The outbox cannot be read for a reason of its own (logged once per episode).
        self._trouble = Episode(clock)
        self.timeout = timeout
        self.retry_base = retry_base
        self.max_age = max_age
        self.lease = lease
        self.poll = poll
        self.concurrency = concurrency
        self.allow_private = allow_private

    @classmethod
    def from_settings(cls, hooks: Webhooks, settings: Settings,
                      clock: Callable[[], float]) -> Deliverer:
        return cls(hooks, clock=clock, timeout=settings.webhook_timeout,
                   retry_base=settings.webhook_retry_base, max_age=settings.webhook_max_age,
                   lease=settings.webhook_lease, poll=settings.webhook_poll,
                   concurrency=settings.webhook_concurrency,
                   allow_private=settings.webhook_allow_private)

    async def run(self) -> None:
        """Deliver until cancelled: at most ``concurrency`` deliveries at once, each on its
        own; what is due is taken whenever one ends and every ``poll`` seconds, so one slow
        receiver holds up nobody else's (only its own conversation's next events wait)."""
        running: set[asyncio.Task[None]] = set()
        async with httpx.AsyncClient(timeout=self.timeout, follow_redirects=False,
                                     trust_env=False) as http:
            try:
                while True:
                    room = self.concurrency - len(running)
                    due = await self._claim(room) if room > 0 else []
                    for row in due:
                        task = asyncio.create_task(self._deliver(http, row),
                                                   name="webhook-delivery")
                        running.add(task)
                        task.add_done_callback(running.discard)
                    if due and len(due) == room:
                        continue  # (there may be more: full again, or look at once)
                    if running:
                        await asyncio.wait(running, timeout=self.poll,
                                           return_when=asyncio.FIRST_COMPLETED)
                    else:
                        await asyncio.sleep(self.poll)
            finally:
                for task in running:
                    task.cancel()
                await asyncio.gather(*running, return_exceptions=True)

    async def _claim(self, limit: int) -> list[Due]:
        try:
            due = await self.hooks.claim(limit, int(self.lease * 1000))
        except Unavailable:  # the store logs its outage once; the next poll retries
            return []
        except Exception as exc:
            if self._trouble.fail(type(exc).__name__):
                log.warning("webhook outbox unreadable (%s); retrying every %.1f s",
                            type(exc).__name__, self.poll)
            return []
        ended = self._trouble.recover()
        if ended is not None:
            log.warning("webhook outbox readable again after %.1f s", ended.lasted)
        return due

    async def _deliver(self, http: httpx.AsyncClient, due: Due) -> None:
        status: int | None = None
        excerpt, error = "", None
        started = time.monotonic()
        try:
            await guard(due.url, self.allow_private)
            answer = await http.post(due.url, content=due.payload,
                                     headers=sign(due.secret, due.id, self._clock(),
                                                  due.payload))
            status, excerpt = answer.status_code, answer.text[:500]
            if 300 <= status < 400:
                error = "redirects are not followed"
        except Refused as exc:
            error = f"refused: {exc}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:300]
        latency = int((time.monotonic() - started) * 1000)
        retry = min(self.retry_base * 2 ** due.attempts, MAX_RETRY_SECONDS)
        try:
            state, disabled = await self.hooks.record(due, status, latency, excerpt, error,
                                                      int(retry * 1000),
                                                      int(self.max_age * 1000))
        except Exception as exc:  # the lease runs out and the event is sent again (same id)
            log.warning("webhook result not recorded (%s)", type(exc).__name__)
            return
        if state == "failed":
            log.warning("webhook event %s to endpoint %s given up after %d attempts",
                        due.id, due.endpoint_id, due.attempts + 1)
        if disabled:
            log.error("webhook endpoint %s disabled: every delivery failed for %s; "
                      "re-enable it after fixing the receiver", due.endpoint_id,
                      span(self.max_age))
