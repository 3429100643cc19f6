"""``GET /api/reports``: support metrics for admins, as JSON (the panel's charts) or CSV.

Parameters: ``from`` and ``to`` (YYYY-MM-DD, both included; default: the last 7 days), ``tz``
(an IANA zone for the days; default UTC), ``site``, ``team`` and ``agent`` (narrow it down),
``format``
(``json`` or ``csv``), ``report`` (``knowledge_base``: the CSV of the knowledge base's numbers).
At most 366 days at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from server import kb, reports
from server.inputs import known_timezone

from .agent import agent_from_cookie
from .context import AGENT_COOKIE, Context, context

MAX_DAYS = 366


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": code, "message": message}, status_code=status,
                        headers={"Cache-Control": "no-store"})


async def report(request: Request) -> Response:
    ctx = context(request)
    agent = await agent_from_cookie(ctx, request.cookies.get(AGENT_COOKIE))
    if agent is None:
        return _error(401, "unauthorized", "log in first")
    if agent.role != "admin":
        return _error(403, "forbidden", "reports are for admins")
    return await build(ctx, await ctx.store.agent_site_ids(agent), request.query_params)


async def build(ctx: Context, site_ids: list[str], q: Mapping[str, str]) -> Response:
    """The report of ``site_ids`` (the REST API's ``GET /api/v1/reports`` answers the same)."""
    try:
        if not known_timezone(q.get("tz", "UTC")):
            raise ValueError("unknown time zone")
        zone = ZoneInfo(q.get("tz", "UTC"))
        today = datetime.fromtimestamp(ctx.clock(), zone).date()
        last = date.fromisoformat(q["to"]) if q.get("to") else today
        first = date.fromisoformat(q["from"]) if q.get("from") else last - timedelta(days=6)
    except ValueError:
        return _error(400, "bad_request", "from and to are YYYY-MM-DD; tz an IANA time zone")
    if first > last or (last - first).days >= MAX_DAYS:
        return _error(400, "bad_request", f"from must be before to, at most {MAX_DAYS} days")
    if q.get("site"):
        if q["site"] not in site_ids:
            return _error(404, "not_found", "no such site")
        site_ids = [q["site"]]
    start = int(datetime.combine(first, time(), zone).timestamp() * 1000)
    end = int(datetime.combine(last + timedelta(days=1), time(), zone).timestamp() * 1000)
    now = int(ctx.clock() * 1000)
    rows = await ctx.store.report_rows(site_ids, start, end, q.get("agent") or None,
                                       q.get("team") or None)
    days = [(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]
    seen_at = min(end, now)
    result = {"period": {"from": first.isoformat(), "to": last.isoformat(), "tz": zone.key},
              "total": reports.summarize(rows, seen_at),
              "days": reports.by_day(rows, seen_at, zone.key, days)}
    # The knowledge base's numbers, for the same sites and period (not per team or agent).
    knowledge = await ctx.store.articles.stats(site_ids, start, end)
    result["knowledge_base"] = knowledge
    if q.get("format") == "csv" and q.get("report") == "knowledge_base":
        name = f"livechat-knowledge-base-{first.isoformat()}-{last.isoformat()}.csv"
        return Response(kb.stats_csv(knowledge),
                        media_type="text/csv; charset=utf-8", headers={
                            "Content-Disposition": f'attachment; filename="{name}"',
                            "Cache-Control": "no-store"})
    if q.get("format") == "csv":
        name = f"livechat-report-{first.isoformat()}-{last.isoformat()}.csv"
        return Response(reports.to_csv(result), media_type="text/csv; charset=utf-8", headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store"})
    return JSONResponse(result, headers={"Cache-Control": "no-store"})
