"""Customer pages for the loader's browser tests (tests/test_loader_browser.py): each under
exactly the Content-Security-Policy docs/embedding.md gives (``default-src 'none'`` and the
three directives it names, nothing else), with the page's own CSS and script from files.

``/{variant}`` is a page: ``plain``, or one whose CSS is hard on fixed elements (``transform``,
``zoom``, ``overlay``), one that styles every popover and backdrop (``popovers``), one with a
long launcher text (``long``, and ``long-ar`` in Arabic), one with a site key that does not
exist (``unknown``). The query's ``title`` sets the page's title.

Run as ``python -m tests.loader_pages CHAT_ORIGIN SITE_ID PORT``.
"""

from __future__ import annotations

import html
import sys

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

LONG_TEXT = "Talk to our very friendly support team right now, we answer fast"
#: The same in Arabic (a right-to-left launcher text on a left-to-right page).
LONG_ARABIC = "تحدث مع فريق الدعم الودود لدينا الآن من فضلك اليوم"

#: variant -> (the page's CSS, more of its body, attributes of the tag, the site key or None)
VARIANTS: dict[str, tuple[str, str, str, str | None]] = {
    # (A custom property of the page's, of the name the loader reads, is not the loader's.)
    "plain": (":root { --lc-why: \"a page's own\"; }", "", "", None),
    # An animation library's habit: a transformed body is the containing block of every fixed
    # element in it (the launcher was drawn at the bottom of the 3000 px page, out of view).
    "transform": ("body { transform: translateX(0); min-height: 3000px; }", "", "", None),
    "zoom": ("html { zoom: 2; }", "", "", None),
    "overlay": (".top { position: fixed; inset: 0; z-index: 2147483647;"
                " background: rgba(255, 0, 0, .3); }", '<div class="top">overlay</div>', "", None),
    # A page that styles popovers and backdrops for its own dialogs, and has one.
    "popovers": ("[popover], :popover-open { border: 9px solid red !important;"
                 " padding: 3em !important; background: red !important; inset: 0 !important;"
                 " width: 50vw !important; }\n"
                 "::backdrop { background: rgba(0, 0, 0, .9) !important; }\n"
                 "dialog { width: 300px; }",
                 '<dialog id="dialog"><p>The page\'s own dialog</p>'
                 '<button id="close-dialog">Close</button></dialog>'
                 '<button id="open-dialog">Open the dialog</button>', "", None),
    "long": ("", "", f'data-launcher-text="{html.escape(LONG_TEXT)}"', None),
    "long-ar": ("", "", f'data-lang="ar" data-launcher-text="{html.escape(LONG_ARABIC)}"',
                None),
    "unknown": ("", "", "", "site_doesnotexist"),
}

# The command queue (docs/embedding.md), the page's events, violations of its policy, and its
# dialog's buttons: a file of its own (the policy allows no inline script).
APP_JS = """
window.LiveChat = window.LiveChat ||
  function () { (LiveChat.q = LiveChat.q || []).push(arguments); };
window.violations = [];
window.events = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.violations.push(e.violatedDirective + " " + e.blockedURI);
});
["open", "close", "unread"].forEach(function (name) {
  LiveChat('on', name, function (value) { window.events.push([name, value]); });
});
document.addEventListener("click", function (e) {
  var dialog = document.getElementById("dialog");
  if (e.target.id === "open-dialog") dialog.showModal();
  if (e.target.id === "close-dialog") dialog.close();
});
"""


def csp(chat: str) -> str:
    """Exactly what docs/embedding.md tells a site owner to allow, on top of nothing."""
    return (f"default-src 'none'; script-src 'self' {chat}; style-src 'self' {chat}; "
            f"frame-src {chat}")


def pages_app(chat: str, site_id: str) -> Starlette:
    async def page(request: Request) -> Response:
        variant = request.path_params["variant"]
        if variant not in VARIANTS:
            return Response(status_code=404)
        _, body, attributes, site = VARIANTS[variant]
        title = html.escape(request.query_params.get("title", "Home"))
        document = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<link rel="stylesheet" href="/css/{variant}.css">
<script src="/app.js"></script>
</head><body><h1>{html.escape(variant)}</h1><p><input id="q" aria-label="Search"></p>{body}
<script async src="{chat}/widget.js" data-site="{site or site_id}" {attributes}></script>
</body></html>"""
        return HTMLResponse(document, headers={"Content-Security-Policy": csp(chat),
                                               "Cache-Control": "no-store"})

    async def css(request: Request) -> Response:
        variant = request.path_params["variant"]
        return Response(VARIANTS.get(variant, ("",))[0], media_type="text/css")

    async def js(request: Request) -> Response:
        return Response(APP_JS, media_type="text/javascript")

    async def empty(request: Request) -> Response:
        return Response(status_code=204)

    return Starlette(routes=[Route("/app.js", js), Route("/favicon.ico", empty),
                             Route("/css/{variant}.css", css), Route("/{variant}", page)])


if __name__ == "__main__":
    chat_origin, site, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    uvicorn.run(pages_app(chat_origin, site), host="127.0.0.1", port=port, log_level="warning")
