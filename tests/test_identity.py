"""Verified identity: the site's backend signs its user's id; the widget passes it on."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from server.auth import identity_hash, identity_valid, verified_visitor_id
from server.store import SQLiteStore
from tests.live import Client, Seed, ServerProcess, agent, login, seed, serving, visitor

SECRET = "site-identity-secret-0123456789"


def test_hash_matches_the_documented_recipe() -> None:
    # docs/embedding.md: hex HMAC-SHA256 of "<user id>:<expires>" with the site's secret
    expected = hmac.new(SECRET.encode(), b"user-42:1900000000", hashlib.sha256).hexdigest()
    assert identity_hash(SECRET, "user-42", 1900000000) == expected
    assert identity_valid(SECRET, "user-42", 1900000000, expected.upper(), now=1.8e9)
    assert not identity_valid(SECRET, "user-42", 1900000000, expected, now=1.9e9 + 1)
    assert not identity_valid(SECRET, "user-43", 1900000000, expected, now=1.8e9)
    assert not identity_valid("other", "user-42", 1900000000, expected, now=1.8e9)


def test_verified_visitor_is_the_same_everywhere_but_bound_to_the_site() -> None:
    assert verified_visitor_id("site_a", "u1") == verified_visitor_id("site_a", "u1")
    assert verified_visitor_id("site_a", "u1") != verified_visitor_id("site_b", "u1")
    assert verified_visitor_id("site_a", "u1").startswith("usr_")


def signed(user_id: str, expires: int | None = None, **extra: str) -> dict[str, object]:
    expires = expires or int(time.time()) + 3600
    return {"user_id": user_id, "user_expires": expires,
            "user_hash": identity_hash(SECRET, user_id, expires), **extra}


async def _set(db: Path, site_id: str, **options: str) -> None:
    store = SQLiteStore(db, clock=time.time)
    await store.open()
    try:
        await store.set_site_options(site_id, **options)  # type: ignore[arg-type]
    finally:
        await store.close()


@pytest.fixture
def identity_server(db: Path, seeded: Seed) -> Iterator[ServerProcess]:
    import asyncio

    asyncio.run(_set(db, seeded.site_id, identity_secret=SECRET))
    with serving(db) as proc:
        yield proc


async def refused(server: ServerProcess, site_id: str, **hello: object) -> tuple[int | None, str]:
    c = await Client.open(f"{server.ws}/ws/visitor", origin=server.http)
    await c.send({"type": "hello", "v": 1, "site": site_id, **hello})
    code = await c.closed()
    return code, c.frames[-1]["code"] if c.frames else ""


async def test_verified_visitor_on_any_device(identity_server: ServerProcess,
                                              seeded: Seed) -> None:
    laptop, welcome = await visitor(identity_server, seeded.site_id,
                                    **signed("user-42", user_name="Maria Silva",
                                             user_email="maria@example.com"))
    assert welcome["verified"] is True
    conv = (await laptop.request({"type": "send", "id": "m1", "body": "my order?"}))[
        "conversation_id"]
    # Another device, no token: the same person, the same conversation and transcript.
    phone, again = await visitor(identity_server, seeded.site_id, **signed("user-42"))
    assert again["conversation"]["id"] == conv
    assert (await phone.of_type("message", seq=1))["body"] == "my order?"
    ana, inbox = await agent(identity_server, await login(identity_server, seeded.agent_email))
    (summary,) = inbox["conversations"]
    # The hash covers the user id only: the name and email beside it are shown, but not as
    # verified (tests/test_security_identity.py signs them with a JWT).
    assert summary["visitor"] == {"id": verified_visitor_id(seeded.site_id, "user-42"),
                                  "name": "Maria Silva", "email": "maria@example.com",
                                  "verified": False}
    for c in (laptop, phone, ana):
        await c.close()


async def test_forged_expired_and_unexpected_identities_are_refused(
        identity_server: ServerProcess, seeded: Seed) -> None:
    forged = {**signed("user-42"), "user_id": "user-1"}
    expired = signed("user-42", expires=int(time.time()) - 10)
    assert await refused(identity_server, seeded.site_id, **forged) == (4402, "bad_identity")
    assert await refused(identity_server, seeded.site_id, **expired) == (4402, "bad_identity")
    no_hash = {"user_id": "user-42"}
    assert await refused(identity_server, seeded.site_id, **no_hash) == (4402, "bad_identity")
    # The other site has no secret: nobody can claim an identity there.
    assert await refused(identity_server, seeded.other_site_id, **signed("user-42")) == (
        4402, "bad_identity")
    # Anonymous visitors still chat where identity is optional.
    _, welcome = await visitor(identity_server, seeded.site_id)
    assert welcome["verified"] is False


async def test_mandatory_identity_blocks_unverified_visitors(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    seeded = await seed(db)
    await _set(db, seeded.site_id, identity_secret=SECRET, identity_mode="mandatory")
    server = ServerProcess(db).start()
    try:
        assert await refused(server, seeded.site_id) == (4402, "identity_required")
        v, welcome = await visitor(server, seeded.site_id, **signed("user-7"))
        token = welcome["token"]
        assert (await v.request({"type": "send", "id": "m", "body": "hi"}))["type"] == "ack"
        await v.close()
        # A token alone is not enough: every connection must bring the signed identity.
        assert await refused(server, seeded.site_id, token=token) == (4402, "identity_required")
    finally:
        server.stop()


async def test_mandatory_needs_a_secret(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    seeded = await seed(db)
    with pytest.raises(ValueError, match="needs an identity secret"):
        await _set(db, seeded.site_id, identity_mode="mandatory")
