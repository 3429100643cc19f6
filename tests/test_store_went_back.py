"""The store lost its last moments (a power loss with SQLite's ``synchronous=NORMAL``, or a copy
put back together with its ``.hwm`` file, which cannot be told apart: server/store/watermark.py)
after the widget and the panel had shown them. The server takes their ``last_seq`` beyond the
conversation's as the conversation's (docs/protocol.md, Resume); they must forget what they show
above it, so that the messages written next, under the same seqs, show. In a real Chromium:
the chat server is killed, its files replaced by a snapshot taken earlier, and started again.
The same with a backup put back by ``livechat restore`` (a new epoch: everything is forgotten)."""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.async_api import Browser, FrameLocator, Page, expect

from server.store.backup import backup, restore
from server.store.sqlite_search import drop_search_file
from server.store.watermark import path_for
from tests.browser import (  # noqa: F401 — the browser and sites fixtures
    Sites,
    agent_page,
    browser,
    open_widget,
    sites,
)

pytestmark = pytest.mark.browser

LOST = ("Lost: could you send a photo of it?", "Lost: here it is")
#: How the store goes back: its last moments lost (the epoch kept), or a backup restored.
HOW = ["power-loss", "restored-backup"]


@dataclass
class Snapshot:
    how: str
    path: Path
    mark: bytes


def snapshot(how: str, db: Path, tmp_path: Path) -> Snapshot:
    """The database as it is now (what is committed, the WAL's included); for a power loss, its
    high-water mark too, read first (the database's generation is then at least the mark's)."""
    copy = tmp_path / "snapshot.db"
    if how == "restored-backup":
        backup(db, copy, tmp_path / "uploads", lambda done, total: None)
        return Snapshot(how, copy, b"")
    mark = path_for(db).read_bytes()
    source, target = sqlite3.connect(db), sqlite3.connect(copy)
    source.backup(target)
    source.close()
    target.close()
    return Snapshot(how, copy, mark)


def put_back(db: Path, snap: Snapshot) -> None:
    """The server's files as they were at ``snap`` (the server is not running)."""
    if snap.how == "restored-backup":
        restore(snap.path, db, db.parent / "uploads", lambda done, total: None)
        return
    for suffix in ("-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    db.write_bytes(snap.path.read_bytes())
    path_for(db).write_bytes(snap.mark)  # (the same epoch: nothing can tell)
    drop_search_file(db)  # (made again from the messages at open)


@dataclass
class Scene:
    visitor: Page
    frame: FrameLocator
    agent: Page


async def claimed(browser: Browser, sites: Sites) -> Scene:  # noqa: F811
    """A visitor's first message (the host page keeps what the widget tells it of messages in
    ``window.got``), claimed by the agent: the conversation at seq 2."""
    visitor = await (await browser.new_context(viewport={"width": 1100, "height": 760})).new_page()
    await visitor.goto(sites.page_url)
    await visitor.evaluate(
        "() => { window.got = []; LiveChat('on', 'message', m => window.got.push(m.body)); }")
    frame = await open_widget(visitor)
    composer = frame.get_by_label("Message", exact=True)
    await composer.fill("My tent pole snapped on the first night")
    await composer.press("Enter")
    agent = await agent_page(browser, sites)
    await agent.locator(".item button").first.click()
    await agent.get_by_role("button", name="Claim").click()
    await expect(frame.locator(".notice[data-seq='2']")).to_have_text(
        "Ana Lima joined the conversation")
    return Scene(visitor, frame, agent)


async def went_back(browser: Browser, sites: Sites, tmp_path: Path,  # noqa: F811
                    how: str) -> Scene:
    """A conversation at seq 2 (the visitor's message, the agent joined) when the snapshot is
    taken; then seqs 3 and 4 (``LOST``), shown by both and read by the visitor; then the server
    killed, the snapshot put back, and the server started again: both are online again."""
    scene = await claimed(browser, sites)
    visitor, frame, agent = scene.visitor, scene.frame, scene.agent
    composer = frame.get_by_label("Message", exact=True)
    snap = snapshot(how, sites.chat.db, tmp_path)

    await agent.get_by_label("Reply").fill(LOST[0])
    await agent.get_by_label("Reply").press("Enter")
    await expect(frame.locator(".msg.theirs[data-seq='3'] .body")).to_have_text(LOST[0])
    await composer.fill(LOST[1])
    await composer.press("Enter")
    await expect(agent.locator("#messages .msg.visitor[data-seq='4'] .body")).to_have_text(
        LOST[1])
    # The visitor has read it all (the agent sees "Seen"): the widget counts nothing unread.
    await expect(agent.locator("#messages .msg.agent .seen")).to_have_text(" · Seen")

    sites.chat.kill9()
    await expect(frame.locator("html[data-state=online]")).to_have_count(0)
    await expect(agent.locator("#conn")).not_to_have_text("Online")
    put_back(sites.chat.db, snap)
    sites.chat.start()
    await expect(frame.locator("html[data-state=online]")).to_have_count(1, timeout=30000)
    await expect(agent.locator("#conn")).to_have_text("Online", timeout=30000)
    return Scene(visitor, frame, agent)


@pytest.mark.parametrize("how", HOW)
async def test_the_widget_forgets_what_the_store_lost(
        browser: Browser, sites: Sites, artifacts: Path, tmp_path: Path,  # noqa: F811
        how: str) -> None:
    """Before, after a power loss: the widget kept seqs 3 and 4 on screen and as seen, and the
    agent's next message (seq 3 again) never showed, nor counted as unread, nor reached the
    page. (After a restored backup, a new epoch, it already started over.)"""
    scene = await went_back(browser, sites, tmp_path, how)
    visitor, frame = scene.visitor, scene.frame
    await expect(frame.get_by_text(re.compile("^Lost: "))).to_have_count(0)
    await visitor.screenshot(path=artifacts / f"widget-forgot-what-the-store-lost-{how}.png")
    await frame.get_by_role("button", name="Close chat").click()
    reply = scene.agent.get_by_label("Reply")
    await reply.fill("A new pole is on its way today.")
    await reply.press("Enter")
    # Unread while the chat is closed, and the page told of it.
    launcher = visitor.get_by_role("button", name="Open chat, 1 unread")
    await expect(launcher).to_be_visible()
    await visitor.wait_for_function("() => window.got.includes('A new pole is on its way today.')")
    await launcher.click()
    shown = frame.locator(".messages > li[data-seq]")
    await expect(shown).to_have_text([re.compile(r"^My tent pole snapped on the first night"),
                                      "Ana Lima joined the conversation",
                                      re.compile(r"^A new pole is on its way today\.")])
    assert await shown.evaluate_all("n => n.map(i => +i.dataset.seq)") == [1, 2, 3]
    await frame.get_by_label("Message", exact=True).fill("Thank you!")
    await frame.get_by_label("Message", exact=True).press("Enter")
    await expect(frame.locator(".msg.mine[data-seq='4'] .body")).to_have_text("Thank you!")
    await expect(frame.get_by_text(re.compile("^Lost: "))).to_have_count(0)
    # One day separator, no name left hidden by a lost message's grouping.
    await expect(frame.locator(".messages > li.day")).to_have_count(1)
    await expect(frame.locator(".msg.theirs[data-seq='3'] .meta")).to_be_visible()
    await visitor.screenshot(path=artifacts / f"widget-after-the-store-went-back-{how}.png")


@pytest.mark.parametrize("how", HOW)
async def test_the_panel_forgets_what_the_store_lost(
        browser: Browser, sites: Sites, artifacts: Path, tmp_path: Path,  # noqa: F811
        how: str) -> None:
    """Before, after a power loss: the panel kept seqs 3 and 4 on screen and as seen (and as
    read, and as read by the visitor), and neither the visitor's next message (seq 3 again) nor
    the agent's own reply (seq 4) showed: the reply stayed "Sending…". After a restored backup
    it showed them, but said "Seen" under the reply before the visitor had seen it, and never
    told the visitor that "Thank you!" was read."""
    scene = await went_back(browser, sites, tmp_path, how)
    agent, frame = scene.agent, scene.frame
    await expect(agent.get_by_text(re.compile("^Lost: "))).to_have_count(0)
    await agent.screenshot(path=artifacts / f"panel-forgot-what-the-store-lost-{how}.png")
    composer = frame.get_by_label("Message", exact=True)
    await composer.fill("Thank you!")
    await composer.press("Enter")
    await expect(frame.locator(".msg.mine:not(.pending)").last).to_contain_text("Thank you!")
    await frame.get_by_role("button", name="Close chat").click()
    await agent.get_by_label("Reply").fill("A new pole is on its way today.")
    await agent.get_by_label("Reply").press("Enter")
    shown = agent.locator("#messages > li[data-seq]")
    await expect(shown).to_have_count(4)
    assert await shown.evaluate_all("n => n.map(i => +i.dataset.seq)") == [1, 2, 3, 4]
    await expect(shown.nth(2).locator(".body")).to_have_text("Thank you!")
    await expect(shown.nth(3).locator(".body")).to_have_text("A new pole is on its way today.")
    await expect(agent.locator("#messages .pending")).to_have_count(0)
    # The chat is closed: not seen yet (it was, at seq 4, before the store went back).
    await expect(agent.locator("#messages .seen")).to_have_count(0)
    # The agent's read of seq 3 went out again: the visitor sees "Seen".
    await expect(frame.locator(".msg.mine .seen")).to_have_text("Seen")
    await agent.screenshot(path=artifacts / f"panel-after-the-store-went-back-{how}.png")
    await scene.visitor.get_by_role("button", name="Open chat, 1 unread").click()
    await expect(agent.locator("#messages .msg.agent[data-seq='4'] .seen")).to_have_text(
        " · Seen")


async def test_the_last_message_kept_shows_its_picture_again(
        browser: Browser, sites: Sites, artifacts: Path, tmp_path: Path) -> None:  # noqa: F811
    """Two messages from the agent in a row are one group: only the last shows the name, the
    time and the picture. Before: when the store lost the second, the first showed its name and
    time again, but not its picture, which the grouping had taken away."""
    scene = await claimed(browser, sites)
    visitor, frame, agent = scene.visitor, scene.frame, scene.agent
    reply = agent.get_by_label("Reply")
    await reply.fill("Sorry to hear that!")
    await reply.press("Enter")
    kept = frame.locator(".msg.theirs[data-seq='3']")
    await expect(kept.locator("> .avatar")).to_be_visible()
    snap = snapshot("power-loss", sites.chat.db, tmp_path)
    await reply.fill(LOST[0])
    await reply.press("Enter")
    lost = frame.locator(".msg.theirs[data-seq='4']")
    await expect(lost.locator("> .avatar")).to_be_visible()
    await expect(kept.locator(".meta")).to_be_hidden()  # grouped with it
    await expect(kept.locator("> .avatar")).to_be_hidden()

    sites.chat.kill9()
    await expect(frame.locator("html[data-state=online]")).to_have_count(0)
    put_back(sites.chat.db, snap)
    sites.chat.start()
    await expect(frame.locator("html[data-state=online]")).to_have_count(1, timeout=30000)
    await expect(lost).to_have_count(0)
    # The last of its group again: its name, its time and its picture.
    await expect(kept.locator(".meta")).to_have_text(re.compile(r"^Ana Lima · "))
    await expect(kept.locator("> .avatar")).to_be_visible()
    await expect(frame.locator(".msg.theirs > .avatar")).to_have_count(1)
    await visitor.screenshot(path=artifacts / "widget-store-went-back-last-kept-picture.png")
    # And the agent's next message groups with it as any would.
    await expect(agent.locator("#conn")).to_have_text("Online", timeout=30000)
    await reply.fill("A new pole is on its way today.")
    await reply.press("Enter")
    after = frame.locator(".msg.theirs[data-seq='4']")
    await expect(after.locator(".body")).to_have_text("A new pole is on its way today.")
    await expect(after.locator("> .avatar")).to_be_visible()
    await expect(kept.locator(".meta")).to_be_hidden()
    await expect(kept.locator("> .avatar")).to_be_hidden()
