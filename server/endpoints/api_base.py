"""The REST API's frame: one ``Operation`` per route (method, path, scope, parameters, body,
answer), from which both the routes and the OpenAPI document (server/openapi.py) are made, so
the two cannot disagree.

Every request: ``Authorization: Bearer lc.<id>.<secret>`` (server/store/api_tokens.py) → the
token's rate limit (``429`` + ``Retry-After``) → its scope (``403 forbidden``) → the body, checked
by the WebSocket protocol's own field rules (``400``) → the handler, which only ever sees the
token's sites. Refusals are ``{"error": code, "message": text}`` with the protocol's codes
(server/errors.py); see docs/api.md for the status of each.
"""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from server import protocol
from server.auth import origin_allowed
from server.bots import FirstResponder
from server.errors import ChatError, Code, Unavailable
from server.kb import MAX_QUERY
from server.limits import Buckets
from server.store import Agent
from server.store.api_reads import ApiReads
from server.store.api_tokens import ApiToken, ApiTokens
from server.store.privacy import Privacy
from server.store.webhooks import Webhooks

from . import bodies
from .context import AGENT_COOKIE, Context, context

#: Bodies of API requests: a message of the longest text, with room to spare.
MAX_BODY = 64 * 1024
DEFAULT_LIMIT = 50
MAX_LIMIT = 200

#: HTTP status of each protocol error code (the code itself is sent as it is, except that the
#: socket's ``bad_frame`` and ``bad_json`` are ``bad_request`` over HTTP).
STATUS: dict[str, int] = {
    Code.NOT_FOUND: 404, Code.ID_CONFLICT: 409, Code.ALREADY_CLAIMED: 409,
    Code.NOT_ASSIGNEE: 409, Code.RESOLVED: 409, Code.NOT_RESOLVED: 409,
    Code.ALREADY_RATED: 409, Code.ALREADY_OPEN: 409, Code.FORBIDDEN: 403,
    Code.RATE_LIMITED: 429, Code.TOO_LONG: 400, Code.TOO_MANY: 400, Code.BAD_TEXT: 400,
    Code.BAD_FRAME: 400, Code.BAD_JSON: 400, Code.UNKNOWN_TYPE: 400, Code.BLOCKED: 403,
    Code.IDENTITY_REQUIRED: 403, Code.BAD_IDENTITY: 403, Code.UNAVAILABLE: 503,
    Code.INTERNAL: 500,
}
_HTTP_CODE = {Code.BAD_FRAME: "bad_request", Code.BAD_JSON: "bad_request",
              Code.UNKNOWN_TYPE: "bad_request"}


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}


def not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", f"no such {what}")


def chosen_sites(call: Call) -> list[str]:
    """The caller's sites, or the one its ``site`` parameter names (another: ``404``)."""
    site = call.query.get("site")
    if site is None:
        return call.caller.site_ids
    if site not in call.caller.site_ids:
        raise not_found("site")
    return [site]


async def site_agent(call: Call, agent_id: str, site_id: str) -> Agent:
    """An active agent of ``site_id`` (admins work on every site): whom a change is done as."""
    agent = await call.ctx.store.agent(agent_id)
    if agent is None or not agent.active or site_id not in await call.ctx.store.agent_site_ids(
            agent):
        raise ApiError(404, "not_found", "no such agent for this site")
    return agent


@dataclass
class Api:
    """What the API keeps for the app's lifetime (on ``app.state.api``)."""

    tokens: ApiTokens
    reads: ApiReads
    buckets: Buckets
    webhooks: Webhooks
    bots: FirstResponder
    privacy: Privacy


@dataclass
class Caller:
    token: ApiToken
    #: The sites this token may touch: its own, or (installation-wide) every site.
    site_ids: list[str]


@dataclass
class Call:
    ctx: Context
    api: Api
    caller: Caller
    request: Request
    path: dict[str, str]
    query: dict[str, Any]
    body: dict[str, Any]


Handler = Callable[[Call], Awaitable[tuple[int, Any]]]


@dataclass(frozen=True)
class Param:
    name: str
    #: status, id, tag, seq, limit, cursor, query, date, tz, format
    kind: str
    description: str
    required: bool = False


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    handler: Handler
    scope: str
    summary: str
    #: The component schema of a success's body (server/openapi.py).
    answer: str
    status: int = 200
    params: tuple[Param, ...] = ()
    #: The body's fields, in the protocol's kinds (``?``: optional); None: no body.
    body: dict[str, str] | None = None
    #: Sends take an ``Idempotency-Key`` header.
    idempotent: bool = False
    #: The largest body taken (bytes; larger is ``413 too_large``).
    max_body: int = MAX_BODY
    #: Other successes: status → description (e.g. 200 for a send's duplicate).
    also: dict[int, str] = field(default_factory=dict)
    tag: str = "conversations"

    @property
    def operation_id(self) -> str:
        return self.handler.__name__.lstrip("_")


# --- values --------------------------------------------------------------------------------


def encode_cursor(*parts: Any) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(list(parts))).decode().rstrip("=")


def decode_cursor(cursor: str, shape: Sequence[type]) -> list[Any]:
    try:
        parts = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except ValueError:
        parts = None
    if (not isinstance(parts, list) or len(parts) != len(shape)
            or not all(type(p) is t for p, t in zip(parts, shape, strict=True))
            or any(isinstance(p, str) and "\x00" in p for p in parts)
            # (A time or a seq: one past SQLite's 64 bits was a 500, a negative one a page.)
            or any(type(p) is int and not 0 <= p < 2**63 for p in parts)):
        raise ApiError(400, "bad_request", "cursor is not one this API gave")
    return parts


_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_QUERY_KINDS = {"status", "id", "tag", "seq", "limit", "cursor", "query", "search", "date", "tz",
                "format", "report", "assignee", "lang", "publication"}
#: A cursor holds a page's last key in base64: an article's has its category and title, up to
#: 280 characters of up to 6 bytes in JSON.
MAX_CURSOR = 4096


def _query_value(param: Param, raw: str) -> Any:
    kind = param.kind
    if kind in ("seq", "limit"):
        if not (raw.isascii() and raw.isdigit()) or len(raw) > 16 or int(raw) >= 2**53:
            raise ApiError(400, "bad_request",
                           f"{param.name} must be an integer from 0 to 2^53 - 1")
        value = int(raw)
        if kind == "limit" and not 1 <= value <= MAX_LIMIT:
            raise ApiError(400, "bad_request", f"{param.name} must be between 1 and {MAX_LIMIT}")
        return value
    if kind == "cursor":
        if len(raw) > MAX_CURSOR:
            raise ApiError(400, "bad_request", "cursor is not one this API gave")
        return raw
    if kind == "date":
        if not _DATE_RE.fullmatch(raw):
            raise ApiError(400, "bad_request", f"{param.name} is a date, YYYY-MM-DD")
        return raw
    if kind == "format":
        if raw not in ("json", "csv"):
            raise ApiError(400, "bad_request", f"{param.name} is json or csv")
        return raw
    if kind == "report":
        if raw != "knowledge_base":
            raise ApiError(400, "bad_request", f"{param.name} is knowledge_base")
        return raw
    if kind == "assignee":
        return raw if raw == "none" else _checked(param.name, "id", raw)
    if kind == "search":  # a knowledge-base search: as long as the widget's (server/kb.py)
        return _checked(param.name, "text", raw, MAX_QUERY)
    return _checked(param.name, {"query": "name"}.get(kind, kind), raw)


def _checked(name: str, kind: str, raw: str, max_chars: int = 4000) -> Any:
    try:
        return protocol.check_fields({name: raw}, {name: kind}, max_chars)[name]
    except ChatError as exc:
        raise ApiError(400, "bad_request", exc.message) from None


def json_response(status: int, data: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json",
                    headers={"Cache-Control": "no-store", **(headers or {})})


def error_response(exc: ApiError) -> Response:
    return json_response(exc.status, {"error": exc.code, "message": exc.message}, exc.headers)


# --- the request ---------------------------------------------------------------------------


def api_state(request: Request) -> Api:
    api: Api = request.app.state.api
    return api


async def _session(ctx: Context, request: Request) -> ApiToken | None:
    """An admin signed in to the panel (its Manage page calls the API with the session cookie):
    acts as an installation token with every scope; changes must come from our own pages."""
    from .agent import agent_from_cookie  # (agent.py is the sockets' module: imported late)

    agent = await agent_from_cookie(ctx, request.cookies.get(AGENT_COOKIE))
    if agent is None or agent.role != "admin":
        return None
    if request.method not in ("GET", "HEAD") and not origin_allowed(
            request.headers.get("origin"), [ctx.own_origin(request)]):
        raise ApiError(403, "forbidden_origin", "origin not allowed")
    return ApiToken(f"agent:{agent.id}", None, agent.name, frozenset({"admin"}), agent.id, 0)


async def authenticate(ctx: Context, api: Api, request: Request) -> Caller:
    header = request.headers.get("authorization", "")
    if not header and AGENT_COOKIE in request.cookies:
        session = await _session(ctx, request)
        if session is not None:
            if not api.buckets.take(session.id):
                raise ApiError(429, "rate_limited", "too many requests; retry in a second",
                               {"Retry-After": str(max(1, math.ceil(1 / api.buckets.rate)))})
            return Caller(session, [site.id for site in await ctx.store.sites()])
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise ApiError(401, "unauthorized", "send Authorization: Bearer <token>",
                       {"WWW-Authenticate": 'Bearer realm="livechat"'})
    token = await api.tokens.authenticate(value.strip())
    if token is None:
        raise ApiError(401, "unauthorized", "this token is not valid (unknown or revoked)",
                       {"WWW-Authenticate": 'Bearer realm="livechat", error="invalid_token"'})
    if not api.buckets.take(token.id):
        wait = max(1, math.ceil(1 / api.buckets.rate))
        raise ApiError(429, "rate_limited",
                       f"too many requests for this token; retry after {wait} s",
                       {"Retry-After": str(wait)})
    try:
        await api.tokens.touch(token)
    except Unavailable:  # the last use goes unrecorded; the request itself may still be served
        pass
    if token.site_id is None:
        site_ids = [site.id for site in await ctx.store.sites()]
    else:
        site_ids = [token.site_id]
    return Caller(token, site_ids)


def endpoint(op: Operation, max_chars: Callable[[Context], int]) -> Callable[[Request],
                                                                            Awaitable[Response]]:
    async def handle(request: Request) -> Response:
        ctx = context(request)
        api = api_state(request)
        try:
            caller = await authenticate(ctx, api, request)
            if not caller.token.allows(op.scope):
                raise ApiError(403, "forbidden", f"this token lacks the {op.scope} scope")
            query: dict[str, Any] = {}
            known = {p.name for p in op.params}
            for name in request.query_params:
                if name not in known:
                    raise ApiError(400, "bad_request", f"unknown parameter {name[:32]!r}")
            for param in op.params:
                if len(request.query_params.getlist(param.name)) > 1:
                    raise ApiError(400, "bad_request", f"{param.name} is given more than once")
                raw = request.query_params.get(param.name)
                if raw == "":
                    raise ApiError(400, "bad_request", f"{param.name} is empty")
                if raw is None:
                    if param.required:
                        raise ApiError(400, "bad_request", f"{param.name} is required")
                    continue
                query[param.name] = _query_value(param, raw)
            body: dict[str, Any] = {}
            if op.body is not None or request.method != "GET":
                # (One that takes none takes nothing but {}: a field sent to it, thought used,
                # is refused, not ignored.)
                body = await bodies.json_object(request, op.max_body, empty=True, nul=True)
                body = protocol.check_fields(body, op.body or {}, max_chars(ctx))
            if op.idempotent:
                key = request.headers.get("idempotency-key")
                if key is not None:
                    body["idempotency_key"] = _checked("Idempotency-Key", "id", key)
            call = Call(ctx, api, caller, request, dict(request.path_params), query, body)
            status, data = await op.handler(call)
        except ApiError as exc:
            return error_response(exc)
        except bodies.BodyError as exc:
            return error_response(ApiError(exc.status, exc.code, exc.message))
        except ChatError as exc:
            return error_response(ApiError(STATUS.get(exc.code, 400),
                                           _HTTP_CODE.get(exc.code, exc.code.value), exc.message))
        if isinstance(data, Response):
            return data
        return json_response(status, data)

    handle.__name__ = op.operation_id
    return handle


async def fallback(request: Request) -> Response:
    """Any other ``/api/v1`` path or method: JSON, like every other answer of the API."""
    from .api_v1 import OPERATIONS  # (the table imports this module)

    path = request.url.path
    allowed = [op.method for op in OPERATIONS
               if re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", op.path), path)]
    if allowed:
        return error_response(ApiError(405, "method_not_allowed",
                                       f"{request.method} is not allowed here",
                                       {"Allow": ", ".join(sorted(allowed))}))
    return error_response(ApiError(404, "not_found", "no such endpoint"))

