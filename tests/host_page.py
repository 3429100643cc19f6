"""A hostile customer page for the browser tests: a strict Content-Security-Policy (exactly the
lines docs/embedding.md tells site owners to add), CSS that tries to restyle everything, and the
LiveChat command queue used before the loader has arrived.

Run as ``python -m tests.host_page CHAT_ORIGIN SITE_ID PORT``.
"""

from __future__ import annotations

import sys

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

HOSTILE_CSS = """
* { font-family: "Comic Sans MS", cursive !important; font-size: 40px !important;
    color: #f0f !important; box-sizing: content-box !important; }
div, button, iframe, span { display: block !important; position: static !important;
    width: 10px !important; height: 10px !important; background: #f00 !important;
    border: 9px dashed lime !important; opacity: .2 !important;
    transform: rotate(9deg) !important; }
[data-livechat] { display: none !important; }
"""

# The queue a site owner may use before widget.js has loaded (docs/embedding.md), in a file of
# its own: the CSP allows no inline script.
APP_JS = """
window.LiveChat = window.LiveChat ||
  function () { (LiveChat.q = LiveChat.q || []).push(arguments); };
window.violations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.violations.push(e.violatedDirective + " " + e.blockedURI);
});
LiveChat('on', 'open', function () { document.body.setAttribute('data-chat-opened', 'yes'); });
LiveChat('set', { attributes: { plan: 'pro', seats: 12 } });
LiveChat('open');
"""


def csp(chat: str) -> str:
    return (f"default-src 'self'; script-src 'self' {chat}; style-src 'self' {chat}; "
            f"frame-src {chat}; img-src 'self'; connect-src 'self'; object-src 'none'; "
            "base-uri 'none'")


def host_app(chat: str, site_id: str) -> Starlette:
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Hostile shop</title>
<link rel="stylesheet" href="/hostile.css">
<script src="/app.js"></script>
</head><body><h1>A page that is hard on embeds</h1>
<script async src="{chat}/widget.js" data-site="{site_id}" data-position="left"
        data-color="#ffcc00" data-launcher-text="Chat with us"></script>
</body></html>"""

    async def index(request: Request) -> Response:
        return HTMLResponse(page, headers={"Content-Security-Policy": csp(chat)})

    async def css(request: Request) -> Response:
        return Response(HOSTILE_CSS, media_type="text/css")

    async def js(request: Request) -> Response:
        return Response(APP_JS, media_type="text/javascript")

    async def favicon(request: Request) -> Response:
        return Response(status_code=204)

    return Starlette(routes=[Route("/", index), Route("/hostile.css", css),
                             Route("/app.js", js), Route("/favicon.ico", favicon)])


if __name__ == "__main__":
    chat_origin, site, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    uvicorn.run(host_app(chat_origin, site), host="127.0.0.1", port=port, log_level="warning")
