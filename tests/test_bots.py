"""Bot first, then a person (server/bots.py): a real receiver plays the bot — it is told of each
visitor message by webhook and answers through the REST API, then hands off — and the visitor,
then Ana, see who is answering. The browser half: the visitor's widget in Chromium."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from playwright.async_api import Browser, FrameLocator, expect

from tests.browser import (  # noqa: F401 — the browser and sites fixtures
    Sites,
    agent_page,
    browser,
    open_widget,
    sites,
)
from tests.live import (
    ROOT,
    UNLIMITED,
    Seed,
    agent,
    login,
    open_store,
    server_env,
    serving,
    visitor,
)
from tests.webhook_receiver import Receiver, receiving

ENV = {**UNLIMITED, "LIVECHAT_WEBHOOK_ALLOW_PRIVATE": "1", "LIVECHAT_WEBHOOK_POLL": "0.02",
       "LIVECHAT_WEBHOOK_RETRY_BASE": "0.05",
       # The router sweeps often and forgives absent agents fast: a bot, which never opens a
       # panel, must keep its conversations all the same.
       "LIVECHAT_ROUTING_INTERVAL": "0.1", "LIVECHAT_REQUEUE_GRACE": "0.2"}


def make_bot(db: Path, site_id: str, url: str | None = None) -> dict[str, Any]:
    args = [sys.executable, "-m", "server", "bot", "create", "--db", str(db), "--site", site_id,
            "--name", "Ava", "--json"]
    if url:
        args += ["--webhook", url]
    made = subprocess.run(args, env=server_env(db, LIVECHAT_WEBHOOK_ALLOW_PRIVATE="1"),
                          capture_output=True, text=True, cwd=ROOT)
    assert made.returncode == 0, made.stderr
    return dict(orjson.loads(made.stdout))


async def play_bot(receiver: Receiver, base: str, token: str, bot_id: str,
                   handled: list[str], ignore: str | None = None) -> None:
    """The bot: answers each visitor message it is sent (once per webhook-id); a visitor who asks
    for a person is handed off. A message with ``ignore`` in it is left unanswered."""
    headers = {"Authorization": f"Bearer {token}"}
    seen: set[str] = set()
    async with httpx.AsyncClient(base_url=base, headers=headers) as api:
        while True:
            await receiver.until(lambda got: any(r.id not in seen for r in got))
            for event in [r for r in receiver.received if r.id not in seen]:
                seen.add(event.id)
                payload = event.json
                message = payload["data"]["message"]
                if payload["type"] != "message.created" or message["author"]["type"] != "visitor":
                    continue
                if ignore is not None and ignore in message["body"]:
                    continue
                conversation = payload["data"]["conversation"]["id"]
                if "person" in message["body"]:
                    r = await api.post(f"/api/v1/conversations/{conversation}/handoff")
                else:
                    r = await api.post(f"/api/v1/conversations/{conversation}/messages",
                                       json={"body": f"Ava here: you said {message['body']!r}",
                                             "agent_id": bot_id},
                                       headers={"Idempotency-Key": f"re-{event.id}"})
                assert r.status_code in (200, 201), r.text
                handled.append(message["body"])


async def test_a_bot_answers_first_then_hands_off_to_a_person(db: Path, seeded: Seed) -> None:
    async with receiving() as receiver:
        made = make_bot(db, seeded.site_id, receiver.url)
        bot_id, token = made["bot"]["id"], made["token"]
        assert bot_id.startswith("bot_") and made["webhook"]["secret"].startswith("whsec_")
        with serving(db, **ENV) as server:
            handled: list[str] = []
            bot = asyncio.create_task(play_bot(receiver, server.http, token, bot_id, handled))
            try:
                ana, _ = await agent(server, await login(server, seeded.agent_email))
                widget, _ = await visitor(server, seeded.site_id)
                ack = await widget.request({"type": "send", "id": "q1", "body": "Is it open?"})
                conversation = ack["conversation_id"]
                joined = await widget.of_type("message", seq=2)
                assert joined["kind"] == "joined" and joined["author"]["bot"] is True
                assert joined["author"]["name"] == "Ava" and "id" not in joined["author"]
                answer = await widget.of_type("message", seq=3)
                assert answer["body"] == "Ava here: you said 'Is it open?'"
                assert answer["author"]["bot"] is True
                # Agents see it is the bot's, not waiting for them.
                inbox = await ana.next(lambda f: f.get("type") == "conversation"
                                       and f["conversation"]["id"] == conversation
                                       and f["conversation"]["last_seq"] == 3)
                assert inbox["conversation"]["status"] == "assigned"
                assert inbox["conversation"]["assignee"]["bot"] is True
                await widget.request({"type": "send", "id": "q2", "body": "a person please"})
                handoff = await widget.of_type("message", seq=5)
                assert handoff["kind"] == "requeued" and handoff["handoff"] is True
                waiting = await ana.next(lambda f: f.get("type") == "conversation"
                                         and f["conversation"]["id"] == conversation
                                         and f["conversation"]["status"] == "waiting")
                assert waiting["conversation"]["assignee"] is None
                # Ana takes it with the bot's exchange above, and answers.
                opened = await ana.request({"type": "open", "id": "o", "conversation_id":
                                            conversation})
                assert opened["type"] == "ack"
                history = await ana.request({"type": "history", "id": "h", "before_seq": 100,
                                             "conversation_id": conversation})
                bodies = [m["body"] for m in history["messages"] if m["kind"] == "text"]
                assert bodies == ["Is it open?", "Ava here: you said 'Is it open?'",
                                  "a person please"]
                reply = await ana.request({"type": "send", "id": "a1", "body": "Ana here!",
                                           "conversation_id": conversation})
                assert reply["type"] == "ack", reply
                human = await widget.of_type("message", seq=7)
                assert human["body"] == "Ana here!" and "bot" not in human["author"]
                assert handled == ["Is it open?", "a person please"]
                # Only the hand-off put it back in the queue (the bot was never "gone").
                async with open_store(db) as store:
                    messages = await store.messages_after(conversation, 0)
                assert [m.kind for m in messages].count("requeued") == 1
                # The visitor can ask for a person too, on their next conversation.
                await ana.request({"type": "resolve", "id": "r", "conversation_id":
                                   conversation})
                again = await widget.request({"type": "send", "id": "q3", "body": "me again"})
                second = again["conversation_id"]
                assert second != conversation
                await widget.of_type("message", conversation_id=second, seq=3)  # Ava answered
                asked = await widget.request({"type": "handoff", "id": "h2"})
                assert asked["conversation"]["status"] == "waiting"
                assert asked["duplicate"] is False and asked["conversation"]["assignee"] is None
                twice = await widget.request({"type": "handoff", "id": "h3"})
                assert twice["duplicate"] is True
                # A slow bot's late answer does not take it back from the queue: it is for
                # people now (it was: a black-box tester).
                async with httpx.AsyncClient(base_url=server.http) as http:
                    late = await http.post(
                        f"/api/v1/conversations/{second}/messages",
                        json={"body": "Ava again", "agent_id": bot_id},
                        headers={"Authorization": f"Bearer {token}"})
                assert late.status_code == 409 and late.json()["error"] == "not_assignee", \
                    late.text
                async with open_store(db) as store:
                    still = await store.conversation(second)
                assert still is not None and still.status == "waiting"
                assert still.assignee_id is None
                await widget.close()
                await ana.close()
            finally:
                bot.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await bot


async def test_a_visitor_the_bot_leaves_unanswered_goes_to_people(
        db: Path, seeded: Seed) -> None:
    """A bot that is down, whose webhook fails, or that says nothing, kept the conversation for
    ever, and the visitor waited for nobody (a black-box tester). After
    ``LIVECHAT_BOT_REPLY_TIMEOUT`` seconds without the bot's answer the conversation goes to
    people, as if handed off; a conversation the bot answers stays with it."""
    async with receiving() as receiver:
        made = make_bot(db, seeded.site_id, receiver.url)
        bot_id, token = made["bot"]["id"], made["token"]
        with serving(db, **ENV, LIVECHAT_BOT_REPLY_TIMEOUT="0.5") as server:
            handled: list[str] = []
            bot = asyncio.create_task(play_bot(receiver, server.http, token, bot_id, handled,
                                               ignore="stumped"))
            try:
                ana, _ = await agent(server, await login(server, seeded.agent_email))
                answered, _ = await visitor(server, seeded.site_id)
                kept = (await answered.request({"type": "send", "id": "a", "body": "Open?"}))[
                    "conversation_id"]
                assert (await answered.of_type("message", seq=3))["author"]["bot"] is True
                left, _ = await visitor(server, seeded.site_id)
                sent = await left.request({"type": "send", "id": "b", "body": "I am stumped"})
                silent = sent["conversation_id"]
                assert (await left.of_type("message", seq=2))["kind"] == "joined"
                handoff = await left.of_type("message", seq=3)
                assert handoff["kind"] == "requeued" and handoff["handoff"] is True
                assert handoff["timeout"] is True and handoff["author"]["bot"] is True
                assert handoff["at"] - sent["message"]["at"] >= 500
                waiting = await ana.next(lambda f: f.get("type") == "conversation"
                                         and f["conversation"]["id"] == silent
                                         and f["conversation"]["status"] == "waiting")
                assert waiting["conversation"]["assignee"] is None
                # The answered one was as old at that sweep, and stays with the bot.
                async with open_store(db) as store:
                    still = await store.conversation(kept)
                    assert still is not None and still.assignee_id == bot_id
                    assert [m.kind for m in await store.messages_after(kept, 0)] == [
                        "text", "joined", "text"]
                assert handled == ["Open?"]
                for client in (answered, left, ana):
                    await client.close()
            finally:
                bot.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await bot


async def test_handoff_needs_a_bot_and_keeps_tenancy(db: Path, seeded: Seed) -> None:
    made = make_bot(db, seeded.site_id)
    with serving(db, **ENV) as server:
        headers = {"Authorization": f"Bearer {made['token']}"}
        ana, welcome = await agent(server, await login(server, seeded.agent_email))
        widget, _ = await visitor(server, seeded.site_id)
        ack = await widget.request({"type": "send", "id": "x1", "body": "hello"})
        conversation = ack["conversation_id"]
        taken = await ana.request({"type": "transfer", "id": "t", "conversation_id": conversation,
                                   "agent_id": welcome["agent"]["id"]})
        assert taken["type"] == "ack", taken
        async with httpx.AsyncClient(base_url=server.http, headers=headers) as api:
            refused = await api.post(f"/api/v1/conversations/{conversation}/handoff")
            assert refused.status_code == 409 and refused.json()["error"] == "not_assignee"
            other, _ = await visitor(server, seeded.other_site_id)
            elsewhere = (await other.request({"type": "send", "id": "y", "body": "b"}))[
                "conversation_id"]
            hidden = await api.post(f"/api/v1/conversations/{elsewhere}/handoff")
            assert hidden.status_code == 404
        listed = await asyncio.to_thread(
            subprocess.run, [sys.executable, "-m", "server", "bot", "list", "--db", str(db)],
            env=server_env(db), capture_output=True, text=True, cwd=ROOT)
        assert made["bot"]["id"] in listed.stdout
        # A black-box tester's: no --json here, the token's id (which `token revoke` wants)
        # not in `bot create --json`, and a site without a bot "removed" one.
        as_json = await asyncio.to_thread(
            subprocess.run, [sys.executable, "-m", "server", "bot", "list", "--json", "--db",
                             str(db)], env=server_env(db), capture_output=True, text=True,
            cwd=ROOT)
        assert orjson.loads(as_json.stdout) == [
            {"site_id": seeded.site_id, "id": made["bot"]["id"], "name": made["bot"]["name"]}]
        assert made["token_id"].startswith("tok_") and made["token"].startswith(
            f"lc.{made['token_id']}.")
        nobody = await asyncio.to_thread(
            subprocess.run, [sys.executable, "-m", "server", "bot", "remove", "--site",
                             seeded.other_site_id, "--db", str(db)], env=server_env(db),
            capture_output=True, text=True, cwd=ROOT)
        assert (nobody.returncode, nobody.stderr) == (
            2, f"livechat: no bot answers {seeded.other_site_id} first\n"), nobody
        for client in (widget, other, ana):
            await client.close()


@pytest.mark.browser
@pytest.mark.site_profile(offline="form")
async def test_a_site_whose_bot_answers_chats_when_nobody_is_online(
        browser: Browser, sites: Sites, artifacts: Path) -> None:  # noqa: F811
    """A site that takes messages with a form when nobody is online, and whose bot answers
    first: the widget showed the form ("leave a message"), so the bot never answered out of
    hours, when it is most needed (a black-box tester). The chat is open: the bot answers."""
    from server.store.bots import Bots

    page = await (await browser.new_context()).new_page()

    async def opened() -> FrameLocator:
        """The chat, once its welcome is handled (the state is set as the welcome is read)."""
        await page.goto(sites.page_url)
        await page.get_by_role("button", name="Open chat").click()
        frame = page.frame_locator("iframe[title=Chat]")
        await expect(frame.locator("html[data-state=online]")).to_have_count(1)
        return frame

    frame = await opened()
    await expect(frame.locator("#intake")).to_be_visible()  # no bot yet: the form
    async with open_store(sites.chat.db) as store:
        await Bots(store).create(sites.site_id, "Ava")
    frame = await opened()
    message = frame.get_by_label("Message", exact=True)
    await expect(message).to_be_visible()
    await expect(frame.locator("#intake")).to_be_hidden()
    await message.fill("Are you open on Sunday?")
    await message.press("Enter")
    await expect(frame.locator(".notice").last).to_have_text("Ava (bot) joined the conversation")
    await expect(frame.locator("#status")).to_have_text("Ava (bot) is answering")
    await page.screenshot(path=str(artifacts / "bot-out-of-hours.png"))


@pytest.mark.browser
async def test_the_visitor_sees_the_bot_then_the_person(
        browser: Browser, sites: Sites, artifacts: Path) -> None:  # noqa: F811
    from server.store.bots import Bots
    from tests.live import api_token

    async with open_store(sites.chat.db) as store:
        bot = await Bots(store).create(sites.site_id, "Ava")
    token = api_token(sites.chat.db, "conversations:read", "conversations:write",
                      site=sites.site_id)
    visitor_page = await (await browser.new_context(viewport={"width": 1100,
                                                              "height": 760})).new_page()
    await visitor_page.goto(sites.page_url)
    frame = await open_widget(visitor_page)
    await frame.get_by_label("Message", exact=True).fill("Do you ship to Madeira?")
    await frame.get_by_label("Message", exact=True).press("Enter")
    await expect(frame.locator(".notice").last).to_have_text("Ava (bot) joined the conversation")
    await expect(frame.locator("#status")).to_have_text("Ava (bot) is answering")
    async with httpx.AsyncClient(base_url=sites.chat.http,
                                 headers={"Authorization": f"Bearer {token}"}) as api:
        listed = (await api.get("/api/v1/conversations")).json()["data"]
        conversation = listed[0]["id"]
        r = await api.post(f"/api/v1/conversations/{conversation}/messages",
                           json={"body": "Yes, in 3 to 5 days.", "agent_id": bot.id})
        assert r.status_code == 201
    answer = frame.locator(".theirs").last
    await expect(answer).to_contain_text("Yes, in 3 to 5 days.")
    await expect(answer).to_contain_text("Ava (bot)")
    talk = frame.get_by_role("button", name="Talk to a person")
    await expect(talk).to_be_visible()
    await visitor_page.screenshot(path=str(artifacts / "bot-answering.png"))
    # Ana (not an admin) sees the bot's conversation as the bot's, and may take it over; before,
    # the panel said "Ava" like a person and offered her no Transfer (a black-box tester).
    panel = await agent_page(browser, sites)
    item = panel.locator("#list .item", has_text="Yes, in 3 to 5 days.")
    await panel.get_by_role("tab", name="All open").click()
    await expect(item).to_contain_text("Ava (bot)")
    await item.locator("button").first.click()
    await expect(panel.locator("#conv-status")).to_contain_text("Assigned to Ava (bot)")
    await expect(panel.get_by_role("button", name="Transfer")).to_be_visible()
    await talk.click()
    await expect(frame.get_by_text("Connecting you with a person…")).to_be_visible()
    await expect(talk).to_be_hidden()
    # The handoff is news for people: said as a new conversation (it was not).
    await expect(panel.locator("#notice")).to_contain_text("New conversation")
    composer = panel.get_by_label("Reply")
    await composer.fill("Hi, I'm Ana: what's the postcode?")
    await composer.press("Enter")
    await expect(frame.locator("#status")).to_have_text("Ana Lima is answering")
    human = frame.locator(".theirs").last
    await expect(human).to_contain_text("what's the postcode?")
    await expect(human).not_to_contain_text("(bot)")
    await visitor_page.screenshot(path=str(artifacts / "bot-then-person.png"))


@pytest.mark.browser
async def test_the_panels_queue_puts_a_handed_off_visitor_after_those_waiting(
        browser: Browser, sites: Sites, artifacts: Path) -> None:  # noqa: F811
    """The queue is served in the order visitors reached people: one the bot talked to for a
    while, handed off now, is behind a visitor who has waited for a person since before (it
    went first, by when it started: a black-box tester)."""
    from server.store.bots import Bots

    async with open_store(sites.chat.db) as store:
        await Bots(store).create(sites.site_id, "Ava")
    talked = await (await browser.new_context()).new_page()
    await talked.goto(sites.page_url)
    first = await open_widget(talked)
    await first.get_by_label("Message", exact=True).fill("Bot, where is my parcel?")
    await first.get_by_label("Message", exact=True).press("Enter")
    await expect(first.locator("#status")).to_have_text("Ava (bot) is answering")
    async with open_store(sites.chat.db) as store:
        await Bots(store).remove(sites.site_id)  # new conversations go to people now
    waited = await (await browser.new_context()).new_page()
    await waited.goto(sites.page_url)
    second = await open_widget(waited)
    await second.get_by_label("Message", exact=True).fill("Hello, anyone there?")
    await second.get_by_label("Message", exact=True).press("Enter")
    await expect(second.locator(".mine").last).to_contain_text("Hello, anyone there?")
    panel = await agent_page(browser, sites)
    queue = panel.locator("#list .item")
    await expect(queue).to_have_count(1)
    await first.get_by_role("button", name="Talk to a person").click()
    await expect(first.get_by_text("Connecting you with a person…")).to_be_visible()
    await expect(queue).to_have_count(2)
    await expect(queue.nth(0)).to_contain_text("Hello, anyone there?")
    await expect(queue.nth(1)).to_contain_text("Bot, where is my parcel?")
    await panel.reload()  # the same from the server's order
    await expect(queue).to_have_count(2)
    await expect(queue.nth(0)).to_contain_text("Hello, anyone there?")
    await expect(queue.nth(1)).to_contain_text("Bot, where is my parcel?")
    await panel.screenshot(path=str(artifacts / "queue-after-handoff.png"))
