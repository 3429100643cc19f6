"""The loader's stylesheet, ``/widget/launcher.css?site=…&parent=…``: the launcher's rules for a
page the site allows, and for a wrong tag (no such site, an origin the site does not allow) a
stylesheet that hides the widget and says why (docs/embedding.md, The tag). The browser's side
of it is tests/test_loader_browser.py."""

from __future__ import annotations

import httpx

from server.endpoints.http import embeds
from tests.live import Seed, ServerProcess


def test_which_pages_may_embed_the_frame_as_a_browser_reads_frame_ancestors() -> None:
    allowed = ["http://shop.test", "https://www.acme.example", "https://*.acme.example",
               "http://localhost:8080"]
    for page in ("http://shop.test", "https://shop.test", "https://www.acme.example",
                 "https://eu.acme.example", "https://a.b.acme.example", "http://localhost:8080",
                 "https://localhost:8080"):
        assert embeds(page, allowed), page
    refused: tuple[str | None, ...] = (
        "http://www.acme.example", "https://acme.example", "http://shop.test:8080",
        "http://localhost", "http://evil.test", "https://evilacme.example", "null", "", None,
        "http://shop.test/path", "javascript:alert(1)", "HTTP://SHOP.TEST")
    for refusal in refused:
        assert not embeds(refusal, allowed), refusal


async def test_a_wrong_tag_gets_a_stylesheet_that_hides_the_widget_and_says_why(
        server: ServerProcess, seeded: Seed) -> None:
    async with httpx.AsyncClient(base_url=server.http) as http:
        async def sheet(site: str, parent: str | None) -> httpx.Response:
            params = {"site": site, **({"parent": parent} if parent is not None else {})}
            r = await http.get("/widget/launcher.css", params=params)
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/css")
            assert r.headers["cross-origin-resource-policy"] == "cross-origin"
            return r

        for parent in ("http://shop.test", "https://shop.test"):
            good = await sheet(seeded.site_id, parent)
            # (It resets --lc-why, which a page's own could otherwise set: no reason given.)
            assert ".launcher" in good.text and '--lc-why:"' not in good.text.replace(" ", "")
            assert good.headers["cache-control"] == "public, max-age=300"
            again = await http.get("/widget/launcher.css", headers={
                "If-None-Match": good.headers["etag"]},
                params={"site": seeded.site_id, "parent": parent})
            assert again.status_code == 304

        other = await sheet(seeded.site_id, "http://other.test")
        assert other.text == (
            ':host{display:none!important;--lc-why:"livechat: this page\'s origin, '
            f'http://other.test, is not allowed for site {seeded.site_id}: the chat is hidden '
            f'(livechat site set {seeded.site_id} --origin …, once for every origin the site '
            'allows)"}\n')
        assert other.headers["cache-control"] == "no-store"
        # Another site's origin is not this one's; no origin at all is none.
        assert "not allowed" in (await sheet(seeded.other_site_id, "http://shop.test")).text
        assert "origin, (none), is not allowed" in (await sheet(seeded.site_id, None)).text

        unknown = await sheet("site_nope", "http://shop.test")
        assert unknown.text == (
            ':host{display:none!important;--lc-why:"livechat: there is no site site_nope on '
            f'{server.http} (the tag\'s data-site): the chat is hidden"}}\n')
        # What the page sent is said only with characters a CSS string keeps as they are.
        hostile = await sheet('x";}:host{display:block}/*\\', 'http://a"b.test')
        body = hostile.text.split('--lc-why:"', 1)[1]
        assert body.count('"') == 1 and "\\" not in body and "{" not in body, hostile.text
