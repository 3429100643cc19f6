"""The protocol core: plain functions, no server."""

from __future__ import annotations

import orjson
import pytest

from server import protocol
from server.errors import ChatError, Close, Code
from server.parsing import parse, valid_email
from server.protocol import Claim, Hello, History, Open, Ping, Send


def code_of(raw: str | bytes | None, role: protocol.Role = "visitor") -> str:
    with pytest.raises(ChatError) as info:
        protocol.parse(raw, role)
    return info.value.code.value


def test_parses_every_frame_type() -> None:
    assert protocol.parse('{"type":"hello","v":1,"site":"s1","token":"t","conversation_id":"c",'
                          '"last_seq":4,"epoch":"e"}', "visitor") == Hello(1, "s1", "t", "c", 4,
                                                                           "e")
    assert protocol.parse('{"type":"hello","v":1,"site":"s1","token":null}', "visitor") == Hello(
        1, "s1")
    assert protocol.parse('{"type":"send","id":"m-1","body":"hi"}', "visitor") == Send("m-1", "hi")
    assert protocol.parse('{"type":"ping"}', "visitor") == Ping()
    assert protocol.parse('{"type":"open","id":"o","conversation_id":"c"}', "agent") == Open(
        "o", "c", 0)
    assert protocol.parse('{"type":"history","id":"h","conversation_id":"c","before_seq":9}',
                          "agent") == History("h", "c", 9, 50)
    assert protocol.parse('{"type":"claim","id":"x","conversation_id":"c"}', "agent") == Claim(
        "x", "c")
    assert protocol.parse('{"type":"send","id":"a","conversation_id":"c","body":"yo"}',
                          "agent") == Send("a", "yo", "c")


def test_text_is_kept_verbatim() -> None:
    body = "<script>alert(1)</script> ☕ مرحبا \U0001F600\n  spaced  "
    frame = protocol.parse(orjson.dumps({"type": "send", "id": "a", "body": body}).decode(),
                           "visitor")
    assert isinstance(frame, Send) and frame.body == body


@pytest.mark.parametrize("raw, code", [
    (None, "bad_frame"),
    (b'{"type":"ping"}', "bad_frame"),
    ("", "bad_json"),
    ("{", "bad_json"),
    ('{"type":"send","id":"a","body":NaN}', "bad_json"),
    ('{"type":"send","id":"a","body":-Infinity}', "bad_json"),
    ('{"type":"ping","type":"ping"}', "bad_json"),
    ("[" * 100000 + "]" * 100000, "bad_json"),
    ("42", "bad_frame"),
    ('{"type":7}', "bad_frame"),
    ('{"type":"nope"}', "unknown_type"),
    ('{"type":"resolve","id":"a","conversation_id":"c"}', "unknown_type"),
    ('{"type":"send","id":"a"}', "bad_frame"),
    ('{"type":"send","id":"a","body":"x","extra":1}', "bad_frame"),
    ('{"type":"send","id":"' + "a" * 65 + '","body":"x"}', "bad_frame"),
    ('{"type":"send","id":"a/b","body":"x"}', "bad_frame"),
    ('{"type":"send","id":"a","body":"\\u0000"}', "bad_text"),
    ('{"type":"send","id":"a","body":"\\udc00x"}', "bad_text"),
    ('{"type":"send","id":"a","body":"\\t\\n "}', "bad_frame"),
    ('{"type":"send","id":"a","body":"' + "é" * 4001 + '"}', "too_long"),
    ('{"type":"hello","v":"1","site":"s"}', "bad_frame"),
    ('{"type":"hello","v":1,"site":"s","token":"' + "t" * 2000 + '"}', "bad_frame"),
    ('{"type":"hello","v":1,"site":"s","token":"tökén"}', "bad_frame"),
    ('{"type":"hello","v":1,"site":"s","last_seq":9007199254740993}', "bad_frame"),
    # A trailing newline is not part of an id ($ would have let it through).
    ('{"type":"send","id":"a\\n","body":"x"}', "bad_frame"),
    ('{"type":"profile","id":"p","email":"a@b.test\\n"}', "bad_frame"),
    ('{"type":"context","url":"https://a.test/\\n"}', "bad_frame"),
    ('{"type":"context","url":"javascript:alert(1)"}', "bad_frame"),
    ('{"type":"context","title":"a\\u0007b"}', "bad_frame"),
    ('{"type":"context","title":"\\ud800"}', "bad_text"),
    ('{"type":"attributes","id":"a","attributes":{"k":"\\ud800"}}', "bad_text"),
    ('{"type":"attributes","id":"a","attributes":{"k\\n":1}}', "bad_frame"),
    ('{"type":"profile","id":"p","name":"\\u202e\\u2067"}', "bad_frame"),  # nothing left
])
def test_refuses_bad_frames(raw: str | bytes | None, code: str) -> None:
    assert code_of(raw) == code


def test_direction_controls_are_dropped_from_a_visitors_name() -> None:
    """A direction override in a name turned it around where agents read it (a black-box
    test): "Evil\u202eecilA" showed as another name. Dropped from what a visitor says is their
    name; a search or a block's reason keeps what was typed."""
    frame = protocol.parse('{"type":"profile","id":"p","name":"Evil\\u202eecilA\\u2069"}',
                           "visitor")
    assert frame.name == "EvilecilA"  # type: ignore[attr-defined]
    hello = protocol.parse('{"type":"hello","v":1,"site":"s","user_name":"Al\\u202eice"}',
                           "visitor")
    assert hello.user_name == "Alice"  # type: ignore[attr-defined]
    search = protocol.parse('{"type":"search","id":"s","query":"a\\u202eb"}', "agent")
    assert search.query == "a\u202eb"  # type: ignore[attr-defined]


def test_line_breaks_and_controls_in_a_visitors_name_are_spaces() -> None:
    """A black-box tester's: a name "Mallory\r\nBcc: …" was kept as typed, and the agent's
    "Assigned to you" email, whose subject carries the name, was never built (a header may
    not hold a line break). A name is one line: its control characters become a space."""
    frame = protocol.parse(
        '{"type":"profile","id":"p","name":"Mallory\\r\\nBcc: v@evil.test\\u0007\\u0085x"}',
        "visitor")
    assert frame.name == "Mallory Bcc: v@evil.test x"  # type: ignore[attr-defined]
    assert code_of('{"type":"profile","id":"p","name":"\\r\\n"}') == "bad_frame"  # nothing left


def test_an_email_header_never_holds_a_line_break() -> None:
    """Whatever a stored name holds (one kept before names were one line, a site's name), an
    email to an agent is built: its subject is one line."""
    from server.mail import compose

    mail = compose.agent_notice(
        subject="A conversation was assigned to you: Mallory\r\nBcc: v@evil.test",
        lines=["Hi"], link="https://chat.test/agent", action="Open", sender="a@chat.test",
        recipient="bo@acme.test", message_id="m@chat.test", sent_at=0)
    assert mail["Subject"] == "A conversation was assigned to you: Mallory Bcc: v@evil.test"
    assert mail["Bcc"] is None


def test_limits_are_agent_specific() -> None:
    assert code_of('{"type":"history","id":"h","conversation_id":"c","before_seq":1,"limit":0}',
                   "agent") == "bad_frame"
    assert code_of('{"type":"history","id":"h","conversation_id":"c","before_seq":1,'
                   '"limit":201}', "agent") == "bad_frame"
    assert code_of('{"type":"send","id":"a","body":"x"}', "agent") == "bad_frame"


def test_max_chars_counts_characters_not_bytes() -> None:
    assert protocol.parse('{"type":"send","id":"a","body":"' + "é" * 10 + '"}', "visitor",
                          max_chars=10)
    with pytest.raises(ChatError):
        protocol.parse('{"type":"send","id":"a","body":"' + "e" * 11 + '"}', "visitor",
                       max_chars=10)


def test_request_id_of_a_refused_frame() -> None:
    assert protocol.request_id('{"type":"x","id":"abc"}') == "abc"
    assert protocol.request_id('{"id":"bad id"}') is None
    assert protocol.request_id("nope") is None
    assert protocol.request_id(b'{"id":"abc"}') is None


def test_encoding() -> None:
    assert orjson.loads(protocol.error(Code.NOT_FOUND, "gone", "r1")) == {
        "type": "error", "code": "not_found", "message": "gone", "id": "r1"}
    assert orjson.loads(protocol.ack("r2", seq=3)) == {"type": "ack", "id": "r2", "seq": 3}


def test_close_code_ranges_say_whether_to_reconnect() -> None:
    reconnect = {c for c in Close if c.reconnect}
    # (docs/protocol.md: 1007 and 1009 reconnect too, without resending the refused frame)
    assert reconnect == {Close.GOING_AWAY, Close.INVALID_DATA, Close.TOO_BIG,
                         Close.SERVICE_RESTART, Close.RESTARTING, Close.SLOW_CONSUMER,
                         Close.RATE_LIMITED}
    assert all(4400 <= c < 4500 for c in Close if c >= 4000 and not c.reconnect)


@pytest.mark.parametrize("address", [
    "ana@acme.test", "a.b+c@sub.example.co.uk", "x@a-b.com", "用户@例子.广告",
    "e" * 64 + "@example.com"])
def test_an_email_address_as_docs_protocol_md_says(address: str) -> None:
    assert valid_email(address)
    assert parse(orjson.dumps({"type": "profile", "id": "p", "email": address}).decode(),
                 "visitor") is not None


@pytest.mark.parametrize("address", [
    # A black-box tester's: the first went out to a local mailbox "i" (the mail library read
    # the brackets as the address), the others were taken as addresses.
    "<i>hi</i>@evil.com", "<root>@evil.com", '"Eve" <eve@example.com>', "x@y", "a@b",
    "x@localhost", "x@[127.0.0.1]", "x@ex..com", ".x@ex.com", "x.@ex.com", "x@-bad-.com",
    "x@ex.123", "x@ex.c", "a b@c.de", "a@@b.com", "e" * 65 + "@example.com",
    "x@" + "d" * 190 + ".com",
    # where JavaScript's \s differs from Python's: refused by both (the widget too)
    "a\x85b@ex.com", "a\ufeff@ex.com"])
def test_what_is_not_an_email_address(address: str) -> None:
    assert not valid_email(address)
    with pytest.raises(ChatError) as info:
        parse(orjson.dumps({"type": "profile", "id": "p", "email": address}).decode(), "visitor")
    assert info.value.code == Code.BAD_FRAME
