"""The demo "customer site": a page on its own origin with the embed snippet pasted in."""

from __future__ import annotations

from html import escape

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Acme Outdoor — demo shop</title>
<style>
  body {{ font: 16px/1.5 Georgia, serif; margin: 0; color: #222; background: #faf7f2; }}
  header {{ background: #2d4a3e; color: #fff; padding: 24px 40px; }}
  main {{ max-width: 760px; margin: 40px auto; padding: 0 20px; }}
  .card {{ background: #fff; border: 1px solid #e5dfd3; border-radius: 8px; padding: 20px;
           margin-bottom: 16px; }}
  code {{ background: #eee; padding: 2px 4px; overflow-wrap: anywhere; }}
</style>
</head>
<body>
<header><h1>Acme Outdoor</h1><p>Tents, boots and everything in between.</p></header>
<main>
  <div class="card"><h2>Trail Runner 3</h2><p>Light, grippy, waterproof. 129 €.</p></div>
  <div class="card"><h2>Summit Tent 2P</h2><p>Two people, 1.9 kg, four seasons. 349 €.</p></div>
  <div class="card">
    <p>This page stands for a customer's website: it is served from its own origin and
    embeds the chat with one pasted tag:</p>
    <p><code>{snippet_text}</code></p>
  </div>
</main>
{snippet}
</body>
</html>
"""


def demo_app(snippet: str) -> Starlette:
    html = PAGE.format(snippet=snippet, snippet_text=escape(snippet))

    async def page(request: Request) -> HTMLResponse:
        return HTMLResponse(html)

    async def favicon(request: Request) -> Response:
        return Response(status_code=204)

    return Starlette(routes=[Route("/", page), Route("/favicon.ico", favicon)])
