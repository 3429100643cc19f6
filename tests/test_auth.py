from __future__ import annotations

import pytest

from server.auth import (
    AgentSession,
    TokenError,
    Tokens,
    VisitorIdentity,
    hash_password,
    new_id,
    normalize_origin,
    origin_allowed,
    verify_password,
)
from tests.clock import FakeClock


def test_visitor_token_round_trip_and_expiry() -> None:
    clock = FakeClock()
    tokens = Tokens(["k" * 32], clock)
    who = VisitorIdentity("site_1", "vis_1")
    token = tokens.visitor_token(who)
    assert tokens.visitor(token, max_age=100) == who
    clock.now += 101
    with pytest.raises(TokenError):
        tokens.visitor(token, max_age=100)


def test_tokens_are_bound_to_their_purpose_and_key() -> None:
    tokens = Tokens(["k" * 32], FakeClock())
    session = tokens.agent_token(AgentSession("agent_1", 0, "sess_1"))
    visitor = tokens.visitor_token(VisitorIdentity("s", "v"))
    with pytest.raises(TokenError):
        tokens.visitor(session, 100)
    with pytest.raises(TokenError):
        tokens.agent(visitor, 100)
    with pytest.raises(TokenError):
        Tokens(["x" * 32], FakeClock()).visitor(visitor, 100)
    with pytest.raises(TokenError):
        tokens.visitor(visitor[:-2] + "xx", 100)
    assert tokens.agent(session, 100) == AgentSession("agent_1", 0, "sess_1")


def test_key_rotation() -> None:
    clock = FakeClock()
    old = Tokens(["old-key" * 4], clock)
    token = old.visitor_token(VisitorIdentity("s", "v"))
    rotated = Tokens(["new-key" * 4, "old-key" * 4], clock)
    assert rotated.visitor(token, 100).visitor_id == "v"  # the old key still verifies
    fresh = rotated.visitor_token(VisitorIdentity("s", "v"))
    assert Tokens(["new-key" * 4], clock).visitor(fresh, 100).visitor_id == "v"  # new one signs
    with pytest.raises(TokenError):
        Tokens(["new-key" * 4], clock).visitor(token, 100)  # retired


def test_passwords() -> None:
    stored = hash_password("hunter2 but longer")
    assert stored.startswith("scrypt$")
    assert verify_password("hunter2 but longer", stored)
    assert not verify_password("hunter2", stored)
    assert not verify_password("x", "garbage")
    assert hash_password("same") != hash_password("same")  # salted


@pytest.mark.parametrize("raw, expected", [
    ("https://Example.COM", "https://example.com"),
    ("https://example.com:443/", "https://example.com"),
    ("http://example.com:8080", "http://example.com:8080"),
    ("http://[::1]:8000", "http://[::1]:8000"),
    ("https://example.com/path", None),
    ("javascript:alert(1)", None),
    ("null", None),
    ("https://user@example.com", None),
    ("http://example.com:99999", None),
])
def test_normalize_origin(raw: str, expected: str | None) -> None:
    assert normalize_origin(raw) == expected


def test_origin_allowed_is_exact() -> None:
    allowed = ["https://shop.example"]
    assert origin_allowed("https://shop.example", allowed)
    assert not origin_allowed("https://shop.example.evil.test", allowed)
    assert not origin_allowed("http://shop.example", allowed)
    assert not origin_allowed(None, allowed)
    assert not origin_allowed("null", allowed)


def test_ids_are_unique_and_wire_safe() -> None:
    ids = {new_id("conv") for _ in range(1000)}
    assert len(ids) == 1000
    assert all(i.startswith("conv_") and len(i) == 27 for i in ids)
