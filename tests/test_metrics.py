"""``GET /metrics`` against real server processes: refused without the token, 404 when not
configured, served on an address of its own, numbers that move with real traffic, two processes
summed through one multiprocess directory, and a Grafana dashboard that only asks for what is
exposed (docs/deployment.md)."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from pathlib import Path

import httpx
import promql_parser
import pytest
from prometheus_client.parser import text_string_to_metric_families

from server.config import ConfigError, Settings
from tests.live import (
    ROOT,
    SECRET,
    UNLIMITED,
    ServerProcess,
    agent,
    free_port,
    login,
    seed,
    serving,
    visitor,
)
from tests.redis_server import RedisServer

TOKEN = "metrics-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
DASHBOARD = ROOT / "docs" / "grafana-dashboard.json"
#: The suffixes a family's samples carry (a histogram's buckets, a counter's total).
_SUFFIXES = ("_bucket", "_count", "_sum", "_total", "_created")

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> tuple[Samples, dict[str, str]]:
    """Every sample by (name, sorted labels), and every family's type."""
    samples: Samples = {}
    types: dict[str, str] = {}
    for family in text_string_to_metric_families(text):
        types[family.name] = family.type
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples, types


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def scrape(url: str, **headers: str) -> Samples:
    async with httpx.AsyncClient() as http:
        r = await http.get(url, headers=headers or AUTH)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    return parse(r.text)[0]


async def until(url: str, ok: Callable[[Samples], bool], timeout: float = 10.0) -> Samples:
    """Scrape until ``ok`` (what a socket's end does is counted once the server has done with
    it, a moment after the client sees the close)."""
    async with asyncio.timeout(timeout):
        while True:
            samples = await scrape(url)
            if ok(samples):
                return samples


def test_settings_are_validated(tmp_path: Path) -> None:
    base = Settings(db_path=tmp_path / "x.db", secret_keys=(SECRET,))
    with pytest.raises(ConfigError, match="LIVECHAT_METRICS_TOKEN"):
        base.with_(metrics_token="short").validate()
    for bad in ("9100", "localhost:", "host:port", "127.0.0.1:70000"):
        with pytest.raises(ConfigError, match="LIVECHAT_METRICS_LISTEN"):
            base.with_(metrics_listen=bad).validate()
    base.with_(metrics_listen="[::1]:9100").validate()
    assert base.metrics_path() is None
    assert base.with_(metrics_dir="/m").metrics_path() == Path("/m")
    # Several workers share a port, so a scrape meets any of them: they share a directory.
    assert base.with_(workers=2, broker_url="redis://x", metrics_token=TOKEN).metrics_path() == \
        tmp_path / "x.db-metrics"


async def test_not_served_unless_configured(db: Path) -> None:
    await seed(db)
    with serving(db) as server:
        async with httpx.AsyncClient() as http:
            assert (await http.get(f"{server.http}/metrics")).status_code == 404
            assert (await http.get(f"{server.http}/metrics", headers=AUTH)).status_code == 404


async def test_traffic_moves_the_numbers(db: Path) -> None:
    seeded = await seed(db)
    with serving(db, LIVECHAT_METRICS_TOKEN=TOKEN,
                 LIVECHAT_NEW_CONVERSATIONS_PER_IP="1") as server:
        url = f"{server.http}/metrics"
        async with httpx.AsyncClient() as http:
            refused = await http.get(url)
            assert refused.status_code == 401
            assert refused.headers["www-authenticate"] == 'Bearer realm="metrics"'
            wrong = await http.get(url, headers={"Authorization": "Bearer " + "x" * len(TOKEN)})
            assert wrong.status_code == 401
            assert TOKEN not in wrong.text
        before = await scrape(url)
        assert value(before, "livechat_messages_total", sender="visitor") == 0
        assert value(before, "livechat_store_up") == 1
        assert value(before, "livechat_broker_up") == 1

        cookie = await login(server, seeded.agent_email)
        a, _ = await agent(server, cookie)
        v, _ = await visitor(server, seeded.site_id)
        sent = await v.request({"type": "send", "id": "m1", "body": "hello"})
        conversation = sent["conversation_id"]
        waiting = await scrape(url)
        assert value(waiting, "livechat_connections", kind="visitor") == 1
        assert value(waiting, "livechat_connections", kind="agent") == 1
        assert value(waiting, "livechat_messages_total", sender="visitor") == 1
        assert value(waiting, "livechat_ack_seconds_count", sender="visitor") == 1
        assert value(waiting, "livechat_ack_seconds_bucket", sender="visitor", le="+Inf") == 1
        assert value(waiting, "livechat_ack_seconds_sum", sender="visitor") > 0
        assert value(waiting, "livechat_conversations_opened_total") == 1
        assert value(waiting, "livechat_conversations_waiting", site=seeded.site_id) == 1
        assert value(waiting, "livechat_queue_oldest_wait_seconds", site=seeded.site_id) >= 0
        assert value(waiting, "livechat_agents_online", site=seeded.site_id) == 1
        assert value(waiting, "livechat_agents_online", site=seeded.other_site_id) == 0
        assert value(waiting, "livechat_sqlite_wal_bytes") > 0
        assert value(waiting, "livechat_http_requests_total", route="/api/agent/login",
                     status="2xx") == 1
        assert value(waiting, "livechat_http_requests_total", route="/metrics",
                     status="4xx") == 2
        commits = value(waiting, "livechat_store_batch_size_count")
        assert commits >= 1
        assert value(waiting, "livechat_store_batch_size_sum") >= commits
        assert value(waiting, "livechat_store_batch_seconds_count") == commits
        published = value(waiting, "livechat_broker_publishes_total")
        assert published >= 1
        assert value(waiting, "livechat_broker_received_total") >= 1

        await a.request({"type": "open", "id": "o1", "conversation_id": conversation,
                         "last_seq": 0})
        await a.request({"type": "send", "id": "r1", "conversation_id": conversation,
                         "body": "hi, how can I help?"})
        await v.of_type("message", body="hi, how can I help?")
        replied = await scrape(url)
        assert value(replied, "livechat_messages_total", sender="agent") == 1
        assert value(replied, "livechat_ack_seconds_count", sender="agent") == 1
        assert value(replied, "livechat_routing_decisions_total", decision="claimed") == 1
        assert value(replied, "livechat_conversations_waiting", site=seeded.site_id) == 0
        assert value(replied, "livechat_store_batch_size_count") > commits
        assert value(replied, "livechat_broker_publishes_total") > published

        # Refusals and errors by code: a frame that is not JSON, and a second visitor from the
        # same address over the limit of new conversations (1 a minute here).
        await v.send("{not json")
        await v.of_type("error", code="bad_json")
        other, _ = await visitor(server, seeded.site_id)
        refused_send = await other.request({"type": "send", "id": "m1", "body": "me too"})
        assert refused_send["code"] == "rate_limited"
        errors = await scrape(url)
        assert value(errors, "livechat_errors_total", code="bad_json") == 1
        assert value(errors, "livechat_errors_total", code="rate_limited") == 1
        assert value(errors, "livechat_rate_limited_total", scope="conversation") == 1
        assert value(errors, "livechat_messages_total", sender="visitor") == 1

        # Closes by code, and the connections they end.
        await other.close()
        await v.close()
        closed = await until(url, lambda s: value(s, "livechat_connections", kind="visitor") == 0
                             and value(s, "livechat_ws_closes_total", code="1000") == 2)
        assert value(closed, "livechat_connections", kind="agent") == 1
        await a.close()


async def test_counters_move_during_a_short_load(db: Path) -> None:
    """Five visitors sending in rounds, scraped between the rounds and during them: the counts
    rise by exactly what was sent, and a scrape in the middle of the load sees a value between."""
    seeded = await seed(db)
    with serving(db, LIVECHAT_METRICS_TOKEN=TOKEN, **UNLIMITED) as server:
        url = f"{server.http}/metrics"
        visitors = [(await visitor(server, seeded.site_id))[0] for _ in range(5)]
        sent = 0
        last = await scrape(url)
        for round_ in range(4):
            async def burst(index: int, round_: int = round_) -> None:
                client = visitors[index]
                for n in range(10):
                    await client.request({"type": "send", "id": f"m{round_}-{n}",
                                          "body": f"round {round_} message {n}"})

            during, *_ = await asyncio.gather(scrape(url), *(burst(i) for i in range(5)))
            sent += 50
            now = await scrape(url)
            assert value(now, "livechat_messages_total", sender="visitor") == sent
            assert value(now, "livechat_ack_seconds_count", sender="visitor") == sent
            assert sent - 50 <= value(during, "livechat_messages_total", sender="visitor") <= sent
            for name in ("livechat_store_batch_size_count", "livechat_store_batch_size_sum",
                         "livechat_broker_publishes_total", "livechat_broker_received_total"):
                assert value(now, name) > value(last, name), name
            assert value(now, "livechat_ack_seconds_sum", sender="visitor") > value(
                last, "livechat_ack_seconds_sum", sender="visitor")
            assert value(now, "livechat_store_batch_size_sum") - value(
                last, "livechat_store_batch_size_sum") >= 50  # every message was one write
            last = now
        assert value(last, "livechat_conversations_opened_total") == 5
        assert value(last, "livechat_conversations_waiting", site=seeded.site_id) == 5
        for client in visitors:
            await client.close()


async def test_two_processes_share_one_directory(tmp_path: Path) -> None:
    """Two ``livechat serve`` on one database and one Redis, summed by either; the second
    serving its metrics on an address of its own. A process killed with -9 stops counting as
    connected, and what it counted stays in the sums."""
    db = tmp_path / "shared.db"
    seeded = await seed(db)
    redis = RedisServer(tmp_path).start()
    own = free_port()
    shared = {"LIVECHAT_REDIS_URL": redis.url, "LIVECHAT_REDIS_PREFIX": "metrics",
              "LIVECHAT_METRICS_DIR": str(tmp_path / "metrics"),
              "LIVECHAT_METRICS_TOKEN": TOKEN}
    a = ServerProcess(db, env=shared).start()
    b = ServerProcess(db, env={**shared,
                               "LIVECHAT_METRICS_LISTEN": f"127.0.0.1:{own}"}).start()
    try:
        async with httpx.AsyncClient() as http:
            # b's own port does not serve them; its own address does, to the token alone.
            assert (await http.get(f"{b.http}/metrics", headers=AUTH)).status_code == 404
            assert (await http.get(f"http://127.0.0.1:{own}/metrics")).status_code == 401
            assert (await http.get(f"http://127.0.0.1:{own}/other", headers=AUTH)
                    ).status_code == 404
            post = await http.post(f"http://127.0.0.1:{own}/metrics", headers=AUTH)
            assert post.status_code == 405
        on_a, _ = await visitor(a, seeded.site_id)
        on_b, _ = await visitor(b, seeded.site_id)
        await on_a.request({"type": "send", "id": "a1", "body": "from a"})
        await on_b.request({"type": "send", "id": "b1", "body": "from b"})
        both = [await scrape(f"{a.http}/metrics"),
                await scrape(f"http://127.0.0.1:{own}/metrics")]
        for samples in both:
            assert value(samples, "livechat_messages_total", sender="visitor") == 2
            assert value(samples, "livechat_connections", kind="visitor") == 2
            assert value(samples, "livechat_ack_seconds_count", sender="visitor") == 2
            assert value(samples, "livechat_conversations_waiting", site=seeded.site_id) == 2
            assert value(samples, "livechat_broker_up") == 1
        b.kill9()
        after = await scrape(f"{a.http}/metrics")
        assert value(after, "livechat_connections", kind="visitor") == 1
        assert value(after, "livechat_messages_total", sender="visitor") == 2
        await on_a.close()
        a.stop()
        # Nobody left on the directory: the next process starts the counts over.
        c = ServerProcess(db, env=shared).start()
        try:
            fresh = await scrape(f"{c.http}/metrics")
            assert value(fresh, "livechat_messages_total", sender="visitor") == 0
            assert value(fresh, "livechat_connections", kind="visitor") == 0
        finally:
            c.stop()
        assert "Traceback" not in c.log(), c.log()
    finally:
        a.stop()
        b.stop()
        redis.stop()
    assert "Traceback" not in a.log(), a.log()


def _metric_names(expr: str) -> set[str]:
    return set(re.findall(r"\blivechat_[a-z_]+\b", expr))


def _family(name: str, exposed: set[str]) -> str | None:
    if name in exposed:
        return name
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and name[: -len(suffix)] in exposed:
            return name[: -len(suffix)]
    return None


async def test_dashboard_and_docs_name_what_is_exposed(db: Path) -> None:
    """Every query of the Grafana dashboard asks for a metric /metrics exposes, and
    docs/deployment.md describes every exposed metric with its type and labels: neither can
    drift."""
    seeded = await seed(db)
    with serving(db, LIVECHAT_METRICS_TOKEN=TOKEN) as server:
        url = f"{server.http}/metrics"
        v, _ = await visitor(server, seeded.site_id)
        sent = await v.request({"type": "send", "id": "m1", "body": "hello"})
        # An answered conversation, for the typical wait.
        a, _ = await agent(server, await login(server, seeded.agent_email))
        await a.request({"type": "send", "id": "r1", "conversation_id": sent["conversation_id"],
                         "body": "hi"})
        await a.close()
        await v.close()
        await until(url, lambda s: value(s, "livechat_ws_closes_total", code="1000") == 2)
        async with httpx.AsyncClient() as http:
            text = (await http.get(url, headers=AUTH)).text
    samples, types = parse(text)
    exposed = {name for name in types if name.startswith("livechat_")}
    labels: dict[str, set[str]] = {name: set() for name in exposed}
    for sample_name, sample_labels in samples:
        family = _family(sample_name, exposed)
        if family is not None:
            labels[family] |= {k for k, _ in sample_labels if k != "le"}

    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["title"] and dashboard["panels"]
    assert {i["name"] for i in dashboard["__inputs"]} == {"DS_PROMETHEUS"}
    exprs = [target["expr"] for panel in dashboard["panels"] for target in
             panel.get("targets", [])]
    exprs += [var["definition"] for var in dashboard["templating"]["list"]]
    assert len(exprs) >= 15
    asked: set[str] = set()
    for expr in exprs:
        if not expr.startswith("label_values("):  # (a Grafana function, not PromQL)
            # Grafana's variables as Prometheus receives them.
            promql_parser.parse(expr.replace("$__rate_interval", "1m").replace("$job", ".*"))
        names = _metric_names(expr)
        assert names, expr
        for name in names:
            family = _family(name, exposed)
            assert family is not None, f"{name} (in {expr!r}) is not exposed"
            asked.add(family)
    assert asked == exposed, f"not on the dashboard: {sorted(exposed - asked)}"

    docs = (ROOT / "docs" / "deployment.md").read_text()
    rows = re.findall(r"^\| `(livechat_[a-z_]+)` \| (\w+) \| ([^|]+) \|", docs, re.M)
    # The labels cell: "—", "`site`", or "`name`: what its values are, `other`: …".
    documented = {name: (kind, set(re.findall(r"`(\w+)`:", cell))
                         or set(re.findall(r"^`(\w+)`$", cell.strip())))
                  for name, kind, cell in rows}
    expected = {name + ("_total" if kind == "counter" else ""): kind
                for name, kind in types.items() if name in exposed}
    assert {name: kind for name, (kind, _) in documented.items()} == expected
    for name, (kind, cell) in documented.items():
        family = name.removesuffix("_total") if kind == "counter" else name
        assert cell == labels[family], f"{name}: documented {cell}, exposed {labels[family]}"


def test_children_bound_once_count() -> None:
    """The children the hot path holds (bound at start) are the ones exposed."""
    from server.metrics import Metrics

    metrics = Metrics()
    for _ in range(1000):
        metrics.messages["visitor"].inc()
        metrics.visitor_ack.observe(0.001)
    samples, _ = parse(metrics.exposition().decode())
    assert value(samples, "livechat_messages_total", sender="visitor") == 1000
    assert value(samples, "livechat_ack_seconds_bucket", sender="visitor", le="0.001") == 1000


async def test_outbox_backlog_counts_what_is_still_to_do(tmp_path: Path) -> None:
    """``livechat_outbox_pending`` / ``_oldest_seconds`` are read from the store at scrape time:
    what each durable outbox still has to do, and since when."""
    from server.store import SQLiteStore
    from server.store.outbox import INVITE, Outbox

    now = [1_000.0]
    store = SQLiteStore(tmp_path / "o.db", clock=lambda: now[0])
    await store.open()
    try:
        assert await store.outbox_backlog() == {"email": (0, None), "webhook": (0, None)}
        outbox = Outbox(store, delay_ms=0, new_key=lambda: "k")
        agent = await store.create_agent("ana@acme.test", "Ana", "x", "admin", [])
        assert await outbox.agent_email(INVITE, agent.id, "ana@acme.test", "invite-1")
        now[0] += 5
        assert await outbox.agent_email(INVITE, agent.id, "ana@acme.test", "invite-2")
        assert await store.outbox_backlog() == {"email": (2, 1_000_000), "webhook": (0, None)}
        for job in await outbox.claim("w", lease_ms=60_000):
            await outbox.skipped(job, "w", "test: nothing to send")
        assert (await store.outbox_backlog())["email"] == (0, None)
    finally:
        await store.close()
