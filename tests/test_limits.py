"""The pure parts of issue 10's defences: keyed buckets and counts, sign-in backoff, JSON
measured before parsing, time zones, and the streaming sniffer. Plain functions, a fake clock."""

from __future__ import annotations

import pytest

from server import inputs
from server.files import Sniffer, sniff
from server.limits import Buckets, Counts
from server.logins import Backoff
from tests.clock import FakeClock


def test_buckets_are_per_key_and_refill() -> None:
    clock = FakeClock()
    buckets = Buckets.per_minute(3, clock)
    assert [buckets.take("a") for _ in range(4)] == [True, True, True, False]
    assert buckets.take("b")  # another key has its own
    assert buckets.retry_after("a") == 20
    clock.now += 20
    assert buckets.take("a") and not buckets.take("a")


def test_spending_past_the_bucket_makes_the_next_wait() -> None:
    clock = FakeClock()
    buckets = Buckets(1.0, 10, clock)
    buckets.spend("ip", 15)  # bytes that arrived beyond what was left
    assert not buckets.take("ip")
    clock.now += 6
    assert buckets.take("ip")


def test_bucket_memory_is_bounded_and_forgets_the_oldest() -> None:
    buckets = Buckets(0.0, 1, FakeClock(), max_keys=2)
    assert buckets.take("a") and buckets.take("b") and buckets.take("c")
    assert buckets.take("a")  # forgotten, so forgiven


def test_counts() -> None:
    counts = Counts(2)
    assert counts.acquire("v") and counts.acquire("v") and not counts.acquire("v")
    counts.release("v")
    assert counts.acquire("v") and counts.held("v") == 2
    counts.release("v")
    counts.release("v")
    assert counts.held("v") == 0


def test_backoff_doubles_and_is_capped() -> None:
    clock = FakeClock()
    backoff = Backoff(2, clock, base=1, cap=8)
    for _ in range(2):
        backoff.failed("ana")
    assert backoff.wait("ana") == 0
    waits = []
    for _ in range(6):
        backoff.failed("ana")
        waits.append(backoff.wait("ana"))
    assert waits == [1, 2, 4, 8, 8, 8]
    clock.now += 8
    assert backoff.wait("ana") == 0
    backoff.succeeded("ana")
    backoff.failed("ana")
    assert backoff.wait("ana") == 0


@pytest.mark.parametrize("raw, deep", [
    (b"[]", 1), (b'{"a": [1, {"b": 2}]}', 3), (b'"[[[[["', 0), (b'["\\"[[["]', 1),
    (b"[" * 3000 + b"]" * 3000, 3000)])
def test_depth_is_measured_without_parsing(raw: bytes, deep: int) -> None:
    assert inputs.depth(raw) == deep


@pytest.mark.parametrize("raw", [b"[" * 40 + b"]" * 40, b'{"n": 1e999}', b'{"n": NaN}',
                                 b'{"a": 1, "a": 2}', b'{"n": 9223372036854775808}', b"{"])
def test_strict_json(raw: bytes) -> None:
    with pytest.raises(inputs.BadInput):
        inputs.loads(raw)


def test_time_zones() -> None:
    assert inputs.known_timezone("Europe/Lisbon") and inputs.known_timezone("UTC")
    for bad in ("Europe", "America", "x" * 300, "../../etc/passwd", "", None, 5):
        assert not inputs.known_timezone(bad)


@pytest.mark.parametrize("content", [
    b"\x89PNG\r\n\x1a\n" + b"\x00" * 5000, "ça va ✓ ".encode() * 3000,
    b" " * 5000 + b"<html><script>x</script>", "é".encode() * 2000 + b"\x00"])
def test_the_streaming_sniffer_agrees_with_the_whole_file(content: bytes) -> None:
    for size in (1, 7, 1024):
        sniffer = Sniffer()
        for i in range(0, len(content), size):
            sniffer.feed(content[i:i + size])
        assert sniffer.result() == sniff(content), size
