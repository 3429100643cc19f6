"""Issue 10, identity: a "verified" mark covers only what the site's backend signed, a signed
identity has a maximum lifetime, and an identity that expired does not live on in the visitor
token."""

from __future__ import annotations

import asyncio
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest

from server.auth import Tokens, VisitorIdentity, identity_hash, verified_visitor_id
from tests.live import (
    SECRET,
    Client,
    Seed,
    ServerProcess,
    agent,
    login,
    open_store,
    serving,
    visitor,
)

SITE_SECRET = "site-identity-secret-0123456789abcdef"


def legacy(user_id: str, expires: int | None = None, **extra: str) -> dict[str, Any]:
    expires = expires or int(time.time()) + 3600
    return {"user_id": user_id, "user_expires": expires,
            "user_hash": identity_hash(SITE_SECRET, user_id, expires), **extra}


def signed(user_id: str, key: str = SITE_SECRET, algorithm: str = "HS256",
           lifetime: int = 3600, **claims: Any) -> dict[str, Any]:
    with warnings.catch_warnings():  # (PyJWT warns of a key short for HS512: that is the point)
        warnings.simplefilter("ignore")
        token = jwt.encode({"sub": user_id, "exp": int(time.time()) + lifetime, **claims}, key,
                           algorithm=algorithm)
    return {"user_jwt": token}


@pytest.fixture
def identity_server(db: Path, seeded: Seed) -> Iterator[ServerProcess]:
    async def set_secret() -> None:
        async with open_store(db) as store:
            await store.set_site_options(seeded.site_id, identity_secret=SITE_SECRET)

    asyncio.run(set_secret())
    with serving(db, LIVECHAT_IDENTITY_MAX_LIFETIME="86400") as proc:
        yield proc


async def refused(server: ServerProcess, site_id: str, **hello: Any) -> int | None:
    c = await Client.open(f"{server.ws}/ws/visitor", origin=server.http)
    await c.send({"type": "hello", "v": 1, "site": site_id, **hello})
    return await c.closed()


async def summary_of(server: ServerProcess, seeded: Seed, v: Client) -> dict[str, Any]:
    conv = (await v.request({"type": "send", "id": "m1", "body": "hello"}))["conversation_id"]
    a, welcome = await agent(server, await login(server, seeded.agent_email))
    await a.close()
    summary: dict[str, Any] = next(c for c in welcome["conversations"] if c["id"] == conv)
    return summary


async def test_unsigned_name_and_email_are_not_shown_as_verified(
        identity_server: ServerProcess, seeded: Seed) -> None:
    v, welcome = await visitor(identity_server, seeded.site_id, **legacy(
        "alice", user_name="Chief Executive", user_email="ceo@acme.test"))
    assert welcome["verified"] is True  # the user id is vouched for
    shown = (await summary_of(identity_server, seeded, v))["visitor"]
    assert shown["id"] == verified_visitor_id(seeded.site_id, "alice")
    assert shown["verified"] is False, shown
    await v.close()


async def test_an_id_only_hash_still_verifies(identity_server: ServerProcess,
                                              seeded: Seed) -> None:
    v, welcome = await visitor(identity_server, seeded.site_id, **legacy("bob"))
    assert welcome["verified"] is True
    assert (await summary_of(identity_server, seeded, v))["visitor"]["verified"] is True
    await v.close()


async def test_signed_claims_are_verified(identity_server: ServerProcess, seeded: Seed) -> None:
    # Claims the chat does not use are ignored (an ``aud`` was refused: a black-box tester).
    v, welcome = await visitor(identity_server, seeded.site_id, **signed(
        "carol", name="Carol Diaz", email="carol@acme.test", aud="chat", iss="acme",
        iat=int(time.time()), jti="j-1"))
    assert welcome["verified"] is True
    assert welcome["visitor"] == {"name": "Carol Diaz", "email": "carol@acme.test"}
    # A direction override in a signed name would turn it around where agents read it: dropped.
    turned, hello = await visitor(identity_server, seeded.site_id, **signed(
        "eve", name="Al\u202eice"))
    assert hello["visitor"]["name"] == "Alice"
    await turned.close()
    shown = (await summary_of(identity_server, seeded, v))["visitor"]
    assert shown == {"id": verified_visitor_id(seeded.site_id, "carol"), "name": "Carol Diaz",
                     "email": "carol@acme.test", "verified": True}
    await v.close()
    # An ``exp`` with a fraction is a time too (RFC 7519's NumericDate: a black-box tester's
    # was refused).
    fraction = jwt.encode({"sub": "dan", "exp": time.time() + 600.5}, SITE_SECRET,
                          algorithm="HS256")
    dan, hello = await visitor(identity_server, seeded.site_id, user_jwt=fraction)
    assert hello["verified"] is True
    await dan.close()



async def test_a_refused_identity_says_why_in_the_log(db: Path, seeded: Seed,
                                                      identity_server: ServerProcess) -> None:
    """The visitor is told only "refused"; the site's developer finds why in the server's log
    (at the default level), with the site (a black-box tester had nothing to go on)."""
    server = ServerProcess(db, log_level="info").start()
    try:
        assert await refused(server, seeded.site_id, **signed("carol", lifetime=-10)) == 4402
        assert await refused(server, seeded.site_id, **legacy("alice", expires=1)) == 4402
    finally:
        server.stop()
    log = server.log()
    assert f"identity refused on {seeded.site_id}: exp must be in the future" in log, log
    assert f"identity refused on {seeded.site_id}: no user_hash" in log, log


@pytest.mark.parametrize("hello", [
    signed("carol", key="not-the-site-secret-0123456789abcdef"),
    signed("carol", algorithm="HS512"),
    signed("carol", lifetime=-10),
    signed("carol", lifetime=2 * 86400),                 # over LIVECHAT_IDENTITY_MAX_LIFETIME
    signed("carol", name="x" * 101),
    signed("carol", email="not an email"),
    # JSON's "\ud800" in a signed name or email parses, and no store could keep it.
    signed("carol", name="Car\ud800ol"), signed("carol", email="c\ud800@acme.test"),
    {"user_jwt": jwt.encode({"sub": "carol"}, SITE_SECRET, algorithm="HS256")},  # no exp
    {"user_jwt": jwt.encode({"sub": "carol", "exp": int(time.time()) + 60}, None,
                            algorithm="none")},
    legacy("alice", expires=int(time.time()) + 2 * 86400),  # over the maximum lifetime
    # Not valid before an hour from now (it was taken: a black-box tester), or not a time.
    {"user_jwt": jwt.encode({"sub": "carol", "exp": int(time.time()) + 7200,
                             "nbf": int(time.time()) + 3600}, SITE_SECRET, algorithm="HS256")},
    {"user_jwt": jwt.encode({"sub": "carol", "exp": int(time.time()) + 7200, "nbf": "soon"},
                            SITE_SECRET, algorithm="HS256")},
])
async def test_forged_unbounded_or_malformed_identities_are_refused(
        identity_server: ServerProcess, seeded: Seed, hello: dict[str, Any]) -> None:
    assert await refused(identity_server, seeded.site_id, **hello) == 4402


async def test_an_open_socket_ends_when_its_identity_expires(
        identity_server: ServerProcess, seeded: Seed) -> None:
    """A socket opened with a signed identity went on as that user after it expired, while a
    new one was refused (a black-box tester): it is now closed at the expiry, 4401."""
    v, welcome = await visitor(identity_server, seeded.site_id, **signed("dora", lifetime=2))
    assert welcome["verified"] is True
    assert await v.closed(timeout=15) == 4401
    assert await refused(identity_server, seeded.site_id, token=welcome["token"]) == 4401


async def test_an_expired_identity_does_not_live_on_in_the_token(
        identity_server: ServerProcess, seeded: Seed) -> None:
    user = verified_visitor_id(seeded.site_id, "alice")
    v, welcome = await visitor(identity_server, seeded.site_id, **legacy("alice"))
    await v.close()
    # The token alone, while the identity is good: still that user, still verified.
    again, back = await visitor(identity_server, seeded.site_id, token=welcome["token"])
    assert back["verified"] is True
    await again.close()
    # A token minted for the identity, once the identity has expired: refused, so the widget
    # starts over as a new, anonymous visitor.
    tokens = Tokens([SECRET], time.time)
    stale = tokens.visitor_token(VisitorIdentity(seeded.site_id, user,
                                                 int(time.time()) - 10))
    assert await refused(identity_server, seeded.site_id, token=stale) == 4401
    # An anonymous visitor's token is not bound to any identity.
    anon, first = await visitor(identity_server, seeded.site_id)
    await anon.close()
    anon2, second = await visitor(identity_server, seeded.site_id, token=first["token"])
    assert second["verified"] is False
    await anon2.close()
