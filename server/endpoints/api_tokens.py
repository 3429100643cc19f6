"""``/api/v1/tokens``: API tokens, managed by an installation token with ``admin`` or by an
admin on the panel's Manage page (signed in; server/endpoints/api_base.py)."""

from __future__ import annotations

from typing import Any

from .api_base import ApiError, Call, Operation, Param, not_found


async def list_tokens(call: Call) -> tuple[int, Any]:
    site = call.query.get("site")
    if site and site not in call.caller.site_ids:
        raise not_found("site")
    found = await call.api.tokens.list([site] if site else None)
    return 200, {"data": [t.public() for t in found]}


async def create_token(call: Call) -> tuple[int, Any]:
    body = call.body
    scopes = body["scopes"]
    if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
        raise ApiError(400, "bad_request", "scopes is a list of scope names")
    site_id = body.get("site_id")
    if site_id is not None and site_id not in call.caller.site_ids:
        raise not_found("site")
    # Who made it: the admin signed in to the panel, or the token the request came with (it
    # recorded nobody: a black-box tester).
    caller = call.caller.token
    maker = caller.created_by if caller.id.startswith("agent:") else f"token {caller.id}"
    try:
        made, secret = await call.api.tokens.create(site_id, body["name"], scopes, maker)
    except ValueError as exc:
        raise ApiError(400, "bad_request", str(exc)) from None
    return 201, {"token": made.public(), "secret": secret}


async def revoke_token(call: Call) -> tuple[int, Any]:
    token_id = call.path["token_id"]
    if await call.api.tokens.get(token_id) is None:
        raise not_found("token")
    return 200, {"token": (await call.api.tokens.revoke(token_id)).public()}


OPERATIONS: tuple[Operation, ...] = (
    Operation("GET", "/api/v1/tokens", list_tokens, "admin",
              "List API tokens (never their secrets)", "TokenList",
              params=(Param("site", "id", "only this site's"),), tag="admin"),
    Operation("POST", "/api/v1/tokens", create_token, "admin",
              "Make an API token (its secret is shown once)", "TokenCreated", 201,
              body={"name": "name", "scopes": "scopes", "site_id": "id?"}, tag="admin"),
    Operation("DELETE", "/api/v1/tokens/{token_id}", revoke_token, "admin",
              "Revoke an API token, at once", "TokenResult", tag="admin"),
)
