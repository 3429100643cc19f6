"""The agent panel's messages, in a real Chromium: "1 rating" in every language, "Seen" spaced
like the rest of its line, a refused reply no longer shown as on its way, and the conversation
that is open already opened again without losing a message. Split from
tests/test_panel_defects.py. Screenshots go to test-artifacts/ (LIVECHAT_ARTIFACTS)."""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, WebSocketRoute, expect

from tests import pg
from tests.browser import sign_in_page
from tests.faults import until
from tests.live import ADMIN_EMAIL, api_token, open_store
from tests.test_panel_browser import (  # noqa: F401 — fixtures
    Desk,
    axe_violations,
    browser,
    desk,
    sign_in,
)
from tests.test_panel_defects import claimed
from tests.test_panel_polish import visitor_writes

# The spaces between neighbours on a line of a flex row (left to right), in CSS pixels; what is
# only for screen readers (1 px, out of the flow) is not a neighbour.
GAPS = """row => {
  const r = [...row.children].map(c => c.getBoundingClientRect()).filter(b => b.width > 1);
  const gaps = [];
  for (let i = 1; i < r.length; i++) {
    if (r[i].left >= r[i - 1].right) gaps.push(Math.round(r[i].left - r[i - 1].right));
  }
  return gaps;
}"""


@pytest.mark.browser
async def test_one_rating_in_every_language(browser: Browser, desk: Desk,  # noqa: F811
                                            artifacts: Path) -> None:
    """"1 rating", not "1 ratings": the panel's counted words follow each language's plural
    rules (Arabic has six forms, Hebrew three)."""
    visitor = await visitor_writes(browser, desk, "Do you ship to Madeira?")
    frame = visitor.frame_locator("iframe[title=Chat]")
    ana = await sign_in(browser, desk.chat.http, "ana@acme.test")
    await ana.locator("#list .item button").first.click()
    # (The header's buttons evenly spaced: before, the wrappers of hidden ones (Transfer and
    # Follow up…, on a waiting conversation) each added a gap of their own.)
    await expect(ana.locator("#follow-up-button")).to_be_hidden()
    assert set(await ana.locator("#conversation .actions").evaluate(GAPS)) == {6}
    await ana.get_by_role("button", name="Resolve", exact=True).click()
    await frame.get_by_role("radio", name="5 out of 5").click()
    await frame.get_by_role("button", name="Send rating").click()
    await expect(ana.locator("#conv-status")).to_contain_text("Rated 5/5")

    root = await sign_in(browser, desk.chat.http, ADMIN_EMAIL)
    await root.get_by_role("button", name="Reports").click()
    tile = root.locator("#report-tiles .tile").nth(7)
    await expect(tile).to_have_text("Satisfaction5 / 5 (100% happy, 1 rating)")
    await root.screenshot(path=artifacts / "panel-defects-10-one-rating.png", full_page=True)
    await root.get_by_role("button", name="Settings").click()
    await root.get_by_label("Language").select_option("pt")
    await root.keyboard.press("Escape")
    await expect(tile).to_have_text("Satisfação5 / 5 (100% satisfeitos, 1 avaliação)")

    counted = await root.evaluate("""async () => {
        const i18n = await import("/agent/static/i18n.js"), out = {};
        for (const [code] of i18n.LANGUAGES) {
            await i18n.use(code);
            out[code] = [1, 2, 3, 11, 100].map(n => [
                i18n.t("{average} / 5 ({percent}% happy, {n} ratings)",
                       { average: 4, percent: 50, n: n }),
                i18n.t("{percent}% yes ({n} answers)", { percent: 50, n: n }),
                i18n.t("{n} new", { n: n })]);
        }
        await i18n.use("en");
        return out;
    }""")
    one = {code: forms[0] for code, forms in counted.items()}
    assert one == {
        "en": ["4 / 5 (50% happy, 1 rating)", "50% yes (1 answer)", "1 new"],
        "pt": ["4 / 5 (50% satisfeitos, 1 avaliação)", "50% sim (1 resposta)", "1 nova"],
        "el": ["4 / 5 (50% ικανοποιημένοι, 1 αξιολόγηση)", "50% ναι (1 απάντηση)", "1 νέο"],
        "es": ["4 / 5 (50% satisfechos, 1 valoración)", "50% sí (1 respuesta)", "1 nuevo"],
        "fr": ["4 / 5 (50 % satisfaits, 1 note)", "50 % oui (1 réponse)", "1 nouveau"],
        "de": ["4 / 5 (50 % zufrieden, 1 Bewertung)", "50 % ja (1 Antwort)", "1 neu"],
        "ar": ["4 / 5 (50% راضون، تقييم واحد)", "50% نعم (إجابة واحدة)", "1 جديدة"],
        "he": ["4 / 5 (50% מרוצים, דירוג אחד)", "50% כן (תשובה אחת)", "1 חדשה"],
    }, one
    assert [f[0] for f in counted["en"]] == [
        "4 / 5 (50% happy, 1 rating)", "4 / 5 (50% happy, 2 ratings)",
        "4 / 5 (50% happy, 3 ratings)", "4 / 5 (50% happy, 11 ratings)",
        "4 / 5 (50% happy, 100 ratings)"]
    assert [f[0] for f in counted["ar"]] == [
        "4 / 5 (50% راضون، تقييم واحد)", "4 / 5 (50% راضون، تقييمان)",
        "4 / 5 (50% راضون، 3 تقييمات)", "4 / 5 (50% راضون، 11 تقييمًا)",
        "4 / 5 (50% راضون، 100 تقييم)"]
    assert [f[1] for f in counted["he"]] == [
        "50% כן (תשובה אחת)", "50% כן (שתי תשובות)", "50% כן (3 תשובות)",
        "50% כן (11 תשובות)", "50% כן (100 תשובות)"]
    two = {"pt": "4 / 5 (50% satisfeitos, {n} avaliações)",
           "el": "4 / 5 (50% ικανοποιημένοι, {n} αξιολογήσεις)",
           "es": "4 / 5 (50% satisfechos, {n} valoraciones)",
           "fr": "4 / 5 (50 % satisfaits, {n} notes)",
           "de": "4 / 5 (50 % zufrieden, {n} Bewertungen)"}
    for code, other in two.items():  # one form for 1, the other for the rest
        assert [f[0] for f in counted[code][1:]] == [
            other.replace("{n}", str(n)) for n in (2, 3, 11, 100)], code


@pytest.mark.browser
async def test_seen_is_spaced_like_the_rest_of_its_line(
        browser: Browser, desk: Desk, artifacts: Path) -> None:  # noqa: F811
    """"Ana Lima · 6:55:59 PM · Seen": the space before the second "·" is there, as wide as
    the one before the first (it was swallowed: "6:55:59 PM· Seen")."""
    visitor = await visitor_writes(browser, desk, "Hello?")
    frame = visitor.frame_locator("iframe[title=Chat]")
    ana = await claimed(browser, desk)
    reply = ana.get_by_label("Reply", exact=True)
    await reply.fill("Hi! How can I help?")
    await reply.press("Enter")
    await expect(frame.locator(".msg.theirs[data-seq]")).to_have_count(1)
    meta = ana.locator("#messages .msg.agent .meta").last
    await expect(meta.locator(".seen")).to_have_text(" · Seen")
    gaps = await meta.evaluate("""meta => {
        const name = meta.querySelector("bdi"), text = name.nextSibling;  // " · 6:55:59 PM"
        const dot = meta.querySelector(".seen").firstChild;
        const box = (node, from, to) => {
            const r = document.createRange(); r.setStart(node, from); r.setEnd(node, to);
            return r.getBoundingClientRect();
        };
        const first = text.data.indexOf("·"), second = dot.data.indexOf("·");
        return [box(text, first, first + 1).left - name.getBoundingClientRect().right,
                box(dot, second, second + 1).left
                  - box(text, text.data.length - 1, text.data.length).right];
    }""")
    assert gaps[1] > 1 and abs(gaps[0] - gaps[1]) < 0.5, gaps
    await meta.screenshot(path=artifacts / "panel-defects-11-seen.png")


@pytest.mark.browser
async def test_a_refused_reply_is_no_longer_shown_as_pending(
        browser: Browser, desk: Desk, artifacts: Path) -> None:  # noqa: F811
    """Before: a reply the server refused was marked ``failed`` and kept ``pending``: faded
    (its bubble at 70 % opacity) for ever, as if it were still on its way."""
    await visitor_writes(browser, desk, "Hello?")
    ana = await claimed(browser, desk)
    reply = ana.get_by_label("Reply", exact=True)
    # Refused (bad_text: a lone surrogate), then one that goes.
    await reply.evaluate("box => { box.value = 'Half an emoji \\ud83d'; }")
    await reply.press("Enter")
    await reply.fill("Hi! How can I help?")
    await reply.press("Enter")
    failed = ana.locator("#messages .msg.failed")
    await expect(failed.locator(".meta")).to_have_text(
        "Not sent: body contains a lone surrogate")
    await expect(ana.locator("#messages .msg.agent[data-seq] .body")).to_have_text(
        ["Hi! How can I help?"])
    await expect(ana.locator("#messages .msg.pending")).to_have_count(0)
    assert await failed.locator(".body").evaluate("b => getComputedStyle(b).opacity") == "1"
    await failed.screenshot(path=artifacts / "panel-defects-12-refused-reply.png")


@pytest.mark.browser
async def test_opening_the_open_conversation_again_misses_nothing(
        browser: Browser, desk: Desk, artifacts: Path) -> None:  # noqa: F811
    """The agent opens the conversation they have open (the inbox, a notification, a language
    switch): the panel clears it and asks for it again (``open``). The socket still follows it,
    so a message can come before the ``open``'s answer; the answer's messages (everything
    after the ``open``'s ``last_seq``, that one included) come after it. Before: that message
    moved the panel's ``currentSeq`` past the rest, which were then dropped: the conversation
    showed its newest message alone. The ``open`` is held here (Playwright's WebSocket route)
    until the visitor's message has arrived."""
    visitor = await visitor_writes(browser, desk, "Is the Summit Tent in stock?")
    frame = visitor.frame_locator("iframe[title=Chat]")
    composer = frame.get_by_label("Message", exact=True)
    await composer.fill("In green, ideally")
    await composer.press("Enter")
    await expect(frame.locator(".msg.mine[data-seq]")).to_have_count(2)

    held: list[str] = []
    holding, got_open = False, asyncio.Event()
    servers: list[WebSocketRoute] = []

    def route(ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()
        servers.append(server)

        def from_page(message: str | bytes) -> None:
            if holding and isinstance(message, str) and json.loads(message)["type"] == "open":
                held.append(message)
                got_open.set()
            else:
                server.send(message)
        ws.on_message(from_page)
        server.on_message(lambda message: ws.send(message))

    context = await browser.new_context(viewport={"width": 1400, "height": 860})
    await context.route_web_socket(re.compile(r"/ws/agent$"), route)
    ana = await sign_in_page(await context.new_page(), desk.chat.http, "ana@acme.test")
    listed = ana.locator("#list .item button").first
    await listed.click()
    shown = ana.locator("#messages > li[data-seq]")
    await expect(shown.locator(".body")).to_have_text(
        ["Is the Summit Tent in stock?", "In green, ideally"])

    holding = True
    await listed.click()  # the same conversation, again: its `open` is held
    await asyncio.wait_for(got_open.wait(), 10)
    await composer.fill("Size 2P, please")
    await composer.press("Enter")
    await expect(shown.locator(".body")).to_have_text(["Size 2P, please"])  # before the answer
    holding = False
    assert len(servers) == 1 and len(held) == 1
    servers[0].send(held.pop())
    await expect(shown.locator(".body")).to_have_text(
        ["Is the Summit Tent in stock?", "In green, ideally", "Size 2P, please"])
    assert await shown.evaluate_all("n => n.map(i => +i.dataset.seq)") == [1, 2, 3]
    await expect(ana.locator("#list .item .unread")).to_have_count(0)  # all read, the third too
    await ana.screenshot(path=artifacts / "panel-defects-13-opened-again.png")
    # And it goes on live.
    await composer.fill("Thanks!")
    await composer.press("Enter")
    await expect(shown.locator(".body")).to_have_text(
        ["Is the Summit Tent in stock?", "In green, ideally", "Size 2P, please", "Thanks!"])


@pytest.mark.browser
async def test_a_conversation_left_within_a_quarter_second_is_read(
        browser: Browser, desk: Desk, artifacts: Path) -> None:  # noqa: F811
    """The panel says what it has shown is read a quarter second after showing it (one
    ``read`` for a burst, not one per message). Before: an agent who went on to the next
    conversation within that time (j, j) left the one passed through at "1 new" though its
    message had been on screen. The page's clock is stopped so that the quarter second never
    ends on its own."""
    async with open_store(desk.chat.db) as store:
        await store.append_visitor_message(desk.site_id, "vis_passed", "p0", "passed through")
        await store.append_visitor_message(desk.site_id, "vis_landed", "l0", "landed on")
    ana = await sign_in(browser, desk.chat.http, "ana@acme.test")
    unread = ana.locator("#list .item .unread")
    await expect(unread).to_have_count(2)
    await ana.clock.install()
    await ana.clock.pause_at(time.time() * 1000 + 60_000)
    await expect(ana.locator("#list .item").first).to_contain_text("passed through")  # oldest
    await ana.keyboard.press("j")
    await expect(ana.locator("#messages > li[data-seq] .body")).to_have_text(["passed through"])
    await ana.keyboard.press("j")  # on, before the quarter second is over
    await expect(ana.locator("#messages > li[data-seq] .body")).to_have_text(["landed on"])
    item = ana.locator("#list .item", has_text="passed through")
    await expect(item.locator(".unread")).to_have_count(0)
    await expect(unread).to_have_count(1)  # the one landed on: not yet a quarter second
    await ana.clock.run_for(1000)
    await expect(unread).to_have_count(0)
    await ana.screenshot(path=artifacts / "panel-messages-passed-through-read.png")


@pytest.mark.browser
async def test_the_conversation_says_which_day_its_messages_are_from(
        browser: Browser, desk: Desk, artifacts: Path) -> None:  # noqa: F811
    """A black-box tester: "23:59:43 and 00:00:04 on different days look consecutive" (the
    panel showed times alone). A separator now heads each day's first message: "Today",
    "Yesterday", else the date; named again at midnight (the page's clock run a day on)."""
    day = 24 * 3600
    today = [f"today {n}" for n in range(50)]  # a page: the days before come with the next
    for ago, texts in ((3 * day, ["three days ago"]), (day, ["yesterday"]), (0, today)):
        async with open_store(desk.chat.db, clock=lambda ago=ago: time.time() - ago) as store:
            for text in texts:
                await store.append_visitor_message(desk.site_id, "vis_days01", text, text)
    ana = await sign_in(browser, desk.chat.http, "ana@acme.test")
    await ana.clock.install()
    await ana.locator("#list .item button").first.click()
    shown = ana.locator("#messages > li")
    separators = ana.locator("#messages > li.day")
    await expect(shown.locator(".body")).to_have_count(50)
    await expect(separators).to_have_text(["Today"])
    await ana.get_by_role("button", name="Show earlier messages").click()
    await expect(shown.locator(".body")).to_have_count(52)
    weekday = r"^(Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day, [A-Z][a-z]+ \d+$"
    assert (await shown.evaluate_all("n => n.map(i => i.className)"))[:6] == [
        "day", "msg visitor", "day", "msg visitor", "day", "msg visitor"]
    await expect(separators).to_have_text([re.compile(weekday), "Yesterday", "Today"])
    await ana.get_by_role("button", name="Claim").click()  # (an event, today: no new one)
    await ana.locator("#reply-input").fill("Here now")
    await ana.locator("#reply-input").press("Enter")
    await expect(ana.locator("#messages .msg.agent[data-seq] .body")).to_have_text(["Here now"])
    await expect(separators).to_have_count(3)
    await ana.screenshot(path=artifacts / "panel-messages-days.png")
    await ana.clock.fast_forward(day * 1000)
    await expect(separators).to_have_text(
        [re.compile(weekday), re.compile(weekday), "Yesterday"])
    await ana.get_by_role("button", name="Settings").click()
    await ana.get_by_label("Language").select_option("el")
    await ana.keyboard.press("Escape")
    await expect(separators.last).to_have_text("Χθες")  # (the last page, drawn again)


@pytest.mark.browser
async def test_a_skipped_check_in_leaves_the_follow_ups_view(
        browser: Browser, desk: Desk, artifacts: Path) -> None:  # noqa: F811
    """A check-in whose visitor has another conversation open when it is due is skipped (not
    sent: docs/protocol.md). Nothing else changes then, so the Follow-ups view kept listing it,
    due in the past, and Cancel said "no such follow-up" (a reviewer found it). The view is now
    read again once the soonest is due: the page's clock is run past it."""
    async with open_store(desk.chat.db) as store:
        await store.append_visitor_message(desk.site_id, "vis_skip01", "s0", "My order is late")
    ana = await sign_in(browser, desk.chat.http, "ana@acme.test")
    await ana.clock.install()
    await ana.locator("#list .item button").first.click()
    await ana.get_by_role("button", name="Claim").click()
    await ana.get_by_role("button", name="Follow up…").click()
    await ana.get_by_role("button", name="Schedule").click()  # in 3 days; resolved first
    await expect(ana.locator("#conv-status")).to_contain_text("Resolved")
    async with open_store(desk.chat.db) as store:  # another question: a new conversation
        await store.append_visitor_message(desk.site_id, "vis_skip01", "s1", "And my refund?")
    await ana.get_by_role("tab", name="Follow-ups").click()
    listed = ana.locator("#list .item.follow-up")
    await expect(listed).to_have_count(1)

    desk.clock.write_text(str(3 * 24 * 3600 + 3600))  # the server's clock: past its time
    await until(lambda: pg.rows(desk.chat.db, "SELECT state FROM follow_ups") == [("skipped",)])
    await ana.clock.fast_forward(6 * 3600 * 1000 + 5000)  # the view's next look
    await expect(listed).to_have_count(0)
    await ana.screenshot(path=artifacts / "panel-messages-skipped-check-in.png")


@pytest.mark.browser
async def test_an_erasure_empties_the_conversation_open_in_a_panel(
        browser: Browser, desk: Desk, artifacts: Path) -> None:  # noqa: F811
    """An erasure through the API told no panel (a black-box test found it): an agent's open
    conversation kept showing the erased visitor's words as assigned. Now its summary comes at
    once (resolved, no preview), and the conversation open on the screen is read again."""
    async with open_store(desk.chat.db) as store:
        await store.append_visitor_message(desk.site_id, "vis_erase01", "e0",
                                           "my card ends in 4417")
        await store.set_visitor_profile(desk.site_id, "vis_erase01", "Olga Narwhal", None)
    ana = await sign_in(browser, desk.chat.http, "ana@acme.test")
    await ana.locator("#list .item button", has_text="Olga Narwhal").click()
    await ana.get_by_role("button", name="Claim").click()
    await expect(ana.locator("#messages")).to_contain_text("my card ends in 4417")
    token = api_token(desk.chat.db, "visitors:write", site=desk.site_id)
    async with httpx.AsyncClient(base_url=desk.chat.http) as http:
        erased = await http.delete("/api/v1/visitors/vis_erase01",
                                   headers={"Authorization": f"Bearer {token}"})
    assert erased.status_code == 200, erased.text
    await expect(ana.locator("#conv-status")).to_contain_text("Resolved")
    await expect(ana.locator("#messages")).not_to_contain_text("4417")
    # (The emptied message says so, rather than being an empty bubble.)
    await expect(ana.locator("#messages .msg.visitor .erased")).to_have_text("Erased.")
    await expect(ana.locator("#conversation")).not_to_contain_text("Olga")
    await expect(ana.locator("#list")).not_to_contain_text("Olga")
    await ana.screenshot(path=artifacts / "panel-messages-erased.png")
