"""The two parsers of server/parsing.py agree: whatever the msgspec path accepts, the strict
parser accepts as the same frame; whatever it does not, the strict parser answers (so every
refusal is the strict parser's, tests/test_bad_input.py and tests/test_protocol.py judge those).
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from server import parsing
from server.errors import ChatError
from server.frames import Role

VALID: list[tuple[str, Role]] = [
    ('{"type":"send","id":"m-1","body":"hi"}', "visitor"),
    ('{"type":"send","id":"m-1","body":"say \\"hi\\": ok","attachment":null}', "visitor"),
    ('{"body":"a:b:c","type":"send","id":"x:y"}', "visitor"),
    ('{"type":"send","id":"a","conversation_id":"c","body":"yo"}', "agent"),
    ('{"type":"typing","active":true,"text":"wh"}', "visitor"),
    ('{"type":"read","conversation_id":"c","seq":42}', "agent"),
    ('{"type":"hello","v":1,"site":"s1","token":null,"last_seq":3}', "visitor"),
    ('{"type":"attributes","id":"x","attributes":{"plan":"pro","a:b":1,"vip":true,"s":1.5,'
     '"n":null}}', "visitor"),
    ('{"type":"context","url":"https://e.com/a?b=c","title":"T","timezone":"Europe/Lisbon"}',
     "visitor"),
    ('{"type":"list","id":"l","status":"waiting","before":5,"limit":10}', "agent"),
    ('{"type":"block","id":"b","conversation_id":"c","address":true,"hours":24}', "agent"),
    ('{"type":"ping"}', "visitor"),
    (' {\n"type" : "send" ,\t"id":"m","body":"\\u00e9\\ud83d\\ude00\\\\"}\r\n', "visitor"),
]

TRICKY: list[tuple[str, Role]] = [
    ('{"type":"send","id":"a","id":"b","body":"x"}', "visitor"),
    ('{"type":"send","type":"send","id":"a","body":"x"}', "visitor"),
    ('{"type":"send","id":"a","\\u0069d":"b","body":"x"}', "visitor"),
    ('{"type":"send","id":"a:\\u003a","id":"b","body":"x"}', "visitor"),
    ('{"type":"send","id":"a","body":"x\\":\\"","body":"y"}', "visitor"),
    ('{"type":"attributes","id":"x","attributes":{"a":1,"a":2}}', "visitor"),
    ('{"type":"attributes","id":"x","attributes":{"a":1e999}}', "visitor"),
    ('{"type":"attributes","id":"x","attributes":{"a":123456789012345678901234567890}}',
     "visitor"),
    ('{"type":"attributes","id":"x","attributes":{"a":NaN}}', "visitor"),
    ('{"type":"send","id":"a","body":"\\ud800"}', "visitor"),
    ('{"type":"send","id":"a","body":"\ud800"}', "visitor"),
    ('{"type":"send","id":"a","body":"\\u0000"}', "visitor"),
    ('{"type":"send","id":"a","body":"   "}', "visitor"),
    ('{"type":"send","id":"a"}', "visitor"),
    ('{"type":"send","id":"a","body":null}', "visitor"),
    ('{"type":"send","id":null,"body":"x"}', "visitor"),
    ('{"type":"send","id":"a","body":"x","conversation_id":"c"}', "visitor"),
    ('{"type":"read","conversation_id":"c","seq":1.0}', "agent"),
    ('{"type":"read","conversation_id":"c","seq":true}', "agent"),
    ('{"type":"read","conversation_id":"c","seq":-1}', "agent"),
    ('{"type":"read","conversation_id":"c","seq":18446744073709551616}', "agent"),
    ('{"type":"nope","id":"a"}', "visitor"),
    ('{"type":1}', "visitor"),
    ('[1,2]', "visitor"),
    ('\ufeff{"type":"ping"}', "visitor"),
    ('{"type":"ping"} x', "visitor"),
    ('{"type":"send","id":"a","body":' + "[" * 5000 + "]" * 5000 + "}", "visitor"),
    ('{"x":' + '{"a":' * 3000 + "1" + "}" * 3000 + ',"type":"ping"}', "visitor"),
]


def outcome(call: Any) -> object:
    try:
        return call()
    except ChatError as exc:
        return ("refused", exc.code, str(exc))


def agree(raw: str, role: Role) -> None:
    strict = outcome(lambda: parsing._strict(raw, role, 4000))
    fast = parsing._fast(raw, role, 4000)
    assert fast is None or fast == strict, (raw, fast, strict)
    assert outcome(lambda: parsing.parse(raw, role, 4000)) == strict, raw


@pytest.mark.parametrize(("raw", "role"), VALID)
def test_the_fast_path_takes_valid_frames_and_makes_the_same_values(raw: str, role: Role) -> None:
    assert parsing._fast(raw, role, 4000) is not None, raw
    agree(raw, role)


@pytest.mark.parametrize(("raw", "role"), TRICKY)
def test_what_the_fast_path_leaves_the_strict_parser_answers(raw: str, role: Role) -> None:
    agree(raw, role)


def test_mutated_frames_get_the_same_answer_from_both_paths() -> None:
    """Every frame above, changed a character at a time (a seeded, repeatable sample)."""
    rng = random.Random(11)
    alphabet = '{}[]":,\\ \nu0aAe1-.tfn' + "\x00\ud800é"
    for raw, role in VALID + TRICKY[:-2]:
        for _ in range(300):
            chars = list(raw)
            for _ in range(rng.randint(1, 3)):
                at = rng.randrange(len(chars) + 1)
                op = rng.random()
                if op < 0.4 and at < len(chars):
                    chars[at] = rng.choice(alphabet)
                elif op < 0.7:
                    chars.insert(at, rng.choice(alphabet))
                elif at < len(chars):
                    del chars[at]
            agree("".join(chars), role)
        # Every key given twice, each in turn.
        if raw.lstrip().startswith("{") and raw.rstrip().endswith("}"):
            body = raw.strip()[1:-1]
            for part in body.split(","):
                if ":" in part:
                    agree("{" + body + "," + part + "}", role)


@pytest.mark.parametrize(("frame", "code"), [
    # Text over its limit is too_long, wherever it is (a typing preview and an attribute's
    # value were bad_frame, a name too_long); a list over its size is too_many (50 attributes
    # in one frame were bad_frame, 50 merged too_many).
    ({"type": "typing", "active": True, "text": "x" * 1001}, "too_long"),
    ({"type": "attributes", "id": "a", "attributes": {"plan": "x" * 501}}, "too_long"),
    ({"type": "profile", "id": "p", "name": "x" * 101}, "too_long"),
    ({"type": "attributes", "id": "a", "attributes": {f"k{n}": n for n in range(51)}},
     "too_many"),
    ({"type": "attributes", "id": "a", "attributes": {"plan": "a\x07b"}}, "bad_frame"),
])
def test_limits_have_one_code_each(frame: dict[str, Any], code: str) -> None:
    raw = json.dumps(frame)
    with pytest.raises(ChatError) as refused:
        parsing.parse(raw, "visitor")
    assert refused.value.code.value == code
    agree(raw, "visitor")  # the same from either parser
