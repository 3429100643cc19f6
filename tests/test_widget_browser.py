"""The widget's rough edges, in a real Chromium: what a new visitor downloads (measured on the
wire), where the chat opens after a reload, the greeting, the pre-chat form's layout, Arabic and
Hebrew, the dark theme and agents' avatars. Screenshots go to test-artifacts/."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, FrameLocator, Response, expect

from tests.browser import (  # noqa: F401 — the browser and sites fixtures
    Sites,
    axe_violations,
    browser,
    open_widget,
    png,
    sites,
)
from tests.live import agent, login

pytestmark = pytest.mark.browser
#: The loader: every body a new visitor's page fetches from the chat server before the chat is
#: opened (widget.js and its stylesheet), compressed as they come over the wire; headers apart.
LOADER_BUDGET = 5 * 1024
#: The whole opened chat, the loader's files included, counted the same way.
WIDGET_BUDGET = 30 * 1024


async def wire_bytes(responses: list[Response], origin: str) -> list[dict[str, Any]]:
    """What Chromium transferred from ``origin``: every response, its body as it came over the
    wire (compressed) and its headers."""
    seen = []
    for response in responses:
        if not response.url.startswith(origin):
            continue
        await response.finished()
        sizes = await response.request.sizes()
        seen.append({"url": response.url[len(origin):], "status": response.status,
                     "body": sizes["responseBodySize"], "headers": sizes["responseHeadersSize"],
                     "encoding": await response.header_value("content-encoding")})
    return seen


@pytest.mark.parametrize("locale", ["en-US", "el-GR"])  # English is built in; Greek is fetched
async def test_a_new_visitor_downloads_the_widget_once_and_within_budget(
        browser: Browser, sites: Sites, artifacts: Path, locale: str) -> None:  # noqa: F811
    context = await browser.new_context(viewport={"width": 1280, "height": 760}, locale=locale)
    page = await context.new_page()
    responses: list[Response] = []
    page.on("response", lambda response: responses.append(response))
    await page.goto(sites.page_url)
    # The page goes idle (when the loader does its warming up), then the visitor opens the chat.
    await page.wait_for_load_state("networkidle")
    await page.evaluate("() => new Promise(r => requestIdleCallback(() => setTimeout(r, 50)))")
    await page.wait_for_load_state("networkidle")
    # What docs/embedding.md calls the loader: all that came before the visitor opened the chat.
    before = await wire_bytes(list(responses), sites.chat.http)
    assert sorted(f["url"].split("?")[0] for f in before) == ["/widget.js",
                                                               "/widget/launcher.css"], before
    assert all(f["encoding"] == "gzip" for f in before), before
    loader = sum(f["body"] for f in before)
    loader_headers = sum(f["headers"] for f in before)
    await page.locator("livechat-widget button").click()
    frame = page.frame_locator("iframe[title=Chat]")
    await expect(frame.locator("html[data-state=online]")).to_have_count(1)
    await expect(frame.locator("#input")).to_be_focused()
    await page.wait_for_load_state("networkidle")
    fetched = await wire_bytes(responses, sites.chat.http)
    urls = [f["url"].split("?")[0] for f in fetched]
    assert len(urls) == len(set(urls)), f"downloaded twice: {urls}"
    assert all(f["status"] == 200 for f in fetched), fetched
    total = sum(f["body"] for f in fetched)
    with_headers = total + sum(f["headers"] for f in fetched)
    report = "\n".join(f"{f['body']:>6} {f['headers']:>4} {f['encoding'] or '-':<5} {f['url']}"
                       for f in fetched)
    (artifacts / f"widget-bytes-{locale}.txt").write_text(
        f"{report}\n{total} bytes of bodies, {with_headers} with headers, "
        f"{len(fetched)} requests\nthe loader (before the chat is opened): {loader} bytes of "
        f"bodies, {loader + loader_headers} with headers\n")
    assert loader <= LOADER_BUDGET, before
    assert total <= WIDGET_BUDGET, report


async def test_the_chat_opens_at_the_newest_message(browser: Browser, sites: Sites,  # noqa: F811
                                                    artifacts: Path) -> None:
    page = await (await browser.new_context(viewport={"width": 1280, "height": 700})).new_page()
    await page.goto(sites.page_url)
    frame = await open_widget(page)
    composer = frame.get_by_label("Message", exact=True)
    for n in range(1, 21):
        await composer.fill(f"Message number {n}")
        await composer.press("Enter")
    await expect(frame.locator(".msg.mine:not(.pending)")).to_have_count(20)

    async def newest_in_view(where: FrameLocator) -> None:
        last = where.locator(".msg.mine").last
        await expect(last).to_contain_text("Message number 20")
        await expect(last).to_be_in_viewport()
        at_bottom = await where.locator("#messages").evaluate(
            "list => { const s = list.closest('.stream') || list;"
            " return s.scrollHeight - s.scrollTop - s.clientHeight < 4; }")
        assert at_bottom

    await newest_in_view(frame)
    # After a reload, and on another page of the site (the frame connects hidden when idle).
    for url in (None, sites.page_url + "?page=tents"):
        if url:
            await page.goto(url)
        else:
            await page.reload()
        hidden = page.frame_locator("iframe[title=Chat]")
        await expect(hidden.locator("html[data-state=online]")).to_have_count(1)
        await expect(hidden.locator(".msg.mine[data-seq]")).to_have_count(20)
        await page.get_by_role("button", name="Open chat").click()
        await newest_in_view(hidden)
    await page.screenshot(path=artifacts / "30-reopened-at-the-newest-message.png")


@pytest.mark.site_profile(prechat=["name"], offline="chat",
                          greeting="Hi! Questions about an order? Ask away.")
async def test_the_greeting_is_personal_without_saying_hi_twice(
        browser: Browser, sites: Sites, artifacts: Path) -> None:  # noqa: F811
    page = await (await browser.new_context(viewport={"width": 1280, "height": 640})).new_page()
    await page.goto(sites.page_url)
    await page.get_by_role("button", name="Open chat").click()
    frame = page.frame_locator("iframe[title=Chat]")
    await expect(frame.locator("#intake")).to_be_visible()
    # The pre-chat form leaves the greeting whole and in view, below the header.
    greeting = frame.locator(".greeting")
    await expect(greeting).to_have_text("Hi! Questions about an order? Ask away.")
    await expect(greeting).to_be_in_viewport(ratio=1)
    head = await frame.locator(".head").bounding_box()
    bubble = await greeting.bounding_box()
    assert head and bubble and bubble["y"] >= head["y"] + head["height"], (head, bubble)
    await page.screenshot(path=artifacts / "31-prechat-form-and-greeting.png")
    assert await axe_violations(page, "/widget/frame") == []
    await frame.get_by_label("Name").fill("Maria Silva")
    await frame.get_by_label("Your message").fill("Where is order 1042?")
    await frame.get_by_role("button", name="Start the chat").click()
    await expect(frame.locator(".msg.mine:not(.pending)")).to_have_count(1)
    await expect(greeting).to_have_text("Hi Maria! Questions about an order? Ask away.")
    await page.screenshot(path=artifacts / "32-greeting-by-name.png")
    # Other salutations, other languages, and a greeting without one.
    personal = await page.frame_locator("iframe[title=Chat]").locator("html").evaluate(
        """async () => {
          const { personal } = await import('/widget/static/frame/greeting.js');
          return [
            personal('Olá! Em que podemos ajudar?', 'João', 'Olá {name}!'),
            personal('Hello there, how can we help?', 'Maria', 'Hi {name}!'),
            personal('Good morning! Ready to ride?', 'Bo', 'Hi {name}!'),
            personal('How can we help you today?', 'Maria', 'Hi {name}!'),
            personal('Γεια σας! Πώς μπορούμε να βοηθήσουμε;', 'Νίκος', 'Γεια σας {name}!'),
            personal('مرحبا! كيف يمكننا مساعدتك؟', 'سارة', 'مرحبا {name}!'),
            personal('Hiking boots? Ask us.', 'Maria', 'Hi {name}!'),
            personal('Hiking boots? Ask us.', 'Maria', 'مرحبا {name}!'),
          ];
        }""")
    assert personal == [
        "Olá João! Em que podemos ajudar?",
        "Hello Maria, how can we help?",
        "Good morning Bo! Ready to ride?",
        "Hi Maria! How can we help you today?",
        "Γεια σας Νίκος! Πώς μπορούμε να βοηθήσουμε;",
        "مرحبا سارة! كيف يمكننا مساعدتك؟",
        "Hi Maria! Hiking boots? Ask us.",
        # An Arabic "Hi" before an English greeting: each part keeps its own direction.
        "مرحبا \u2068Maria\u2069! \u2068Hiking boots? Ask us.\u2069",
    ]


@pytest.mark.parametrize("lang, open_label, placeholder, status", [
    ("ar", "فتح المحادثة", "اكتب رسالة…", "اترك رسالة وسنرد عليك في أقرب وقت ممكن."),
    ("he", "פתיחת הצ'אט", "כתבו הודעה…", "השאירו הודעה ונחזור אליכם בהקדם האפשרי."),
], ids=["ar", "he"])
async def test_arabic_and_hebrew(browser: Browser, sites: Sites, artifacts: Path,  # noqa: F811
                                 lang: str, open_label: str, placeholder: str,
                                 status: str) -> None:
    page = await (await browser.new_context(locale=lang,
                                            viewport={"width": 1100, "height": 760})).new_page()
    await page.goto(sites.page_url)
    await page.get_by_role("button", name=open_label).click()
    frame = page.frame_locator("iframe[title=Chat]")
    composer = frame.locator("#input")
    await expect(composer).to_have_attribute("placeholder", placeholder)
    await expect(frame.locator("html")).to_have_attribute("dir", "rtl")
    await expect(frame.locator("html")).to_have_attribute("lang", lang)
    await expect(frame.locator("#status")).to_have_text(status)
    await composer.fill("Hello! 123")
    await composer.press("Enter")
    await expect(frame.locator(".msg.mine:not(.pending)")).to_have_count(1)
    # Right to left: the visitor's own message on the left, the close button at the far left.
    mine = await frame.locator(".msg.mine .body").bounding_box()
    greeting = await frame.locator(".greeting .body").bounding_box()
    close = await frame.locator("#close").bounding_box()
    title = await frame.locator("#site-name").bounding_box()
    assert mine and greeting and close and title
    assert mine["x"] < greeting["x"] and close["x"] < title["x"]
    assert "Open chat" not in await page.content()
    await page.screenshot(path=artifacts / f"33-widget-{lang}.png")
    assert await axe_violations(page, "/widget/frame") == []


async def dark_colours(frame: FrameLocator) -> tuple[str, str]:
    return await frame.locator("body").evaluate(
        "b => [getComputedStyle(b).backgroundColor, getComputedStyle(b).color]")


def is_dark(rgb: str) -> bool:
    r, g, b = (int(x) for x in re.findall(r"\d+", rgb)[:3])
    return (r * 299 + g * 587 + b * 114) / 1000 < 100


async def test_the_dark_theme_follows_the_visitor(browser: Browser, sites: Sites,  # noqa: F811
                                                  artifacts: Path) -> None:
    page = await (await browser.new_context(color_scheme="dark",
                                            viewport={"width": 1100, "height": 760})).new_page()
    await page.goto(sites.page_url)
    frame = await open_widget(page)
    await frame.get_by_label("Message", exact=True).fill("Dark mode, please")
    await frame.get_by_label("Message", exact=True).press("Enter")
    await expect(frame.locator(".msg.mine:not(.pending)")).to_have_count(1)
    background, text = await dark_colours(frame)
    assert is_dark(background) and not is_dark(text), (background, text)
    panel = page.locator("livechat-widget")
    assert await panel.evaluate(
        "h => getComputedStyle(h.shadowRoot.querySelector('.panel')).backgroundColor") != (
        "rgb(255, 255, 255)")  # no white flash around the frame while it loads
    await page.screenshot(path=artifacts / "34-widget-dark.png")
    assert await axe_violations(page, "/widget/frame") == []
    light = await (await browser.new_context(color_scheme="light")).new_page()
    await light.goto(sites.page_url)
    background, _ = await dark_colours(await open_widget(light))
    assert not is_dark(background)


@pytest.mark.site_profile(theme="dark", offline="chat")
async def test_a_site_can_choose_the_dark_theme(browser: Browser, sites: Sites,  # noqa: F811
                                                artifacts: Path) -> None:
    page = await (await browser.new_context(color_scheme="light")).new_page()
    await page.goto(sites.page_url)
    frame = await open_widget(page)
    # The site's theme comes with the welcome, which a loaded machine may deliver after the
    # frame shows (it read the light default once in CI).
    await expect(frame.locator("html")).to_have_attribute("data-theme", "dark")
    background, _ = await dark_colours(frame)
    assert is_dark(background)


async def test_the_agents_avatar_in_the_header_and_beside_messages(
        browser: Browser, sites: Sites, artifacts: Path) -> None:  # noqa: F811
    import httpx

    page = await (await browser.new_context(viewport={"width": 1100, "height": 760})).new_page()
    await page.goto(sites.page_url)
    frame = await open_widget(page)
    await frame.get_by_label("Message", exact=True).fill("Is the tent waterproof?")
    await frame.get_by_label("Message", exact=True).press("Enter")
    await expect(frame.locator(".msg.mine:not(.pending)")).to_have_count(1)
    cookie = await login(sites.chat, "ana@acme.test")
    async with httpx.AsyncClient(cookies={"livechat_agent": cookie}) as http:
        up = await http.post(f"{sites.chat.http}/api/agent/avatar", content=png(96, 96),
                             headers={"Origin": sites.chat.http})
        avatar = up.json()["agent"]["avatar"]
    ana, welcome = await agent(sites.chat, cookie)
    conv = welcome["conversations"][0]["id"]
    await ana.request({"type": "claim", "id": "c1", "conversation_id": conv})
    for n, body in enumerate(("Yes, fully!", "It has taped seams.")):
        await ana.request({"type": "send", "id": f"r{n}", "conversation_id": conv, "body": body})
    header = frame.locator(".head img.avatar")
    await expect(header).to_have_attribute("src", avatar)
    await expect(frame.locator("#status")).to_have_text("Ana Lima is answering")
    beside = frame.locator(".msg.theirs[data-seq] img.avatar:visible")
    await expect(beside).to_have_count(1)  # once per group of messages, beside the last
    await expect(frame.locator(".msg.theirs[data-seq]").last.locator("> img.avatar")
                 ).to_be_visible()
    await expect(beside).to_have_attribute("src", avatar)
    assert await beside.evaluate("i => i.complete && i.naturalWidth") == 96
    await page.screenshot(path=artifacts / "35-widget-avatar.png")
    await ana.close()


@pytest.mark.parametrize("form", [
    pytest.param(None, marks=pytest.mark.site_profile(offline="chat")),
    # Nobody online: the leave-a-message form; an agent online: the pre-chat questions.
    pytest.param("offline", marks=pytest.mark.site_profile(offline="form")),
    pytest.param("prechat", marks=pytest.mark.site_profile(prechat=["name", "email"],
                                                           offline="chat")),
])
async def test_the_pages_own_open_and_close_leave_the_visitors_focus_be(
        browser: Browser, sites: Sites, artifacts: Path, form: str | None) -> None:  # noqa: F811
    """Before: ``LiveChat('open')`` from the page (a timed, proactive open) moved the keyboard
    into the chat's composer while the visitor typed in the page's search box, and
    ``LiveChat('close')`` moved it to the launcher: keystrokes went astray. Then, where the chat
    shows a form first (the offline form, the pre-chat questions), the form took the keyboard
    as it appeared: "boots" went into the chat's Name field. Only the visitor's own click moves
    focus into the chat."""
    page = await (await browser.new_context(viewport={"width": 1280, "height": 760})).new_page()
    await page.goto(sites.page_url)
    await page.evaluate("""() => {
        const box = document.createElement("input");
        box.id = "search"; box.setAttribute("aria-label", "Search the shop");
        document.body.prepend(box);
    }""")
    search = page.locator("#search")
    await search.click()
    await page.keyboard.type("hiking")
    await page.evaluate("() => LiveChat('open')")
    frame = page.frame_locator("iframe[title=Chat]")
    await expect(frame.locator("html[data-state=online]")).to_have_count(1)
    intake = frame.locator("#intake")
    if form:  # (it appears with the welcome, after the connection is made)
        await expect(intake).to_be_visible()
    else:
        await expect(frame.get_by_label("Message", exact=True)).to_be_visible()
    await page.keyboard.type(" boots")
    await page.evaluate("() => LiveChat('close')")
    await page.keyboard.type(" size 42")
    await expect(search).to_have_value("hiking boots size 42")
    await expect(search).to_be_focused()
    await page.evaluate("() => LiveChat('open')")  # (the frame is loaded now)
    await page.keyboard.type("!")
    await expect(search).to_have_value("hiking boots size 42!")
    await expect(frame.locator("#input")).to_have_value("")
    await expect(frame.locator("#intake-name")).to_have_value("")
    await page.screenshot(path=str(artifacts / f"widget-page-open-keeps-focus-{form}.png"))
    await page.evaluate("() => LiveChat('close')")
    # The page's handlers get no argument for 'open' and 'close' (docs/embedding.md).
    await page.evaluate("""() => { window.got = [];
        LiveChat('on', 'open', function () { window.got.push(arguments.length); }); }""")
    await page.locator("livechat-widget button").click()  # the visitor's own: into the chat
    assert await page.evaluate("() => window.got") == [0]
    await expect(frame.locator("#intake-name" if form else "#input")).to_be_focused()


@pytest.mark.parametrize("form", [
    pytest.param("offline", marks=pytest.mark.site_profile(offline="form")),
    pytest.param("prechat", marks=pytest.mark.site_profile(prechat=["name", "email"],
                                                           offline="chat")),
])
async def test_the_visitors_own_open_puts_the_keyboard_in_the_form(
        browser: Browser, sites: Sites, form: str) -> None:  # noqa: F811
    """The other side of the above: the visitor's click on the launcher of a page that has not
    loaded the chat yet moves the keyboard into the form's first field when the form appears
    (after the connection is made), so that they can type at once."""
    page = await (await browser.new_context(viewport={"width": 1280, "height": 760})).new_page()
    await page.goto(sites.page_url)
    await page.get_by_role("button", name="Open chat").click()
    frame = page.frame_locator("iframe[title=Chat]")
    await expect(frame.locator("#intake")).to_be_visible()
    await expect(frame.locator("#intake-name")).to_be_focused()
    await page.keyboard.type("Maria")
    await expect(frame.get_by_label("Name")).to_have_value("Maria")


@pytest.mark.site_profile(offline="chat", logo="https://127.0.0.1:9/logo.png")
async def test_right_to_left_typing_and_a_logo_that_does_not_load(
        browser: Browser, sites: Sites, artifacts: Path) -> None:  # noqa: F811
    """Before: Arabic typed in the composer ran left to right ("!" on the wrong side; sent
    messages were right), and a logo that did not load showed the browser's broken image."""
    page = await (await browser.new_context(viewport={"width": 1280, "height": 760})).new_page()
    await page.goto(sites.page_url)
    frame = await open_widget(page)
    composer = frame.get_by_label("Message", exact=True)
    await composer.fill("مرحبا!")
    assert await composer.evaluate("e => getComputedStyle(e).direction") == "rtl"
    await expect(frame.locator("#logo")).to_be_hidden()
    await page.screenshot(path=str(artifacts / "widget-rtl-composer-no-broken-logo.png"))


@pytest.mark.site_profile(offline="chat")
async def test_a_key_on_the_launcher_of_a_loaded_chat_moves_the_keyboard_into_it(
        browser: Browser, sites: Sites) -> None:  # noqa: F811
    """A black-box tester's: once the chat's frame was loaded (a returning visitor's, warmed at
    idle, or the page's own open and close), Enter on the launcher opened the chat and left the
    keyboard on the launcher: what was typed went nowhere, a space closed the chat again, and
    Escape did not close it."""
    from tests.live import add_admin, login
    from tests.test_admin import call

    # The page on another site than the chat server's, as most are (the browser refuses a
    # frame of another site the focus it takes by itself).
    page_url = sites.page_url.replace("127.0.0.1", "localhost")
    root = await login(sites.chat, await add_admin(sites.chat.db, "root@acme.test"))
    changed = await call(sites.chat, "PATCH", f"/api/admin/sites/{sites.site_id}", root, {
        "allowed_origins": ["/".join(url.split("/", 3)[:3])
                            for url in (page_url, sites.page_url)]})
    assert changed.status_code == 200, changed.text
    page = await (await browser.new_context(viewport={"width": 1280, "height": 760})).new_page()
    await page.goto(page_url)
    await page.evaluate("() => LiveChat('open')")
    frame = page.frame_locator("iframe[title=Chat]")
    await expect(frame.locator("html[data-state=online]")).to_have_count(1)
    await page.evaluate("() => LiveChat('close')")
    launcher = page.get_by_role("button", name="Open chat")
    await page.evaluate("""() => { const b = document.createElement("button");
        b.textContent = "Add to cart"; document.body.prepend(b); }""")
    await page.get_by_role("button", name="Add to cart").click()
    await page.keyboard.press("Tab")  # (the launcher comes after the page's own)
    await expect(launcher).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(frame.locator("#input")).to_be_focused()
    await page.keyboard.type("Hello there")
    await expect(frame.locator("#input")).to_have_value("Hello there")
    await page.keyboard.press("Escape")
    await expect(page.locator("livechat-widget .panel")).to_be_hidden()
    await expect(launcher).to_be_focused()


@pytest.mark.site_profile(offline="chat")
async def test_a_chat_opened_while_the_server_is_down_comes_when_it_is_back(
        browser: Browser, sites: Sites) -> None:  # noqa: F811
    """A black-box tester's: opened during a restart, the chat's frame showed the browser's
    error page for the rest of the page's life, closing and opening it again did not help."""
    page = await (await browser.new_context(viewport={"width": 1280, "height": 760})).new_page()
    await page.goto(sites.page_url)
    await expect(page.get_by_role("button", name="Open chat")).to_be_visible()
    sites.chat.stop()
    try:
        async with page.expect_event("framenavigated", lambda f: f.url.startswith(
                "chrome-error:")):  # (the browser's error page is in the frame)
            await page.get_by_role("button", name="Open chat").click()
    finally:
        sites.chat.start()
    frame = page.frame_locator("iframe[title=Chat]")
    await expect(frame.locator("html[data-state=online]")).to_have_count(1, timeout=30_000)
    await frame.get_by_label("Message", exact=True).fill("Back?")
    await frame.get_by_label("Message", exact=True).press("Enter")
    await expect(frame.locator(".msg.mine:not(.pending)")).to_have_count(1)
