"""The knowledge base's text and records: Markdown rendered inert whatever the body holds,
search (accents, prefixes, title over body, per language), translations, slugs, and the
numbers the reports are made of."""

from __future__ import annotations

import re
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest

from server import kb
from server.errors import ChatError
from server.store import SQLiteStore

#: Bodies an attacker (or a careless paste) could put in an article. None of them may leave a
#: script, an event handler, a frame, an object, a style or a non-http(s)/mailto link.
PAYLOADS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.test/x.js></SCRIPT>",
    "<img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](&#106;avascript:alert(1))",
    "[click](java\tscript:alert(1))",
    "[click](vbscript:msgbox(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "![x](javascript:alert(1))",
    "![x](data:image/svg+xml,<svg onload=alert(1)>)",
    '![x](https://ok.test/a.png "title" onerror=alert(1))',
    "<svg><script>alert(1)</script></svg>",
    "<svg onload=alert(1)>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<iframe src=https://evil.test></iframe>",
    "<object data=https://evil.test/x.swf></object>",
    "<embed src=https://evil.test/x.swf>",
    "<style>body{display:none}</style>",
    '<div style="background:url(javascript:alert(1))">x</div>',
    '<p style="position:fixed;inset:0">cover</p>',
    "<form action=https://evil.test><input name=q></form>",
    "<meta http-equiv=refresh content=0;url=https://evil.test>",
    "<base href=https://evil.test/>",
    "<link rel=stylesheet href=https://evil.test/x.css>",
    "<details open ontoggle=alert(1)>",
    '"><script>alert(1)</script>',
    "<!--<script>alert(1)</script>-->",
    "`<script>alert(1)</script>`",
    "```html\n<script>alert(1)</script>\n```",
    "| a |\n|---|\n| <img src=x onerror=alert(1)> |",
    "[a](https://ok.test/\"onmouseover=\"alert(1))",
    "<a href=https://ok.test onclick=alert(1)>x</a>",
    "[x](//evil.test/path)",
    "<video><source onerror=alert(1)></video>",
]
_TAGS = {"p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "s", "del", "code",
         "pre", "blockquote", "ul", "ol", "li", "a", "img", "table", "thead", "tbody", "tr", "th",
         "td"}
_ALIGN = {"text-align:left", "text-align:right", "text-align:center"}


class _Tags(HTMLParser):
    """Every element and attribute a browser would make of the HTML."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.seen.append((tag, attrs))


@pytest.mark.parametrize("payload", PAYLOADS)
def test_every_payload_renders_inert(payload: str) -> None:
    html = kb.render(payload).html
    parser = _Tags()
    parser.feed(html)
    for tag, attrs in parser.seen:
        assert tag in _TAGS, html
        for name, value in attrs:
            assert not name.startswith("on"), html
            if name in ("href", "src"):
                assert (value or "").startswith(("https://", "http://", "mailto:")), html
            if name == "style":
                assert value in _ALIGN, html


def test_an_articles_plain_text_has_no_space_before_punctuation() -> None:
    """Before: every tag became a space, so excerpts read "within 30 days . See our policy ."."""
    r = kb.render("You can return any item within **30 days**.\n\nSee [our policy]"
                  "(https://acme.test/p). Ask `help`!\n\n- one\n- two")
    assert r.text == "You can return any item within 30 days. See our policy. Ask help! one two"


def test_markdown_renders_what_articles_need() -> None:
    r = kb.render("## Steps\n\n1. Open **Settings**\n2. Press *Reset*\n\n"
                  "See [the guide](https://acme.test/guide) or [mail us](mailto:help@acme.test)"
                  "\n\n![Screen](https://acme.test/s.png)\n\n| a | b |\n|:-:|---|\n| 1 | 2 |\n\n"
                  "`code` ~~old~~")
    assert "<h2>Steps</h2>" in r.html and "<ol>" in r.html and "<strong>Settings</strong>" in r.html
    assert ('<a href="https://acme.test/guide" target="_blank" '
            'rel="noopener noreferrer nofollow">the guide</a>') in r.html
    assert 'href="mailto:help@acme.test"' in r.html
    assert '<img src="https://acme.test/s.png" alt="Screen">' in r.html
    assert '<th style="text-align:center">a</th>' in r.html
    assert "<code>code</code>" in r.html and "<s>old</s>" in r.html
    assert r.text.startswith("Steps Open Settings Press Reset See the guide")


def test_a_link_we_do_not_keep_shows_its_words_without_an_href() -> None:
    """As docs/knowledge-base.md says. Before: markdown-it refused to parse such a link, and
    readers saw its Markdown source, ``[bad](javascript:alert(1))`` (a black-box tester)."""
    for link in ("javascript:alert(1)", "JaVaScRiPt:alert(1)", "vbscript:x", "data:text/html,x",
                 "/relative", "//protocol.relative"):
        r = kb.render(f"Try [this]({link}).")
        assert r.html.startswith("<p>Try <a ") and r.html.endswith(">this</a>.</p>\n"), link
        assert "href" not in r.html and r.text == "Try this."
    assert kb.render("![shot](data:image/png;base64,AAAA)").html == '<p><img alt="shot"></p>\n'


def test_slugs_languages_and_queries() -> None:
    assert kb.slugify("Réinitialiser le mot de passe !") == "reinitialiser-le-mot-de-passe"
    assert kb.slugify("???") == "article"
    assert kb.check_lang("pt_BR") == "pt-br"
    with pytest.raises(ValueError):
        kb.check_lang("portuguese")
    # Nothing in a query is syntax: words only; common words and single letters left out.
    assert kb.search_words('pass" NEAR word*', every=True) == [
        [("pass", False)], [("NEAR", False)], [("word", True)]]
    assert kb.search_words("  ...  ", every=False) == []
    assert kb.search_words("how do I get my refunds?", every=False) == [
        [("refunds", False), ("refund", True)]]
    assert kb.search_words("how do I get my refunds?", every=True) == [[("refunds", True)]]
    assert kb.search_words("a o não", every=False) == []  # nothing but common words
    assert kb.search_words("a o não", every=True) == [  # …looked for as they are
        [("a", False)], [("o", False)], [("não", True)]]
    assert kb.search_words("tent p", every=False) == [[("tent", False)]]
    assert kb.summary("one two three four", 9) == "one two…"


async def _site(store: SQLiteStore) -> str:
    return (await store.create_site("Acme", ["http://shop.test"])).id


async def test_search_ignores_accents_and_ranks_the_title_over_the_body(
        store: SQLiteStore) -> None:
    site = await _site(store)
    a = store.articles
    body_only = await a.save(site, lang="pt", title="Entregas", status="published",
                             body="Quando a senha não funciona, veja a página de palavra-passe.")
    titled = await a.save(site, lang="pt", title="Como alterar a senha", status="published",
                          body="Abra a conta e escolha **Segurança**.")
    await a.save(site, lang="pt", title="Senha: rascunho", body="senha senha senha")  # a draft
    await a.save(site, lang="en", title="Change your password", status="published",
                 body="Open your account.")
    for query in ("senha", "SENHA", "sénha", "sen", "alterar senha"):
        found = await a.search(site, query, "pt")
        assert [f.article.id for f in found][:1] == [titled.id], query
    assert {f.article.id for f in await a.search(site, "senha", "pt")} == {titled.id, body_only.id}
    # per language; drafts only for the panel; a question in full still finds it
    assert [f.article.title for f in await a.search(site, "password", "en")] == [
        "Change your password"]
    assert await a.search(site, "password", "pt") == []
    assert len(await a.search(site, "senha", "pt", drafts=True)) == 3
    found = await a.search(site, "como é que eu mudo a minha senha?", "pt-BR")
    assert found[0].article.id == titled.id
    # nothing in a query is FTS syntax
    for query in ('"', "a OR b", "NEAR(", "senha*", "-senha", "^senha", "title:senha"):
        await a.search(site, query, "pt")


async def test_keywords_are_searched_like_the_title_and_never_shown(store: SQLiteStore) -> None:
    site = await _site(store)
    a = store.articles
    abroad = await a.save(site, lang="en", title="Shipping outside the European Union",
                          body="We ship to the United Kingdom and Norway.", status="published",
                          keywords="UK,  Britain\nMB   Way")
    assert abroad.keywords == "UK, Britain MB Way"
    await a.save(site, lang="en", title="Delivery times", status="published",
                 body="Standard delivery to the UK takes 2 to 4 days.")
    # The keyword weighs like the title: above a body that has the word.
    assert [f.article.id for f in await a.search(site, "uk", "en")][:1] == [abroad.id]
    assert "UK, Britain" not in str(abroad.public()) and abroad.full()["keywords"]
    with pytest.raises(ValueError):
        await a.save(site, lang="en", title="x", body="", keywords="k" * 501)
    changed = await a.save(site, article_id=abroad.id, lang="en", title=abroad.title,
                           body=abroad.body, status="published")
    assert changed.keywords == ""
    assert [f.article.id for f in await a.search(site, "Britain", "en")] == []


async def test_words_match_their_other_forms_in_the_articles_language(
        store: SQLiteStore) -> None:
    """Stemming: English rules on SQLite (porter), the article's language's Snowball stemmer
    on PostgreSQL; accents ignored before it."""
    site = await _site(store)
    a = store.articles
    refunds = await a.save(site, lang="en", title="Refunds", body="Money back.",
                           status="published")
    returns = await a.save(site, lang="pt", title="Devoluções", body="Reembolsos em 5 dias.",
                           status="published")
    for query, lang, expected in (("refunded", "en", refunds), ("refunding", "en", refunds),
                                  ("devolucoes", "pt", returns), ("reembolso", "pt", returns),
                                  ("DEVOLUÇÕES", "pt-BR", returns)):
        found = await a.search(site, query, lang)
        assert [f.article.id for f in found] == [expected.id], query
        assert found[0].snippet, query


async def test_translations_slugs_and_updates(store: SQLiteStore) -> None:
    site = await _site(store)
    a = store.articles
    agent = await store.create_agent("ana@acme.test", "Ana", "x", "admin", [site])
    en = await a.save(site, lang="en", title="Returns", body="Send it back.", author_id=agent.id)
    pt = await a.save(site, lang="pt", title="Devoluções", body="Devolva.", translation_of=en.id)
    assert pt.group_id == en.group_id and pt.slug == "devolucoes"
    with pytest.raises(ValueError):
        await a.save(site, lang="pt", title="Outra", body="", translation_of=en.id)
    again = await a.save(site, lang="en", title="Returns", body="Other.")
    assert again.slug == "returns-2"
    changed = await a.save(site, article_id=en.id, lang="en", title="Returns and refunds",
                           body="**Send** it back.", status="published", category="Orders")
    assert changed.slug == "returns"  # the address stays
    assert changed.html == "<p><strong>Send</strong> it back.</p>\n"
    assert changed.author_name == "Ana" and changed.category == "Orders"
    assert [t.lang for t in await a.translations(en.group_id)] == ["en", "pt"]
    assert [t.lang for t in await a.translations(en.group_id, published=True)] == ["en"]
    other = await store.create_site("Other", [])
    with pytest.raises(ChatError):
        await a.save(other.id, article_id=en.id, lang="en", title="x", body="")
    with pytest.raises(ChatError):
        await a.save(other.id, lang="en", title="x", body="", translation_of=en.id)
    for bad in ({"title": " "}, {"title": "x" * 201}, {"lang": "xx_yy_zz"},
                {"status": "live"}, {"body": "\x00"}):
        fields = {"lang": "en", "title": "ok", "body": "", **bad}
        with pytest.raises(ValueError):
            await a.save(site, **fields)  # type: ignore[arg-type]
    await a.delete([site], again.id)
    assert await a.get(again.id) is None
    assert [x.title for x in await a.search(site, "other", "en", drafts=True)] == []
    assert await a.help_slug(site) is None
    assert await a.site_for_slug(site) == site
    assert await a.set_help_slug(site, "acme") == "acme"
    assert await a.site_for_slug("acme") == site
    with pytest.raises(ValueError):
        await a.set_help_slug(other.id, "acme")
    with pytest.raises(ValueError):
        await a.set_help_slug(other.id, "Not A Slug")


async def test_lists_page_by_their_order_on_both_stores(store: SQLiteStore) -> None:
    """``listed(after=key)`` (the REST API's cursor) walks the same order as one long list: by
    category, title, language and id, ties included, with filters kept."""
    site = await _site(store)
    a = store.articles
    made = [await a.save(site, lang=lang, title=title, category=category, body="b",
                         status="published" if n % 2 else "draft")
            for n, (lang, title, category) in enumerate([
                ("en", "Returns", "Orders"), ("pt", "Returns", "Orders"), ("en", "Zips", ""),
                ("en", "Returns", "Orders"), ("en", "Boots", "Gear"), ("de", "Returns", "Orders"),
                ("en", "Apples", "Orders")])]
    whole = await a.listed([site])
    assert sorted(m.id for m in made) == sorted(w.id for w in whole)
    assert [w.key for w in whole] == sorted(w.key for w in whole)
    for size, filters in ((1, {}), (2, {}), (3, {"status": "draft"}), (2, {"lang": "en"})):
        expected = [w.id for w in await a.listed([site], **filters)]
        seen: list[str] = []
        page = await a.listed([site], limit=size, **filters)
        while page:
            seen += [p.id for p in page]
            page = await a.listed([site], limit=size, after=page[-1].key, **filters)
        assert seen == expected, (size, filters)


async def test_the_reports_numbers(store: SQLiteStore) -> None:
    site = await _site(store)
    a = store.articles
    art = await a.save(site, lang="en", title="Returns", body="Send it back.", status="published")
    start = int(time.time() * 1000) - 1
    await a.record(site, "search", query="Warranty", results=0)
    await a.record(site, "search", query="warranty", results=0)
    await a.record(site, "search", query="returns", results=1)
    await a.record(site, "view", article_id=art.id, visitor_id="v1")
    await a.record(site, "view", article_id=art.id, visitor_id="v2")
    await a.record(site, "suggestion_opened", article_id=art.id, visitor_id="v1")
    await a.record(site, "suggestion_opened", article_id=art.id, visitor_id="v2")
    await store.append_visitor_message(site, "v2", "m1", "I still need help")
    await a.record(site, "vote", article_id=art.id, visitor_id="v1", helpful=False)
    await a.record(site, "vote", article_id=art.id, visitor_id="v1", helpful=True)  # replaces
    await a.record(site, "vote", article_id=art.id, visitor_id="v2", helpful=False)
    stats = await a.stats([site], start, int(time.time() * 1000) + 1)
    assert stats["searches"] == 3
    assert [(m["query"], m["count"]) for m in stats["no_results"]] == [("warranty", 2)]
    assert stats["suggestions_opened"] == 2 and stats["suggestions_accepted"] == 1
    assert (stats["helpful"], stats["not_helpful"], stats["helpful_percent"]) == (1, 1, 50.0)
    assert (stats["searches_without_result"], stats["views"]) == (2, 2)
    assert stats["articles"] == [{"id": art.id, "title": "Returns", "lang": "en", "views": 2,
                                  "suggestions_opened": 2, "helpful": 1, "not_helpful": 1}]
    with pytest.raises(ValueError):
        await a.record(site, "bogus")  # type: ignore[arg-type]


def test_the_widgets_article_code_speaks_every_language_of_the_frame() -> None:
    """frame/kb.js carries its own words (fetched only by visitors who search): the same keys
    in every language the frame has."""
    root = Path(__file__).resolve().parent.parent / "widget" / "static" / "frame"
    source = re.sub(r'"(?:[^"\\]|\\.)*"', '""', (root / "kb.js").read_text())
    table = source[source.index("var WORDS = {"):source.index("};")]
    packs = dict(re.findall(r"\b([a-z]{2}): \{([^}]*)\}", table))
    assert set(packs) == {"en", *(p.stem for p in (root / "lang").glob("*.js"))}
    english = set(re.findall(r"(\w+):", packs["en"]))
    assert len(english) >= 12
    for code, block in packs.items():
        assert set(re.findall(r"(\w+):", block)) == english, code


def test_the_help_centre_speaks_the_frames_languages() -> None:
    from server.help_centre import LANGUAGE_NAMES, WORDS, theme_css

    assert set(WORDS) == set(LANGUAGE_NAMES) == {"en", "pt", "el", "es", "fr", "de", "ar", "he"}
    for code, words in WORDS.items():
        assert set(words) == set(WORDS["en"]), code
    # text on the accent is whichever of white and near-black contrasts more; links keep 4.5:1
    assert theme_css("#0b7a4b") == (":root { --accent: #0b7a4b; --on-accent: #ffffff; "
                                    "--link: #0b7a4b; }\n")
    assert theme_css("#ffcc00") == (":root { --accent: #ffcc00; --on-accent: #111418; "
                                    "--link: #174a96; }\n")
