"""The whole loop in a real headless Chromium: a customer page on one origin embeds the widget
served from another; an agent works in a second browser context. Screenshots are saved to
test-artifacts/ (or $LIVECHAT_ARTIFACTS) and are meant to be looked at."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, FrameLocator, Page, async_playwright, expect

from server.auth import hash_password, identity_hash
from server.store import SQLiteStore
from tests.live import PASSWORD, ROOT, ServerProcess, free_port

pytestmark = pytest.mark.browser
IDENTITY_SECRET = "browser-test-identity-secret"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update"]


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    executable = shutil.which("chromium")
    # Never skip: a machine without Chromium fails here, loudly (scripts/test installs it).
    assert executable, "Debian's chromium is not installed (apt-get install -y chromium)"
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield b
        await b.close()


class Sites:
    def __init__(self, chat: ServerProcess, page_url: str, site_id: str) -> None:
        self.chat, self.page_url, self.site_id = chat, page_url, site_id


@pytest.fixture
def sites(tmp_path: Path) -> Iterator[Sites]:
    import asyncio

    db = tmp_path / "chat.db"
    page_port = free_port()
    page_origin = f"http://127.0.0.1:{page_port}"

    async def seed() -> str:
        store = SQLiteStore(db, clock=time.time)
        await store.open()
        site = await store.create_site("Acme Outdoor", [page_origin])
        await store.set_site_options(site.id, identity_secret=IDENTITY_SECRET)
        await store.create_agent("ana@acme.test", "Ana Lima", hash_password(PASSWORD), "agent",
                                 [site.id])
        await store.close()
        return site.id

    loop = asyncio.new_event_loop()
    try:
        site_id = loop.run_until_complete(seed())
    finally:
        loop.close()
    chat = ServerProcess(db).start()
    snippet = f'<script async src="{chat.http}/widget.js" data-site="{site_id}"></script>'
    page = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, uvicorn; from server.demo import demo_app; "
         "uvicorn.run(demo_app(sys.argv[1]), host='127.0.0.1', port=int(sys.argv[2]), "
         "log_level='warning')", snippet, str(page_port)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )
    try:
        ServerProcess(db, port=page_port, proc=page).wait_ready("/")
        yield Sites(chat, page_origin + "/", site_id)
    finally:
        page.terminate()
        page.wait(10)
        chat.stop()
    assert "Traceback" not in chat.log(), chat.log()


async def agent_page(browser: Browser, sites: Sites) -> Page:
    context = await browser.new_context(viewport={"width": 1280, "height": 760})
    page = await context.new_page()
    await page.goto(f"{sites.chat.http}/agent")
    await page.get_by_label("Email").fill("ana@acme.test")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#conn")).to_have_text("Online")
    return page


async def open_widget(page: Page) -> FrameLocator:
    await page.get_by_role("button", name="Open chat").click()
    frame = page.frame_locator("iframe[title=Chat]")
    await expect(frame.get_by_label("Message")).to_be_visible()
    return frame


async def test_visitor_and_agent_chat_across_origins(browser: Browser, sites: Sites,
                                                     artifacts: Path) -> None:
    visitor_context = await browser.new_context(viewport={"width": 1280, "height": 760})
    visitor = await visitor_context.new_page()
    errors: list[str] = []
    visitor.on("pageerror", lambda e: errors.append(str(e)))
    await visitor.goto(sites.page_url)
    launcher = visitor.get_by_role("button", name="Open chat")
    await expect(launcher).to_be_visible()
    # Nothing has taken focus from the host page, and only one global was added.
    assert await visitor.evaluate("document.activeElement === document.body")
    assert await visitor.evaluate("typeof window.LiveChat") == "function"
    assert await visitor.evaluate("typeof window.ChatSocket") == "undefined"
    await visitor.screenshot(path=artifacts / "01-customer-page.png")

    frame = await open_widget(visitor)
    await expect(frame.locator("#status")).to_contain_text("Leave a message")
    await frame.get_by_label("Message").fill("Hello, do you ship to Portugal?")
    await frame.get_by_label("Message").press("Enter")
    await expect(frame.locator(".msg.mine:not(.pending)")).to_have_count(1)
    await expect(frame.locator("#status")).to_have_text("You're next")  # queue position
    hostile = '<img src=x onerror="document.title=1"> & <b>bold</b>'
    await frame.get_by_label("Message").fill(hostile)
    await frame.get_by_role("button", name="Send").click()
    await expect(frame.locator(".msg.mine:not(.pending)")).to_have_count(2)
    await expect(frame.locator(".msg.mine .body").nth(1)).to_have_text(hostile)
    assert await frame.locator(".messages img, .messages b").count() == 0
    await visitor.screenshot(path=artifacts / "02-visitor-sent.png")

    agent = await agent_page(browser, sites)
    await expect(agent.locator("#count-queue")).to_have_text("1")
    await agent.locator(".item button").first.click()
    await expect(agent.locator("#messages .msg.visitor")).to_have_count(2)
    await expect(agent.locator("#messages .msg.visitor .body").nth(1)).to_have_text(hostile)
    assert await agent.locator("#messages img, #messages b").count() == 0
    await frame.get_by_label("Message").press_sequentially("one more")
    await expect(agent.locator("#typing")).to_have_text(
        re.compile(r"^Visitor [A-Z0-9]{1,4} is typing…$"))
    await frame.get_by_label("Message").fill("")
    await agent.get_by_role("button", name="Claim").click()
    await expect(agent.locator("#conv-status")).to_have_text("Assigned to you")
    await expect(agent.locator("#count-mine")).to_have_text("1")
    await agent.get_by_label("Reply").press_sequentially("Yes")
    await expect(frame.locator(".typing")).to_have_text("Ana Lima is typing…")
    await expect(agent.get_by_label("Transfer to")).to_be_hidden()  # Ana is alone on this site
    await agent.get_by_label("Reply").fill("Yes we do! Delivery takes 3 days: https://acme.test/shipping")
    await agent.get_by_label("Reply").press("Enter")
    await expect(agent.locator("#messages .msg.agent:not(.pending)")).to_have_count(1)
    await agent.screenshot(path=artifacts / "03-agent-replied.png")

    await expect(frame.locator(".notice")).to_have_text("Ana Lima joined the conversation")
    await expect(frame.locator(".msg.theirs .body")).to_contain_text("Yes we do!")
    link = frame.locator(".msg.theirs a")
    await expect(link).to_have_attribute("href", "https://acme.test/shipping")
    await expect(link).to_have_attribute("rel", "noopener noreferrer")
    await expect(frame.locator("#status")).to_have_text("Ana Lima is answering")
    await visitor.screenshot(path=artifacts / "04-visitor-sees-reply.png")

    # A reload restores the whole conversation from the first-party token.
    await visitor.reload()
    frame = await open_widget(visitor)
    await expect(frame.locator(".messages > li")).to_have_count(4)
    await expect(frame.locator(".msg.theirs .body")).to_contain_text("Yes we do!")
    await visitor.screenshot(path=artifacts / "05-visitor-after-reload.png")

    await agent.get_by_role("button", name="Resolve").click()
    await expect(frame.locator(".notice").last).to_contain_text("resolved")
    await expect(agent.locator("#conv-status")).to_have_text("Resolved")
    await visitor.screenshot(path=artifacts / "06-resolved.png")
    assert errors == []
    assert await visitor.title() != "1"


async def test_widget_reconnects_and_delivers_after_a_server_crash(
        browser: Browser, sites: Sites, artifacts: Path) -> None:
    visitor = await (await browser.new_context()).new_page()
    await visitor.goto(sites.page_url)
    frame = await open_widget(visitor)
    await frame.get_by_label("Message").fill("before the crash")
    await frame.get_by_label("Message").press("Enter")
    await expect(frame.locator(".msg.mine:not(.pending)")).to_have_count(1)
    agent = await agent_page(browser, sites)
    await agent.locator(".item button").first.click()
    await agent.get_by_role("button", name="Claim").click()

    sites.chat.kill9()
    await expect(frame.locator("#banner")).to_have_text("Reconnecting…")
    await frame.get_by_label("Message").fill("written while the server was down")
    await frame.get_by_label("Message").press("Enter")
    await expect(frame.locator(".msg.pending")).to_have_count(1)
    await visitor.screenshot(path=artifacts / "07-reconnecting.png")

    sites.chat.start()
    await expect(frame.locator(".msg.pending")).to_have_count(0, timeout=30000)
    await expect(frame.locator("#banner")).to_be_hidden()
    await expect(agent.locator("#messages .msg.visitor")).to_have_count(2, timeout=30000)
    await expect(agent.locator("#messages .msg.visitor .body").nth(1)).to_have_text(
        "written while the server was down")
    await agent.get_by_label("Reply").fill("Got it")
    await agent.get_by_label("Reply").press("Enter")
    await expect(frame.locator(".msg.theirs")).to_have_count(1)
    await expect(frame.locator(".msg.mine")).to_have_count(2)  # nothing doubled
    await visitor.screenshot(path=artifacts / "08-recovered.png")


async def test_identified_visitor_is_greeted_by_name_in_the_panel(
        browser: Browser, sites: Sites, artifacts: Path) -> None:
    visitor = await (await browser.new_context()).new_page()
    await visitor.goto(sites.page_url)
    expires = int(time.time()) + 3600
    identity = {"id": "user-42", "name": "Maria Silva", "email": "maria@example.com",
                "expires": expires, "hash": identity_hash(IDENTITY_SECRET, "user-42", expires)}
    await visitor.evaluate("identity => LiveChat('identify', identity)", identity)
    frame = await open_widget(visitor)
    await frame.get_by_label("Message").fill("Where is my order?")
    await frame.get_by_label("Message").press("Enter")
    await expect(frame.locator(".msg.mine:not(.pending)")).to_have_count(1)
    agent = await agent_page(browser, sites)
    await expect(agent.locator(".item .name")).to_have_text("Maria Silva")

    # The same user on another device (a fresh browser context) sees the conversation.
    other = await (await browser.new_context()).new_page()
    await other.goto(sites.page_url)
    await other.evaluate("identity => LiveChat('identify', identity)", identity)
    frame2 = await open_widget(other)
    await expect(frame2.locator(".msg.mine .body")).to_have_text("Where is my order?")
    # A forged identity is refused, and the visitor is told why.
    third = await (await browser.new_context()).new_page()
    await third.goto(sites.page_url)
    await third.evaluate("identity => LiveChat('identify', identity)",
                         {**identity, "id": "user-1"})
    frame3 = await open_widget(third)
    await expect(frame3.locator("#banner")).to_have_text(
        "Please sign in on this site to chat with us.")
    await other.screenshot(path=artifacts / "09-identified-other-device.png")


AXE = ROOT / ".cache" / "axe" / "node_modules" / "axe-core" / "axe.min.js"


async def axe_violations(page: Page, frame_url_part: str) -> list[str]:
    """Run axe-core (installed from npm by scripts/test) in the chat frame and the host page."""
    assert AXE.is_file(), "axe-core is missing: scripts/test installs it with npm"
    source = AXE.read_text()
    found = []
    for target in [page.main_frame, *[f for f in page.frames if frame_url_part in f.url]]:
        await target.evaluate(source)
        result = await target.evaluate(
            "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
            ".map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '))")
        found += result
    return found


async def test_the_open_widget_has_no_accessibility_violations_on_a_phone(
        browser: Browser, sites: Sites, artifacts: Path) -> None:
    phone = await browser.new_context(viewport={"width": 390, "height": 844},
                                      device_scale_factor=2, is_mobile=True, has_touch=True)
    page = await phone.new_page()
    await page.goto(sites.page_url)
    frame = await open_widget(page)
    await frame.get_by_label("Message").fill("Olá")
    await frame.get_by_label("Message").press("Enter")
    await expect(frame.locator(".msg.mine:not(.pending)")).to_have_count(1)
    # Full screen on a phone, and 16 px inputs so that iOS does not zoom.
    box = await page.locator("iframe[title=Chat]").bounding_box()
    assert box is not None and box["width"] == 390 and box["height"] == 844
    size = await frame.get_by_label("Message").evaluate("e => getComputedStyle(e).fontSize")
    assert size == "16px"
    await page.screenshot(path=artifacts / "10-phone.png")
    assert await axe_violations(page, "/widget/frame") == []
    # Escape closes and gives focus back to the launcher.
    await frame.get_by_label("Message").press("Escape")
    launcher = page.get_by_role("button", name="Open chat")
    await expect(launcher).to_be_focused()


async def test_the_widget_speaks_the_visitors_language(browser: Browser, sites: Sites,
                                                       artifacts: Path) -> None:
    portuguese = await (await browser.new_context(locale="pt-PT")).new_page()
    await portuguese.goto(sites.page_url)
    await portuguese.get_by_role("button", name="Abrir conversa").click()
    frame = portuguese.frame_locator("iframe[title=Chat]")
    await expect(frame.get_by_label("Mensagem")).to_have_attribute(
        "placeholder", "Escreva uma mensagem…")
    await expect(frame.locator("#status")).to_have_text(
        "Deixe uma mensagem e responderemos assim que possível.")
    await portuguese.evaluate("LiveChat('locale', 'el')")  # the site switches it at run time
    await expect(frame.get_by_label("Μήνυμα")).to_have_attribute(
        "placeholder", "Γράψτε ένα μήνυμα…")
    await frame.get_by_label("Μήνυμα").fill("مرحبا، هل يمكنك مساعدتي؟")  # right-to-left text
    await frame.get_by_label("Μήνυμα").press("Enter")
    body = frame.locator(".msg.mine:not(.pending) .body")
    await expect(body).to_have_css("unicode-bidi", "plaintext")
    await portuguese.screenshot(path=artifacts / "11-greek-with-arabic-text.png")
