"""Email over HTTP: the unsubscribe page and its one-click POST (RFC 8058), and the door for
providers that post inbound mail (docs/email.md)."""

from __future__ import annotations

import hashlib
import hmac
import html
from urllib.parse import parse_qsl

from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from server.auth import VisitorIdentity, origin_allowed
from server.errors import ChatError, Code
from server.mail import addresses, inbound
from server.mail.words import RTL, words
from server.store import Agent
from server.store.outbox import AGENT_PREFS, RESET

from . import bodies
from .context import Context, context

_PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                               "form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
}
#: A signed inbound post must be this recent (seconds), either way.
SIGNATURE_WINDOW = 300


async def email_transcript(ctx: Context, conversation_id: str) -> None:
    """The ``transcript`` frame of either client: the conversation emailed to the visitor, or
    ``no_email``."""
    if ctx.mail is None or not ctx.mail.on or not await ctx.mail.outbox.request_transcript(
            conversation_id):
        raise ChatError(Code.NO_EMAIL, "email is off, or the visitor left no address")


async def email_agent(ctx: Context, kind: str, agent: Agent, dedupe: str) -> bool:
    """An invitation or password-reset email to ``agent``, when email is on: True when queued."""
    if ctx.mail is None or not ctx.mail.on or not agent.active:
        return False
    return await ctx.mail.outbox.agent_email(kind, agent.id, agent.email, dedupe)


async def forgot_password(request: Request) -> Response:
    """``POST /api/agent/forgot`` {email}: a password-reset link by email. The answer is the
    same whether or not the address is an agent's (202), so that it tells nobody who works
    here; one email per account per 15 minutes at most."""
    ctx = context(request)
    if not origin_allowed(request.headers.get("origin"), [ctx.own_origin(request)]):
        return _error(403, "forbidden_origin", "origin not allowed")
    if ctx.mail is None or not ctx.mail.on:
        return _error(404, "email_off", "password resets by email are off: ask an admin")
    try:
        data = await bodies.json_object(request)
    except bodies.BodyError as exc:
        return _error(exc.status, exc.code, exc.message)
    email = data.get("email")
    if not isinstance(email, str) or "@" not in email or len(email) > 254:
        return _error(400, "bad_request", "send JSON with your email address")
    agent = await ctx.store.agent_by_email(email)
    if agent is not None:
        await email_agent(ctx, RESET, agent, f"reset:{agent.id}:self:{int(ctx.clock() // 900)}")
    return JSONResponse({"status": "sent if the address is an agent's"}, status_code=202,
                        headers={"Cache-Control": "no-store"})


async def email_prefs(request: Request) -> Response:
    """``GET /api/agent/email-prefs`` → {assigned, digest, mentioned}; ``POST`` any of them
    (booleans) changes them: the signed-in agent's own choices of emails."""
    from .agent import agent_from_cookie  # (agent.py imports this module)
    from .context import AGENT_COOKIE

    ctx = context(request)
    agent = await agent_from_cookie(ctx, request.cookies.get(AGENT_COOKIE))
    if agent is None or ctx.mail is None:
        return _error(401, "unauthorized", "sign in first")
    if request.method == "GET":
        return JSONResponse(await ctx.mail.outbox.prefs(agent.id),
                            headers={"Cache-Control": "no-store"})
    if not origin_allowed(request.headers.get("origin"), [ctx.own_origin(request)]):
        return _error(403, "forbidden_origin", "origin not allowed")
    try:
        data = await bodies.json_object(request)
    except bodies.BodyError as exc:
        return _error(exc.status, exc.code, exc.message)
    if set(data) - set(AGENT_PREFS.values()) or not all(
            isinstance(v, bool) for v in data.values()):
        return _error(400, "bad_request",
                      "send JSON with assigned, digest and/or mentioned, true or false")
    prefs = await ctx.mail.outbox.set_prefs(agent.id, data)
    return JSONResponse(prefs, headers={"Cache-Control": "no-store"})


def _page(lang: str, title: str, text: str, form: str = "", status: int = 200) -> HTMLResponse:
    direction = "rtl" if lang in RTL else "ltr"
    body = (f'<!doctype html><html lang="{lang}" dir="{direction}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width"><title>{html.escape(title)}'
            f'</title></head><body style="font-family:system-ui,sans-serif;max-width:32em;'
            f'margin:3em auto;padding:0 1em"><h1>{html.escape(title)}</h1>'
            f'<p id="text">{html.escape(text)}</p>{form}</body></html>')
    return HTMLResponse(body, status_code=status, headers=_PAGE_HEADERS)


async def unsubscribe(request: Request) -> Response:
    """GET: a page that asks (link scanners open links; they must not unsubscribe anyone).
    POST: unsubscribe (the page's button, or a mail client's one-click ``List-Unsubscribe``)."""
    ctx = context(request)
    token = request.query_params.get("t", "")
    try:
        site_id, address, lang = addresses.read_unsubscribe(ctx.settings.secret_keys, token)
    except addresses.Refused:
        w = words(None)
        return _page("en", w["unsub_title"], w["unsub_bad"], status=400)
    w = words(lang)
    site = await ctx.store.site(site_id)
    name = site.name if site else ""
    if request.method == "POST":
        if ctx.mail is not None:
            await ctx.mail.outbox.unsubscribe(site_id, address)
        return _page(lang, w["unsub_title"], w["unsub_done"].format(address=address, site=name))
    form = (f'<form method="post" action="?t={html.escape(token)}"><button type="submit" '
            f'name="List-Unsubscribe" value="One-Click">{html.escape(w["unsub_button"])}'
            f'</button></form>')
    return _page(lang, w["unsub_title"], w["unsub_question"].format(address=address, site=name),
                 form)


async def _form(request: Request, limit: int = 8192) -> dict[str, str] | None:
    """A small urlencoded form (what our pages post), or None when it is not one."""
    body = b""
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                return None
    except ClientDisconnect:
        return None
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=8)
    except (UnicodeDecodeError, ValueError):
        return None
    return dict(pairs)


async def rate(request: Request) -> Response:
    """``/email/rate?t=…&score=N``, the links of the rating email. GET: the choice, with a
    comment box (link scanners open links; they rate nothing). POST (form: score, comment): the
    rating, as if given in the widget (a ``rated`` event; reports count it)."""
    ctx = context(request)
    token = request.query_params.get("t", "")
    try:
        conversation_id, visitor_id, lang = addresses.read_rating(ctx.settings.secret_keys,
                                                                  token)
    except addresses.Refused:
        w = words(None)
        return _page("en", w["rating_title"], w["rating_bad"], status=400)
    w = words(lang)
    conversation = await ctx.store.conversation(conversation_id)
    if conversation is None or conversation.visitor_id != visitor_id:
        return _page(lang, w["rating_title"], w["rating_bad"], status=400)
    if request.method == "POST":
        form = await _form(request)
        if form is None:
            return _page(lang, w["rating_title"], w["rating_bad"], status=400)
        raw_score, comment = form.get("score"), form.get("comment")
        if not isinstance(raw_score, str) or raw_score not in ("1", "2", "3", "4", "5"):
            return _page(lang, w["rating_title"], w["rating_bad"], status=400)
        text = comment.strip()[:1000] if isinstance(comment, str) else ""
        try:
            await ctx.chat.rate(VisitorIdentity(conversation.site_id, visitor_id),
                                conversation_id, int(raw_score), text or None)
        except ChatError as exc:
            message = w["rating_already"] if exc.code == Code.ALREADY_RATED else w["rating_bad"]
            return _page(lang, w["rating_title"], message, status=409)
        return _page(lang, w["rating_title"], w["rating_thanks"].format(n=raw_score))
    if conversation.rating is not None:
        return _page(lang, w["rating_title"], w["rating_already"])
    chosen = request.query_params.get("score", "")
    choices = "".join(
        f'<label style="display:block;margin:4px 0"><input type="radio" name="score" '
        f'value="{n}"{" checked" if str(n) == chosen else ""} required> {"★" * n} '
        f'{html.escape(w["stars"].format(n=n))}</label>' for n in range(1, 6))
    form_html = (f'<form method="post" action="?t={html.escape(token)}">{choices}'
                 f'<p><label>{html.escape(w["rating_comment"])}<br><textarea name="comment" '
                 f'rows="3" cols="40" maxlength="1000"></textarea></label></p>'
                 f'<button type="submit">{html.escape(w["rating_send"])}</button></form>')
    return _page(lang, w["rating_title"], "", form_html)


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": code, "message": message}, status_code=status,
                        headers={"Cache-Control": "no-store"})


async def receive(request: Request) -> Response:
    """``POST /api/email/inbound``: one email, raw (RFC 5322), signed with
    ``LIVECHAT_EMAIL_INBOUND_SECRET``: ``X-Livechat-Timestamp`` (Unix seconds) and
    ``X-Livechat-Signature`` (hex HMAC-SHA256 of ``"<timestamp>." + body``). ``?to=`` may name
    the envelope recipient."""
    ctx = context(request)
    secret = ctx.settings.email_inbound_secret
    if not secret or ctx.mail is None:
        return _error(404, "not_found", "inbound email over HTTP is off")
    length = request.headers.get("content-length")
    if length is None or not length.isdigit():
        return _error(411, "length_required", "send the email with a Content-Length")
    if int(length) > inbound.MAX_BYTES:
        return _error(413, "too_large", f"at most {inbound.MAX_BYTES} bytes")
    stamp = request.headers.get("x-livechat-timestamp", "")
    signature = request.headers.get("x-livechat-signature", "")
    try:
        raw = await request.body()
    except ClientDisconnect:
        return Response(status_code=400)
    expected = hmac.new(secret.encode(), stamp.encode() + b"." + raw, hashlib.sha256).hexdigest()
    if not stamp.isdigit() or abs(int(stamp) - ctx.clock()) > SIGNATURE_WINDOW or (
            not hmac.compare_digest(expected, signature.lower())):
        return _error(401, "bad_signature", "the signature is missing, wrong or too old")
    try:
        accepted = await ctx.mail.accept(raw, "http", request.query_params.get("to") or None)
    except addresses.Refused:
        return _error(422, "refused", "not a reply address of ours, forged, expired, or not "
                      "from the conversation's visitor")
    except inbound.Unreadable as exc:
        return _error(422, "unreadable", str(exc))
    return JSONResponse({"status": "queued" if accepted.queued else "duplicate"},
                        status_code=202, headers={"Cache-Control": "no-store"})
