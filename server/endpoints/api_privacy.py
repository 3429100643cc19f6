"""Data rights over the REST API: a visitor's export (a zip), erasure, the record of erasures,
and each site's retention of resolved conversations (docs/api.md#data-rights)."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from server import privacy
from server.parsing import NULLABLE

from .api_base import ApiError, Call, Operation, not_found


async def export_visitor(call: Call) -> tuple[int, Any]:
    visitor = await call.ctx.store.visitor(call.path["visitor_id"])
    if visitor is None or visitor.site_id not in call.caller.site_ids:
        raise not_found("visitor")
    held = await call.api.privacy.held(visitor.id)
    if held is None:
        raise not_found("visitor")
    data = await privacy.export_zip(held, call.ctx.files, call.ctx.clock())
    return 200, Response(data, media_type="application/zip", headers={
        "Content-Disposition": f'attachment; filename="visitor-{visitor.id}.zip"',
        "Cache-Control": "no-store"})


async def erase_visitor(call: Call) -> tuple[int, Any]:
    try:
        erased = await privacy.erase(call.api.privacy, call.ctx.files,
                                     call.caller.site_ids, call.path["visitor_id"],
                                     _who(call), call.ctx.chat)
    except LookupError:
        raise not_found("visitor") from None
    return 200, {"erased": erased.public()}


def _who(call: Call) -> str:
    """Who erased: the panel's admin (``agent:<id>``) or a token (``token <id>``)."""
    token_id = call.caller.token.id
    return token_id if token_id.startswith("agent:") else f"token {token_id}"


async def list_erasures(call: Call) -> tuple[int, Any]:
    return 200, {"data": await call.api.privacy.erasures(call.caller.site_ids)}


def _site(call: Call) -> str:
    site_id = call.path["site_id"]
    if site_id not in call.caller.site_ids:
        raise not_found("site")
    return site_id


async def get_retention(call: Call) -> tuple[int, Any]:
    site_id = _site(call)
    return 200, {"site_id": site_id,
                 "days": (await call.api.privacy.retention()).get(site_id)}


async def set_retention(call: Call) -> tuple[int, Any]:
    site_id = _site(call)
    days = call.body["days"]
    if days is not None and not 1 <= days <= 36500:
        raise ApiError(400, "bad_request", "days is 1 to 36500, or null (keep for ever)")
    await call.api.privacy.set_retention(site_id, days)
    return 200, {"site_id": site_id, "days": days}


OPERATIONS: tuple[Operation, ...] = (
    Operation("GET", "/api/v1/visitors/{visitor_id}/export", export_visitor, "visitors:read",
              "Export everything held about a visitor (a zip: visitor.json and the files)",
              "Export", tag="data rights"),
    Operation("DELETE", "/api/v1/visitors/{visitor_id}", erase_visitor, "visitors:write",
              "Erase a visitor", "Erasure", tag="data rights"),
    Operation("GET", "/api/v1/erasures", list_erasures, "visitors:read",
              "The record of erasures (never what was erased)", "ErasureList",
              tag="data rights"),
    Operation("GET", "/api/v1/sites/{site_id}/retention", get_retention, "visitors:read",
              "How long the site keeps resolved conversations", "Retention", tag="data rights"),
    Operation("PUT", "/api/v1/sites/{site_id}/retention", set_retention, "visitors:write",
              "Keep resolved conversations N days (null: for ever)", "Retention",
              body={"days": "seq" + NULLABLE}, tag="data rights"),
)
