"""``/api/admin/…``: sites, agents and teams, for admins only (checked here, on every request,
from the session cookie — never from what the page sends). Changes are JSON; every change must
come from this server's own pages (Origin), on top of the SameSite cookie.

An agent whose role, sites, name or active state changes has their open panels closed at once
(on every process, through the broker): deactivated with 4401 (their cookie no longer works),
otherwise with 4000, so that the panel reconnects and reads its new permissions and name. A
team created, changed or deleted is sent to the agents of its site (the ``teams`` frame): their
"My teams" and team menus follow at once; so are a site's colleagues, when an agent is invited,
renamed, deactivated or given other sites (the ``colleagues`` frame): transfer menus and "@"
pickers follow.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from server import protocol
from server.auth import AgentSession, TokenError, origin_allowed
from server.channels import agent_channel, site_channel
from server.errors import Close
from server.hashing import Busy
from server.parsing import valid_email
from server.store import Agent, Site
from server.store.directory import site_name
from server.store.models import NO_PASSWORD
from server.store.outbox import INVITE, RESET

from . import bodies
from .account import RESET_MAX_AGE, sign_in
from .agent import agent_from_cookie, colleague
from .context import AGENT_COOKIE, Context, context
from .email import email_agent

MAX_BODY = 16 * 1024
INVITE_MAX_AGE = 7 * 24 * 3600

Handler = Callable[[Context, Request, Agent], Awaitable[Response]]
log = logging.getLogger("livechat.admin")


def _json(data: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(data, status_code=status, headers={"Cache-Control": "no-store"})


def _error(status: int, code: str, message: str) -> JSONResponse:
    return _json({"error": code, "message": message}, status)


def admin_only(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        ctx = context(request)
        if request.method != "GET" and not origin_allowed(request.headers.get("origin"),
                                                          [ctx.own_origin(request)]):
            return _error(403, "forbidden_origin", "origin not allowed")
        agent = await agent_from_cookie(ctx, request.cookies.get(AGENT_COOKIE))
        if agent is None:
            return _error(401, "unauthorized", "log in first")
        if agent.role != "admin":
            return _error(403, "forbidden", "this is for admins")
        try:
            return await handler(ctx, request, agent)
        except bodies.BodyError as exc:
            return _error(exc.status, exc.code, exc.message)
        except ValueError as exc:
            return _error(400, "bad_request", str(exc))
    return endpoint


async def _body(request: Request) -> dict[str, Any]:
    return await bodies.json_object(request, MAX_BODY, empty=True)


def _get(data: dict[str, Any], name: str, kind: type, default: Any = None) -> Any:
    value = data.get(name, default)
    if kind is int and isinstance(value, bool):
        raise ValueError(f"{name} must be an int")
    if value is not None and not isinstance(value, kind):
        raise ValueError(f"{name} must be a {kind.__name__}")
    if isinstance(value, list) and not all(isinstance(v, str) for v in value):
        raise ValueError(f"{name} must be a list of strings")
    return value


def _site(site: Site) -> dict[str, Any]:
    return site.settings()


def _agent(agent: Agent, sites: list[str], teams: list[str]) -> dict[str, Any]:
    return agent.account(sites, teams)


async def _kick(ctx: Context, agent_id: str, code: Close) -> None:
    await ctx.broker.publish(agent_channel(agent_id), orjson.dumps({"close": int(code)}))


# --- sites ---------------------------------------------------------------------------------


async def _list_sites(ctx: Context, request: Request, admin: Agent) -> Response:
    return _json({"sites": [_site(s) for s in await ctx.store.sites()]})


async def _create_site(ctx: Context, request: Request, admin: Agent) -> Response:
    data = await _body(request)
    name = site_name(_get(data, "name", str, ""))  # (refused as the CLI and the store refuse)
    site = await ctx.store.create_site(name, [])
    site = await ctx.store.set_site_options(site.id,
                                            allowed_origins=_get(data, "allowed_origins", list))
    return _json({"site": _site(site)}, 201)


_PROFILE_FIELDS = {"greeting": str, "color": str, "logo": str, "hours": str, "tz": str,
                   "prechat": list, "offline": str, "typing_preview": bool, "theme": str,
                   "email_from": str, "email_transcript": bool}


async def _change_site(ctx: Context, request: Request, admin: Agent) -> Response:
    site_id = request.path_params["site_id"]
    if await ctx.store.site(site_id) is None:
        return _error(404, "not_found", "no such site")
    data = await _body(request)
    known = {"name", "allowed_origins", "auto_assign", "identity_mode", "identity_secret",
             *_PROFILE_FIELDS}
    if set(data) - known:
        raise ValueError(f"unknown field {sorted(set(data) - known)[0]!r}")
    secret_order = _get(data, "identity_secret", str)
    if secret_order not in (None, "new", "none"):
        raise ValueError("identity_secret is 'new' or 'none'")
    secret = {None: None, "none": "", "new": secrets.token_urlsafe(32)}[secret_order]
    site = await ctx.store.set_site_options(
        site_id, auto_assign=_get(data, "auto_assign", bool), identity_secret=secret,
        identity_mode=_get(data, "identity_mode", str), name=_get(data, "name", str),
        allowed_origins=_get(data, "allowed_origins", list))
    profile = {k: _get(data, k, kind) for k, kind in _PROFILE_FIELDS.items() if k in data}
    if profile:
        site = await ctx.store.set_site_profile(site_id, **profile)
    result: dict[str, Any] = {"site": _site(site)}
    if secret:
        result["identity_secret"] = secret  # shown once
    return _json(result)


# --- agents --------------------------------------------------------------------------------


async def _list_agents(ctx: Context, request: Request, admin: Agent) -> Response:
    sites = await ctx.store.agent_sites()
    teams = await ctx.store.teams()
    return _json({"agents": [
        _agent(a, sites.get(a.id, []), [t.id for t in teams if a.id in t.members])
        for a in await ctx.store.agents()]})


async def _invite(ctx: Context, request: Request, admin: Agent) -> Response:
    """A new agent, who sets their own password through the link (valid 7 days, once)."""
    data = await _body(request)
    email, name = _get(data, "email", str, ""), _get(data, "name", str, "")
    if not valid_email(email) or not 0 < len(name.strip()) <= 100:
        raise ValueError("an agent needs an email address and a name")
    role = _get(data, "role", str, "agent")
    if role not in ("admin", "agent"):
        raise ValueError("role is admin or agent")
    capacity = _get(data, "capacity", int)
    if capacity is not None and not 0 <= capacity <= 100:  # (before anything is written)
        raise ValueError("capacity is 0 to 100")
    agent = await ctx.store.create_agent(email, name.strip(), NO_PASSWORD, role,
                                         _get(data, "sites", list, []))
    if capacity is not None:
        agent = await ctx.store.update_agent(agent.id, capacity=capacity)
    token = ctx.tokens.invite_token(AgentSession(agent.id, agent.session_generation))
    link = f"{ctx.own_origin(request)}/agent#invite={token}"
    emailed = await email_agent(ctx, INVITE, agent, f"invite:{agent.id}")
    await _colleagues_changed(ctx, await ctx.store.agent_site_ids(agent))
    return _json({"agent": _agent(agent, _get(data, "sites", list, []), []),
                  "invite_url": link, "emailed": emailed}, 201)


async def _change_agent(ctx: Context, request: Request, admin: Agent) -> Response:
    agent_id = request.path_params["agent_id"]
    before = await ctx.store.agent(agent_id)
    if before is None:
        return _error(404, "not_found", "no such agent")
    data = await _body(request)
    known = {"name", "role", "sites", "capacity", "active"}
    if set(data) - known:
        raise ValueError(f"unknown field {sorted(set(data) - known)[0]!r}")
    active = _get(data, "active", bool)
    if agent_id == admin.id and (active is False or data.get("role") == "agent"):
        raise ValueError("you cannot deactivate or demote yourself")
    sites_before = await ctx.store.agent_site_ids(before)
    agent = await ctx.store.update_agent(
        agent_id, name=_get(data, "name", str), role=_get(data, "role", str),
        site_ids=_get(data, "sites", list), capacity=_get(data, "capacity", int), active=active)
    sites_after = await ctx.store.agent_site_ids(agent)
    if not agent.active and before.active:
        await _kick(ctx, agent_id, Close.UNAUTHORIZED)
    elif (agent.role, agent.name, set(sites_after)) != (before.role, before.name,
                                                        set(sites_before)):
        # Reconnect with the new permissions, or the new name their replies are signed with
        # (only then: the Manage page sends the role and the sites with a new capacity too,
        # and every panel of theirs reconnected).
        await _kick(ctx, agent_id, Close.RESTARTING)
    if {"name", "role", "sites", "active"} & set(data):
        await _colleagues_changed(ctx, sorted(set(sites_before) | set(sites_after)))
    sites = (await ctx.store.agent_sites()).get(agent_id, [])
    teams = [t.id for t in await ctx.store.teams() if agent_id in t.members]
    return _json({"agent": _agent(agent, sites, teams)})


async def _colleagues_changed(ctx: Context, site_ids: list[str]) -> None:
    """Tell the agents of each site (their panels, on every process) its colleagues as they are
    now: the active agents who work on it, admins included."""
    try:  # (the change is stored: a failure here must not answer it as failed)
        for site_id in site_ids:
            agents = await ctx.store.site_agents([site_id])
            await ctx.broker.publish(site_channel(site_id), protocol.encode({
                "type": "colleagues", "site_id": site_id,
                "agents": [colleague(a) for a in agents]}))
    except Exception as exc:  # a panel's next welcome has them
        log.warning("colleagues publish failed (%s)", type(exc).__name__)


async def accept_invite(request: Request) -> Response:
    """``POST /api/agent/accept`` {token, password}: the invited agent chooses a password and is
    logged in."""
    ctx = context(request)
    if not origin_allowed(request.headers.get("origin"), [ctx.own_origin(request)]):
        return _error(403, "forbidden_origin", "origin not allowed")
    try:
        data = await _body(request)
        token, password = _get(data, "token", str, ""), _get(data, "password", str, "")
    except bodies.BodyError as exc:
        return _error(exc.status, exc.code, exc.message)
    except ValueError as exc:
        return _error(400, "bad_request", str(exc))
    if len(password) < 8:
        return _error(400, "bad_request", "choose a password of at least 8 characters")
    try:
        invite = ctx.tokens.invite(token, INVITE_MAX_AGE)
    except TokenError:
        return _error(401, "bad_invite", "this link is not valid (or older than 7 days)")
    try:
        password_hash = await ctx.hasher.hash(password)
    except Busy:
        return _error(503, "busy", "too many sign-ins at once; try again in a second")
    try:
        agent = await ctx.store.set_password(invite.agent_id, invite.generation, password_hash)
    except ValueError as exc:
        return _error(401, "bad_invite", str(exc))
    return await sign_in(ctx, agent, _json({"agent": agent.public()}))


async def _reset_link(ctx: Context, request: Request, admin: Agent) -> Response:
    """A link for the agent to choose a new password (good once, for a day): the admin hands it
    over, and with email on it is also emailed; using it ends every session of the agent."""
    agent = await ctx.store.agent(request.path_params["agent_id"])
    if agent is None:
        return _error(404, "not_found", "no such agent")
    token = ctx.tokens.reset_token(AgentSession(agent.id, agent.session_generation))
    emailed = await email_agent(ctx, RESET, agent,
                                f"reset:{agent.id}:admin:{int(ctx.clock() // 60)}")
    return _json({"reset_url": f"{ctx.own_origin(request)}/agent/reset#token={token}",
                  "expires_in": RESET_MAX_AGE, "emailed": emailed})


# --- teams ---------------------------------------------------------------------------------


async def _list_teams(ctx: Context, request: Request, admin: Agent) -> Response:
    return _json({"teams": [t.public() for t in await ctx.store.teams()]})


async def _teams_changed(ctx: Context, site_id: str) -> None:
    """Tell the agents of the site (their panels, on every process) its teams as they are now."""
    try:  # (the change is stored: a failure here must not answer it as failed)
        teams = await ctx.store.teams([site_id])
        await ctx.broker.publish(site_channel(site_id), protocol.encode({
            "type": "teams", "site_id": site_id, "teams": [t.public() for t in teams]}))
    except Exception as exc:  # a panel's next welcome has the teams
        log.warning("teams publish failed (%s)", type(exc).__name__)


async def _save_team(ctx: Context, request: Request, admin: Agent) -> Response:
    team_id = request.path_params.get("team_id")
    if team_id is not None and team_id not in {t.id for t in await ctx.store.teams()}:
        return _error(404, "not_found", "no such team")
    data = await _body(request)
    team = await ctx.store.save_team(team_id, _get(data, "name", str, ""),
                                     _get(data, "members", list, []), _get(data, "site_id", str))
    await _teams_changed(ctx, team.site_id)
    return _json({"team": team.public()}, 200 if team_id else 201)


async def _delete_team(ctx: Context, request: Request, admin: Agent) -> Response:
    team_id = request.path_params["team_id"]
    team = next((t for t in await ctx.store.teams() if t.id == team_id), None)
    try:
        await ctx.store.delete_team(team_id)
    except ValueError:
        return _error(404, "not_found", "no such team")
    if team is not None:
        await _teams_changed(ctx, team.site_id)
    return _json({"ok": True})


list_sites = admin_only(_list_sites)
create_site = admin_only(_create_site)
change_site = admin_only(_change_site)
list_agents = admin_only(_list_agents)
invite = admin_only(_invite)
change_agent = admin_only(_change_agent)
reset_link = admin_only(_reset_link)
list_teams = admin_only(_list_teams)
save_team = admin_only(_save_team)
delete_team = admin_only(_delete_team)
