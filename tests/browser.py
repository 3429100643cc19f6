"""What the browser tests share: a real headless Chromium (``browser``), the chat server with a
customer page on another origin (``sites``), a hostile host page, signing in to the panel,
opening the widget, axe-core, and a real PNG. Imported by the tests that use them (the fixtures
by name, as pytest finds them in the test module)."""

from __future__ import annotations

import shutil
import struct
import subprocess
import sys
import zlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, FrameLocator, Page, async_playwright, expect

from server.auth import hash_password, identity_hash
from tests.live import PASSWORD, ROOT, ServerProcess, customer_page, free_port, open_store


def png(width: int, height: int) -> bytes:
    """A real PNG (a green-to-blue gradient), for the attachment test."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    rows = b"".join(b"\x00" + b"".join(bytes((40, 120 + x * 100 // width, 80 + y * 150 // height))
                                       for x in range(width)) for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))

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
def sites(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Sites]:
    """The chat server and a customer page on another origin. The site lets visitors chat while
    nobody is online unless a test's ``site_profile`` marker says otherwise."""
    import asyncio

    marker = request.node.get_closest_marker("site_profile")
    profile = dict(marker.kwargs) if marker else {"offline": "chat"}
    db = tmp_path / "chat.db"
    page_port = free_port()
    page_origin = f"http://127.0.0.1:{page_port}"

    async def seed() -> str:
        async with open_store(db) as store:
            site = await store.create_site("Acme Outdoor", [page_origin])
            await store.set_site_options(site.id, identity_secret=IDENTITY_SECRET,
                                         identity_mode=profile.pop("identity_mode", None))
            await store.set_site_profile(site.id, **profile)
            await store.create_agent("ana@acme.test", "Ana Lima", hash_password(PASSWORD),
                                     "agent", [site.id])
            return site.id

    site_id = asyncio.run(seed())
    env_marker = request.node.get_closest_marker("chat_env")
    chat = ServerProcess(db)
    # (A value may name the server's own address: "{http}".)
    chat.env = {k: v.format(http=chat.http) for k, v in (env_marker.kwargs.items()
                                                           if env_marker else ())}
    chat.start()
    try:
        with customer_page(db, chat, site_id, page_port) as page_url:
            yield Sites(chat, page_url, site_id)
    finally:
        chat.stop()
    assert "Traceback" not in chat.log(), chat.log()


async def sign_in_page(page: Page, url: str, email: str, password: str = PASSWORD) -> Page:
    """Sign in to the panel at ``url`` in this page, and wait until it is online."""
    await page.goto(f"{url}/agent")
    form = page.locator("#login-form")
    await form.get_by_label("Email").fill(email)
    await form.get_by_label("Password").fill(password)
    await form.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#conn")).to_have_text("Online")
    return page


async def agent_page(browser: Browser, sites: Sites) -> Page:
    context = await browser.new_context(viewport={"width": 1280, "height": 760})
    return await sign_in_page(await context.new_page(), sites.chat.http, "ana@acme.test")


def signed(user_id: str, expires: int, **fields: str) -> dict[str, object]:
    """What a site's backend hands the page for ``LiveChat('identify', …)``."""
    return {"id": user_id, "expires": expires, **fields,
            "hash": identity_hash(IDENTITY_SECRET, user_id, expires)}


async def open_widget(page: Page) -> FrameLocator:
    await page.get_by_role("button", name="Open chat").click()
    frame = page.frame_locator("iframe[title=Chat]")
    await expect(frame.get_by_label("Message", exact=True)).to_be_visible()
    # The frame's script is running (it set the connection state): typing now is not lost.
    await expect(frame.locator("html[data-state]")).to_have_count(1)
    return frame


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


async def open_widget_form(page: Page) -> FrameLocator:
    await page.get_by_role("button", name="Open chat").click()
    frame = page.frame_locator("iframe[title=Chat]")
    await expect(frame.locator("html[data-state]")).to_have_count(1)
    await expect(frame.locator("#intake")).to_be_visible()
    return frame


@pytest.fixture
def hostile_page(sites: Sites) -> Iterator[str]:
    """tests/host_page.py on a third origin, allowed to embed the site's widget."""
    import asyncio

    port = free_port()
    origin = f"http://127.0.0.1:{port}"

    async def allow() -> None:
        async with open_store(sites.chat.db) as store:
            await store.set_site_options(sites.site_id,
                                         allowed_origins=[sites.page_url.rstrip("/"), origin])

    asyncio.run(allow())
    host = subprocess.Popen([sys.executable, "-m", "tests.host_page", sites.chat.http,
                             sites.site_id, str(port)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        ServerProcess(sites.chat.db, port=port, proc=host).wait_ready("/")
        yield origin + "/"
    finally:
        host.terminate()
        host.wait(10)
