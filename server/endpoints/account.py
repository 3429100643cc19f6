"""``/api/agent/…``: signing in and out, the signed-in agent, changing one's password, and
resetting it with a link an admin made.

A session is a row in the store named by the signed, HttpOnly, SameSite=Strict cookie (with the
agent's session generation, which a password change or a deactivation moves on). Signing out
deletes the row and closes that session's sockets; signing out everywhere deletes them all.
Password guessing is slowed per account and per client address (server/logins.py), and every
password is hashed in the bounded pool of server/hashing.py. Changes must come from this
server's own pages (Origin), on top of the SameSite cookie.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from server.auth import DUMMY_HASH, AgentSession, TokenError, origin_allowed
from server.channels import agent_channel, close_order, session_channel
from server.errors import Close
from server.hashing import Busy
from server.store import Agent

from . import bodies
from .agent import agent_session_from_cookie
from .context import AGENT_COOKIE, Context, client_ip, context

#: A password-reset link is good for a day, once.
RESET_MAX_AGE = 24 * 3600
#: Password checks one client address may have waiting for the hashing pool at once: one
#: address cannot fill the queue ahead of everyone else's sign-in.
CHECKS_PER_ADDRESS = 2
MIN_PASSWORD = 8


def error(status: int, code: str, message: str,
          headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": code, "message": message}, status_code=status,
                        headers={"Cache-Control": "no-store", **(headers or {})})


def _same_origin(ctx: Context, request: Request) -> bool:
    """State-changing requests must come from our own pages (CSRF), on top of SameSite."""
    return origin_allowed(request.headers.get("origin"), [ctx.own_origin(request)])


async def sign_in(ctx: Context, agent: Agent, response: Response) -> Response:
    """Open a session for ``agent`` and set its cookie on ``response``."""
    max_age = ctx.settings.agent_session_max_age
    session_id = await ctx.store.create_session(agent.id, max_age)
    response.set_cookie(
        AGENT_COOKIE, ctx.tokens.agent_token(
            AgentSession(agent.id, agent.session_generation, session_id)),
        max_age=max_age, httponly=True, samesite="strict", secure=ctx.settings.cookie_secure,
        path="/")
    return response


def _too_many(wait: int) -> JSONResponse:
    return error(429, "too_many_attempts", f"too many attempts; try again in {wait} s",
                 {"Retry-After": str(wait)})


def _busy() -> JSONResponse:
    return error(503, "busy", "too many sign-ins at once; try again in a second",
                 {"Retry-After": "1"})


async def check_password(ctx: Context, request: Request, email: str, password: str,
                         agent: Agent | None) -> Response | bool:
    """Whether ``password`` is ``agent``'s (None: no such account, same timing), or the 429/503
    to answer instead. Failures count against the account and the client's address."""
    account, address = email.strip().lower(), client_ip(request)
    wait = max(ctx.account_backoff.wait(account), ctx.ip_backoff.wait(address))
    if wait:
        return _too_many(wait)
    inflight = ctx.login_checks
    if inflight.get(address, 0) >= CHECKS_PER_ADDRESS:
        return _too_many(1)
    # The hash is checked even for an unknown email, so that timing does not reveal which exist.
    # (An invited agent who has not chosen a password yet has no scrypt hash: same timing.)
    stored = agent.password_hash if agent and agent.password_hash.startswith("scrypt$") else None
    inflight[address] = inflight.get(address, 0) + 1
    try:
        valid = await ctx.hasher.verify(password, stored or DUMMY_HASH)
    except Busy:
        return _busy()
    finally:
        inflight[address] -= 1
        if not inflight[address]:
            del inflight[address]
    if valid and stored is not None:
        ctx.account_backoff.succeeded(account)
        return True
    ctx.account_backoff.failed(account)
    ctx.ip_backoff.failed(address)
    return False


async def login(request: Request) -> Response:
    ctx = context(request)
    if not _same_origin(ctx, request):
        return error(403, "forbidden_origin", "origin not allowed")
    try:
        data = await bodies.json_object(request)
    except bodies.BodyError as exc:
        return error(exc.status, exc.code, exc.message)
    email, password = data.get("email"), data.get("password")
    if not isinstance(email, str) or not isinstance(password, str):
        return error(400, "bad_request", "send JSON with email and password")
    agent = await ctx.store.agent_by_email(email)
    checked = await check_password(ctx, request, email, password, agent)
    if isinstance(checked, Response):
        return checked
    if agent is None or not checked or not agent.active:
        return error(401, "bad_credentials", "wrong email or password")
    response = JSONResponse({"agent": agent.public()}, headers={"Cache-Control": "no-store"})
    return await sign_in(ctx, agent, response)


async def logout(request: Request) -> Response:
    """``{"everywhere": true}`` signs out every session of the agent, else this one."""
    ctx = context(request)
    if not _same_origin(ctx, request):
        return error(403, "forbidden_origin", "origin not allowed")
    try:
        data = await bodies.json_object(request, empty=True)
    except bodies.BodyError as exc:
        return error(exc.status, exc.code, exc.message)
    signed_in = await agent_session_from_cookie(ctx, request.cookies.get(AGENT_COOKIE))
    if signed_in is not None:
        agent, session_id = signed_in
        if data.get("everywhere") is True:
            await ctx.store.end_sessions(agent.id)
            await ctx.broker.publish(agent_channel(agent.id), close_order(Close.UNAUTHORIZED))
        else:
            await ctx.store.end_session(session_id)
            await ctx.broker.publish(session_channel(session_id),
                                     close_order(Close.UNAUTHORIZED))
    response = JSONResponse({"ok": True}, headers={"Cache-Control": "no-store"})
    response.delete_cookie(AGENT_COOKIE, path="/", httponly=True, samesite="strict",
                           secure=ctx.settings.cookie_secure)
    return response


async def me(request: Request) -> Response:
    ctx = context(request)
    signed_in = await agent_session_from_cookie(ctx, request.cookies.get(AGENT_COOKIE))
    if signed_in is None:
        return error(401, "unauthorized", "log in first")
    return JSONResponse({"agent": signed_in[0].public()}, headers={"Cache-Control": "no-store"})


async def change_password(request: Request) -> Response:
    """``{"current", "password"}``: every other session ends (their sockets close with 4401);
    this browser gets a new session, and its sockets reconnect (4000)."""
    ctx = context(request)
    if not _same_origin(ctx, request):
        return error(403, "forbidden_origin", "origin not allowed")
    signed_in = await agent_session_from_cookie(ctx, request.cookies.get(AGENT_COOKIE))
    if signed_in is None:
        return error(401, "unauthorized", "log in first")
    agent, session_id = signed_in
    try:
        data = await bodies.json_object(request)
    except bodies.BodyError as exc:
        return error(exc.status, exc.code, exc.message)
    current, new = data.get("current"), data.get("password")
    if not isinstance(current, str) or not isinstance(new, str):
        return error(400, "bad_request", "send JSON with current and password")
    if not MIN_PASSWORD <= len(new) <= 1024:
        return error(400, "bad_request", f"choose a password of at least {MIN_PASSWORD} characters")
    checked = await check_password(ctx, request, agent.email, current, agent)
    if isinstance(checked, Response):
        return checked
    if not checked:
        return error(403, "bad_credentials", "the current password is wrong")
    try:
        hashed = await ctx.hasher.hash(new)
    except Busy:
        return _busy()
    ended = await ctx.store.change_password(agent.id, hashed)
    for ended_id in ended:
        code = Close.RESTARTING if ended_id == session_id else Close.UNAUTHORIZED
        await ctx.broker.publish(session_channel(ended_id), close_order(code))
    fresh = await ctx.store.agent(agent.id)
    assert fresh is not None
    response = JSONResponse({"agent": fresh.public()}, headers={"Cache-Control": "no-store"})
    return await sign_in(ctx, fresh, response)


async def reset_password(request: Request) -> Response:
    """``POST /api/agent/reset`` {token, password}: the link an admin made (good once, for a
    day) sets a new password, ends every session and signs this browser in."""
    ctx = context(request)
    if not _same_origin(ctx, request):
        return error(403, "forbidden_origin", "origin not allowed")
    try:
        data = await bodies.json_object(request)
    except bodies.BodyError as exc:
        return error(exc.status, exc.code, exc.message)
    token, password = data.get("token"), data.get("password")
    if not isinstance(token, str) or not isinstance(password, str):
        return error(400, "bad_request", "send JSON with token and password")
    if not MIN_PASSWORD <= len(password) <= 1024:
        return error(400, "bad_request", f"choose a password of at least {MIN_PASSWORD} characters")
    try:
        link = ctx.tokens.reset(token, RESET_MAX_AGE)
    except TokenError:
        return error(401, "bad_link", "this link is not valid (or older than a day)")
    try:
        hashed = await ctx.hasher.hash(password)
    except Busy:
        return _busy()
    try:
        agent = await ctx.store.set_password(link.agent_id, link.generation, hashed)
    except ValueError:
        return error(401, "bad_link", "this link was used already, or the account is inactive")
    await ctx.broker.publish(agent_channel(agent.id), close_order(Close.UNAUTHORIZED))
    response = JSONResponse({"agent": agent.public()}, headers={"Cache-Control": "no-store"})
    return await sign_in(ctx, agent, response)
