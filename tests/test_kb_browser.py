"""The knowledge base in a real Chromium: an admin writes and publishes an article on the Manage
page (live preview, a translation); a visitor on a hostile host page searches it in the widget,
opens it, comes back, sees it suggested while typing; an agent links it with ``#`` and sees the
same card in the panel; the public help centre renders it with its meta tags. axe-core checks
every page; screenshots go to test-artifacts/. The agent's side (``#``, the cards in the panel)
is in tests/test_kb_panel.py."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from server.auth import hash_password
from tests.browser import (  # noqa: F401 — the browser and sites fixtures
    AXE,
    Sites,
    axe_violations,
    browser,
    hostile_page,
    open_widget,
    sign_in_page,
    sites,
)
from tests.live import PASSWORD, open_store
from tests.test_kb import PAYLOADS, _Tags

pytestmark = pytest.mark.browser


async def frame_axe(page: Page) -> list[str]:
    """axe-core in the chat frame only (the hostile host page is not ours to judge)."""
    source = AXE.read_text()
    found: list[str] = []
    for target in [f for f in page.frames if "/widget/frame" in f.url]:
        await target.evaluate(source)
        found += await target.evaluate(
            "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
            ".map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '))")
    return found

RETURNS_MD = """Send the item back within **30 days** and we refund you.

![The returns page](https://shop.test/returns.png)

1. Open [your orders](https://shop.test/orders)
2. Choose *Return*

<script>window.pwned = 1</script>
[evil](javascript:window.pwned=1) <img src=x onerror="window.pwned=1">
"""


async def admin(browser: Browser, sites: Sites) -> Page:  # noqa: F811
    async with open_store(sites.chat.db) as store:
        await store.create_agent("root@acme.test", "Rita Root", hash_password(PASSWORD),
                                 "admin", [])
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    return await sign_in_page(await context.new_page(), sites.chat.http, "root@acme.test")


async def publish_by_hand(root: Page, artifacts: Path) -> None:
    """The admin writes the article in the editor, watches the preview, publishes it, and
    writes its Portuguese translation."""
    blocked: list[str] = []
    root.on("console", lambda m: blocked.append(m.text) if "Content Security" in m.text else None)
    await root.get_by_role("button", name="Manage").click()
    await root.get_by_role("button", name="New article").click()
    form = root.locator("#kb-form")
    await form.get_by_label("Title").fill("Returns and refunds")
    await form.get_by_label("Written in").fill("en")
    await form.get_by_label("Category").fill("Orders")
    await form.get_by_label("Search keywords").fill("money back, send back")
    await form.get_by_label("Text (Markdown)").fill(RETURNS_MD)
    preview = root.locator("#kb-preview")
    await expect(preview.locator("strong")).to_have_text("30 days")
    await expect(preview.get_by_role("link", name="your orders")).to_have_attribute(
        "href", "https://shop.test/orders")
    # The payloads are text in the preview: no script element, no handler, no javascript: link.
    await expect(preview).to_contain_text("<script>window.pwned = 1</script>")
    assert await preview.locator("script, img:not([src^='https:']), a[href^=javascript]"
                                 ).count() == 0
    await expect(preview.get_by_role("img", name="The returns page")).to_have_attribute(
        "src", "https://shop.test/returns.png")
    await form.get_by_label("Status").select_option("published")
    await form.get_by_role("button", name="Save article").click()
    await expect(form.locator(".secret")).to_have_text("Saved and published.")
    await expect(root.locator("#kb-list")).to_contain_text("Returns and refunds")
    await root.screenshot(path=artifacts / "kb-01-editor-preview.png", full_page=True)
    assert await axe_violations(root, "no frames") == []
    assert await root.evaluate("window.pwned") is None
    assert blocked == []  # (the picture is refused by nothing but its unknown host)

    await form.get_by_role("button", name="Translate").click()
    await expect(root.locator("#kb-form-title")).to_have_text(
        "Translation of Returns and refunds")
    await expect(form.get_by_label("Written in")).to_be_focused()
    await form.get_by_label("Written in").fill("pt")
    await form.get_by_label("Title").fill("Devoluções e reembolsos")
    await form.get_by_label("Category").fill("Encomendas")
    await expect(form.get_by_label("Search keywords")).to_have_value("money back, send back")
    await form.get_by_label("Search keywords").fill("dinheiro de volta")
    await form.get_by_label("Text (Markdown)").fill("Devolva o artigo em **30 dias**.")
    await form.get_by_label("Status").select_option("published")
    await form.get_by_role("button", name="Save article").click()
    await expect(form.locator(".secret")).to_have_text("Saved and published.")
    await expect(root.locator("#kb-translations")).to_contain_text("en · Returns and refunds")
    await root.locator("#kb-address").get_by_label("Help centre address").fill("acme")
    await root.locator("#kb-address").get_by_role("button", name="Save address").click()
    origin = root.url.split("/agent")[0]
    await expect(root.locator("#kb-open")).to_have_attribute("href", f"{origin}/help/acme")


async def test_an_admin_writes_publishes_and_translates_an_article(
        browser: Browser, sites: Sites, artifacts: Path) -> None:  # noqa: F811
    root = await admin(browser, sites)
    await publish_by_hand(root, artifacts)
    async with open_store(sites.chat.db) as store:
        found = await store.articles.search(sites.site_id, "reembolso", "pt")
        assert [f.article.title for f in found] == ["Devoluções e reembolsos"]
        en = (await store.articles.search(sites.site_id, "refund", "en"))[0].article
        assert en.keywords == "money back, send back"
        [by_keyword] = await store.articles.search(sites.site_id, "dinheiro volta", "pt")
        assert by_keyword.article.id == found[0].article.id
        assert found[0].article.group_id == en.group_id
        tags = _Tags()
        tags.feed(en.html)
        assert [t for t, _ in tags.seen if t in ("script", "img")] == ["img"]  # the picture
        assert not any(name.startswith("on") for _, attrs in tags.seen for name, _ in attrs)
    async with httpx.AsyncClient() as http:
        listed = await http.get(f"{sites.chat.http}/api/admin/articles")
        assert listed.status_code == 401


PAYLOAD_BODY = "\n\n".join(["Pack the item in its box.", *PAYLOADS])


async def seed_articles(sites: Sites) -> dict[str, str]:  # noqa: F811
    async with open_store(sites.chat.db) as store:
        a = store.articles
        returns = await a.save(sites.site_id, lang="en", title="Returns and refunds",
                               category="Orders", status="published",
                               body=RETURNS_MD + "\n\n" + PAYLOAD_BODY)
        await a.save(sites.site_id, lang="pt", title="Devoluções e reembolsos",
                     category="Encomendas", status="published", translation_of=returns.id,
                     body="Devolva o artigo em **30 dias** e reembolsamos o valor.")
        ship = await a.save(sites.site_id, lang="en", title="Shipping to Portugal",
                            category="Delivery", status="published",
                            body="We ship to Portugal in 3 to 5 days; returns are free.")
        await a.save(sites.site_id, lang="en", title="Refund draft", body="refund")
        return {"returns": returns.id, "ship": ship.id}


async def test_a_visitor_finds_reads_and_is_offered_articles(
        browser: Browser, sites: Sites, hostile_page: str, artifacts: Path) -> None:  # noqa: F811
    ids = await seed_articles(sites)
    page = await (await browser.new_context(viewport={"width": 1280, "height": 800})).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    await page.goto(hostile_page)  # it opens the chat itself (LiveChat('open'))
    frame = page.frame_locator("iframe[title=Chat]")
    search = frame.get_by_role("searchbox", name="Search our help articles")
    await expect(search).to_be_visible()
    await expect(search).to_have_attribute("placeholder", "Search our help articles")
    # Results as the visitor types; the draft is not among them; the count is announced.
    async with page.expect_response(lambda r: "/widget/kb/events" in r.url) as logged:
        await search.fill("refund")
        await search.press("Enter")
    assert (await logged.value).status == 200
    results = frame.get_by_role("list", name="Help articles")
    await expect(results.get_by_role("button")).to_have_count(1)
    await expect(results.get_by_role("button")).to_contain_text("Returns and refunds")
    await expect(frame.locator("#messages")).to_be_hidden()
    await expect(frame.locator("body > p[aria-live]")).to_have_text("Articles found: 1")
    await page.screenshot(path=artifacts / "kb-10-widget-results.png")
    assert await frame_axe(page) == []
    # With the keyboard: to the result, open it; the title has the focus.
    await search.press("Tab")
    await expect(results.get_by_role("button")).to_be_focused()
    async with page.expect_response(lambda r: "/widget/kb/events" in r.url):
        await page.keyboard.press("Enter")
    article = frame.get_by_role("article", name="Returns and refunds")
    await expect(article.get_by_role("heading", name="Returns and refunds")).to_be_focused()
    await expect(article.locator("strong").first).to_have_text("30 days")
    # The payloads are inert: text or gone; links open elsewhere, never javascript:.
    body = frame.locator(".kb-body")
    assert await body.locator("script, iframe, object, embed, svg, math, style, form, "
                              "[onerror], [onload], [style]:not(th):not(td)").count() == 0
    for href in await body.locator("a[href]").evaluate_all("as => as.map(a => a.href)"):
        assert href.startswith(("https://", "http://", "mailto:")), href  # (the rest: no href)
    await expect(body.get_by_role("link", name="your orders")).to_have_attribute(
        "target", "_blank")
    assert await page.frames[1].evaluate("window.pwned") is None
    help_link = frame.get_by_role("link", name="Open in the help centre")
    await expect(help_link).to_have_attribute(
        "href", f"{sites.chat.http}/help/{sites.site_id}/en/returns-and-refunds")
    vote = frame.get_by_role("group", name="Did this answer your question?")
    await expect(vote).to_be_visible()
    await page.screenshot(path=artifacts / "kb-11-widget-article.png")
    assert await frame_axe(page) == []
    async with page.expect_response(lambda r: "/widget/kb/events" in r.url) as voted:
        await vote.get_by_role("button", name="Yes").click()
    assert (await voted.value).status == 200
    await expect(frame.get_by_role("status").filter(has_text="Thanks for telling us.")
                 ).to_be_visible()
    # Back: the results again, the focus on the article's result; Escape closes them.
    await frame.get_by_role("button", name="Back").click()
    await expect(results.get_by_role("button")).to_be_focused()
    await page.keyboard.press("Escape")
    await expect(frame.locator("#kb")).to_be_hidden()
    await expect(search).to_be_focused()
    await expect(frame.locator("#messages")).to_be_visible()
    assert await page.locator("iframe[title=Chat]").is_visible()  # the chat stayed open
    # Escape in the search box closes the results first, not the chat. (The search is
    # remembered once the visitor has stopped typing.)
    async with page.expect_response(lambda r: "/widget/kb/events" in r.url
                                    and "refunds" in (r.request.post_data or "")):
        await search.fill("refunds")
        await expect(results.get_by_role("button")).to_have_count(1)
    await search.press("Escape")
    await expect(frame.locator("#kb")).to_be_hidden()
    assert await page.locator("iframe[title=Chat]").is_visible()

    # Suggestions while the first message is written: open one, come back, send anyway.
    composer = frame.get_by_label("Message", exact=True)
    await composer.fill("Hi, how do I get a refund for my order?")
    suggested = frame.get_by_role("list", name="These articles may answer your question")
    await expect(suggested.get_by_role("button").first).to_have_text("Returns and refunds")
    assert await suggested.get_by_role("button").count() <= 3
    await page.screenshot(path=artifacts / "kb-12-widget-suggestions.png")
    assert await frame_axe(page) == []
    async with page.expect_response(
            lambda r: "/widget/kb/events" in r.url
            and "suggestion_opened" in (r.request.post_data or "")), page.expect_response(
            lambda r: "/widget/kb/events" in r.url
            and '"type":"view"' in (r.request.post_data or "")):
        await suggested.get_by_role("button").first.click()
    await expect(frame.get_by_role("heading", name="Returns and refunds")).to_be_focused()
    await frame.get_by_role("button", name="Still need help? Chat with us").click()
    await expect(composer).to_be_focused()
    await expect(composer).to_have_value("Hi, how do I get a refund for my order?")
    await frame.get_by_role("button", name="Send anyway").click()
    await expect(frame.locator(".msg.mine:not(.pending)")).to_have_count(1)
    await expect(frame.locator("#kb-suggest")).to_be_hidden()
    # Once the conversation exists, writing suggests nothing.
    await composer.fill("And the shipping to Portugal, how long?")
    await composer.press("Enter")
    await expect(frame.locator(".msg.mine:not(.pending)")).to_have_count(2)
    await expect(frame.locator("#kb-suggest")).to_be_hidden()
    assert errors == []
    async with open_store(sites.chat.db) as store:
        stats = await store.articles.stats([sites.site_id], 0, 2**62)
    assert stats["searches"] == 2 and stats["no_results"] == []
    assert (stats["helpful"], stats["not_helpful"]) == (1, 0)
    # (the visitor opened a suggestion, then started a conversation: not accepted)
    assert (stats["suggestions_opened"], stats["suggestions_accepted"]) == (1, 0)
    assert stats["articles"][0]["id"] == ids["returns"] and stats["articles"][0]["views"] == 2


async def test_the_widget_reads_articles_on_a_phone_in_portuguese(
        browser: Browser, sites: Sites, artifacts: Path) -> None:  # noqa: F811
    await seed_articles(sites)
    phone = await browser.new_context(viewport={"width": 390, "height": 760},
                                      device_scale_factor=2, is_mobile=True, has_touch=True,
                                      locale="pt-PT")
    page = await phone.new_page()
    await page.goto(sites.page_url)
    await page.get_by_role("button", name="Abrir conversa").click()
    frame = page.frame_locator("iframe[title=Chat]")
    search = frame.get_by_role("searchbox", name="Pesquisar nos artigos de ajuda")
    await search.fill("reembolsos")
    results = frame.get_by_role("list", name="Artigos de ajuda")
    await expect(results.get_by_role("button")).to_have_count(1)
    await expect(results.get_by_role("button")).to_contain_text("Devoluções e reembolsos")
    assert await search.evaluate("e => getComputedStyle(e).fontSize") == "16px"  # no iOS zoom
    await results.get_by_role("button").click()
    await expect(frame.get_by_role("heading", name="Devoluções e reembolsos")).to_be_focused()
    await expect(frame.get_by_role("group", name="Isto respondeu à sua pergunta?")).to_be_visible()
    await expect(frame.get_by_role("button", name="Voltar")).to_be_visible()
    width = await frame.locator(".kb-article").evaluate("e => e.scrollWidth <= e.clientWidth")
    assert width  # nothing wider than the phone
    await page.screenshot(path=artifacts / "kb-13-widget-article-phone-pt.png")
    assert await frame_axe(page) == []
    # A search with no result says so, in Portuguese, and offers the chat.
    await frame.get_by_role("button", name="Voltar").click()
    await search.fill("garantia estendida")
    await expect(frame.locator(".kb-empty")).to_have_text(
        "Nenhum artigo corresponde. Experimente outras palavras, ou fale connosco.")
    await frame.get_by_role("button", name="Ainda precisa de ajuda? Fale connosco").click()
    await expect(frame.get_by_label("Mensagem", exact=True)).to_be_focused()


async def test_the_help_centre_in_a_browser(browser: Browser, sites: Sites,  # noqa: F811
                                            artifacts: Path) -> None:
    await seed_articles(sites)
    async with open_store(sites.chat.db) as store:
        await store.set_site_profile(sites.site_id, color="#0b7a4b")
        await store.articles.set_help_slug(sites.site_id, "acme-outdoor")
    # From the widget: the article's link opens the help centre's page.
    page = await (await browser.new_context(viewport={"width": 1280, "height": 900})).new_page()
    await page.goto(sites.page_url)
    await page.get_by_role("button", name="Open chat").click()
    frame = page.frame_locator("iframe[title=Chat]")
    await frame.get_by_role("searchbox", name="Search our help articles").fill("shipping")
    await frame.get_by_role("list", name="Help articles").get_by_role("button").first.click()
    async with page.context.expect_page() as opened:
        await frame.get_by_role("link", name="Open in the help centre").click()
    help_page = await opened.value
    violations: list[str] = []
    help_page.on("console", lambda m: violations.append(m.text) if "Content Security" in m.text
                 else None)
    await expect(help_page).to_have_title("Shipping to Portugal · Acme Outdoor")
    assert help_page.url == f"{sites.chat.http}/help/acme-outdoor/en/shipping-to-portugal"
    header = help_page.locator("header.top")
    assert await header.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(11, 122, 75)"
    await help_page.screenshot(path=artifacts / "kb-20-help-article.png", full_page=True)
    assert await axe_violations(help_page, "no frames") == []
    # Home, a category, a search — with a keyboard and on a phone.
    await help_page.get_by_role("link", name="Help centre home").click()
    await expect(help_page.get_by_role("heading", name="Help centre", level=1)).to_be_visible()
    await expect(help_page.get_by_role("link", name="Returns and refunds")).to_be_visible()
    await help_page.screenshot(path=artifacts / "kb-21-help-home.png", full_page=True)
    assert await axe_violations(help_page, "no frames") == []
    search = help_page.get_by_role("searchbox", name="Search the help centre")
    await search.focus()  # the focus ring: the light outline and a dark ring inside it (one of
    ring = await search.evaluate(  # the two stands out on any background: the site's colour)
        "e => [getComputedStyle(e).outlineColor, getComputedStyle(e).boxShadow]")
    assert ring[0] == "rgb(255, 191, 71)" and "rgb(27, 31, 36)" in ring[1], ring
    await search.fill("refund")
    await search.press("Enter")
    await expect(help_page.get_by_role("status")).to_have_text("Articles found: 1")
    assert await axe_violations(help_page, "no frames") == []
    # The article with the payload corpus: inert in the help centre too.
    await help_page.get_by_role("link", name="Returns and refunds").click()
    await expect(help_page.get_by_role("heading", name="Returns and refunds")).to_be_visible()
    body = help_page.locator("article .body")
    await expect(body).to_contain_text("<script>alert(1)</script>")  # as text
    assert await body.locator("script, iframe, object, embed, svg, math, style, form, "
                              "[onerror], [onload], [onclick]").count() == 0
    for href in await body.locator("a[href]").evaluate_all("as => as.map(a => a.href)"):
        assert href.startswith(("https://", "http://", "mailto:")), href
    assert await help_page.evaluate("window.pwned") is None
    vote = help_page.get_by_role("group", name="Did this answer your question?")
    await vote.get_by_role("button", name="Yes").click()
    await expect(help_page.get_by_role("status")).to_have_text("Thanks for telling us.")
    assert await axe_violations(help_page, "no frames") == []
    await help_page.go_back()
    await help_page.go_back()
    await help_page.get_by_role("link", name="Português").click()
    await expect(help_page.get_by_role("heading", name="Centro de ajuda")).to_be_visible()
    phone = await (await browser.new_context(viewport={"width": 390, "height": 844},
                                             is_mobile=True, device_scale_factor=2,
                                             locale="pt-PT")).new_page()
    await phone.goto(f"{sites.chat.http}/help/acme-outdoor")
    await expect(phone).to_have_url(f"{sites.chat.http}/help/acme-outdoor/pt")
    await phone.get_by_role("link", name="Devoluções e reembolsos").click()
    await expect(phone.get_by_role("heading", name="Devoluções e reembolsos")).to_be_visible()
    assert await phone.evaluate("document.documentElement.scrollWidth <= innerWidth")
    await phone.screenshot(path=artifacts / "kb-22-help-article-phone-pt.png", full_page=True)
    assert await axe_violations(phone, "no frames") == []
    assert violations == []


@pytest.mark.site_profile(offline="chat", theme="dark")
async def test_the_widget_reads_articles_right_to_left_and_dark(
        browser: Browser, sites: Sites, artifacts: Path) -> None:  # noqa: F811
    await seed_articles(sites)
    page = await (await browser.new_context(viewport={"width": 1280, "height": 800},
                                            locale="ar")).new_page()
    await page.goto(sites.page_url)
    await page.locator("livechat-widget button").click()
    frame = page.frame_locator("iframe[title=Chat]")
    await expect(frame.locator("html")).to_have_attribute("dir", "rtl")
    search = frame.get_by_role("searchbox", name="ابحث في مقالات المساعدة")
    await search.fill("shipping")  # no article in Arabic: every language is searched
    results = frame.get_by_role("list", name="مقالات المساعدة")
    await expect(results.get_by_role("button")).to_have_count(1)
    await results.get_by_role("button").click()
    await expect(frame.get_by_role("heading", name="Shipping to Portugal")).to_be_focused()
    await expect(frame.locator(".kb-article")).to_have_attribute("dir", "ltr")  # its own
    await expect(frame.locator(".kb-article")).to_have_attribute("lang", "en")
    await expect(frame.get_by_role("button", name="رجوع")).to_be_visible()
    await expect(frame.get_by_role("group", name="هل أجاب هذا عن سؤالك؟")).to_be_visible()
    background = await frame.locator(".kb-article").evaluate(
        "e => getComputedStyle(e).backgroundColor")
    assert background != "rgb(255, 255, 255)"  # the dark theme's colours
    await page.screenshot(path=artifacts / "kb-14-widget-article-rtl-dark.png")
    assert await frame_axe(page) == []
