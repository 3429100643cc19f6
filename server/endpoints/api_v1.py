"""``/api/v1``: the REST API for integrations (docs/api.md). Each route is one ``Operation``
in ``OPERATIONS``; the routes and ``/api/v1/openapi.json`` are both made from that table.

Writes go through the same chat layer as the WebSocket (server/chat.py), so that an open panel or
widget sees a message sent here at once, and they keep the socket's semantics: a send's
``Idempotency-Key`` is its ``client_msg_id`` (the same key returns the original message, another
body with it is ``409 id_conflict``). Whatever needs an author (a reply, a note, resolving) is
done as an agent of the conversation's site, named in the body by ``agent_id``.

A token sees its own site's records only; anything else is ``404 not_found``, existing or not.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from server import openapi
from server.auth import VisitorIdentity, new_id
from server.errors import ChatError, Code
from server.parsing import NULLABLE
from server.store import Conversation, Message
from server.store.api_reads import ConversationFilter

from . import api_articles, api_privacy, api_tokens, api_webhooks, reports
from .api_base import (
    DEFAULT_LIMIT,
    Call,
    Operation,
    Param,
    chosen_sites,
    decode_cursor,
    encode_cursor,
    endpoint,
    fallback,
    json_response,
    not_found,
    site_agent,
)
from .context import Context

# --- shared --------------------------------------------------------------------------------


def message_json(message: Message) -> dict[str, Any]:
    frame = message.frame()
    del frame["type"]
    return frame


async def _conversation(call: Call) -> Conversation:
    conversation = await call.ctx.store.conversation(call.path["conversation_id"])
    if conversation is None or conversation.site_id not in call.caller.site_ids:
        raise not_found("conversation")
    return conversation


def _page(items: list[Any], limit: int, cursor: Any) -> dict[str, Any]:
    return {"data": items, "next_cursor": cursor if len(items) == limit else None}


# --- conversations -------------------------------------------------------------------------


async def list_conversations(call: Call) -> tuple[int, Any]:
    q = call.query
    site_ids = chosen_sites(call)
    limit = q.get("limit", DEFAULT_LIMIT)
    after = None
    if "cursor" in q:
        updated_at, last_id = decode_cursor(q["cursor"], (int, str))
        after = (updated_at, last_id)
    where = ConversationFilter(status=q.get("status"), assignee=q.get("assignee"),
                               team=q.get("team"), tag=q.get("tag"),
                               updated_since=q.get("updated_since"), visitor=q.get("visitor"))
    found = await call.api.reads.conversations(site_ids, where, after, limit)
    cursor = encode_cursor(found[-1].updated_at, found[-1].id) if found else None
    return 200, _page([c.summary() for c in found], limit, cursor)


async def get_conversation(call: Call) -> tuple[int, Any]:
    return 200, {"conversation": (await _conversation(call)).summary()}


async def list_messages(call: Call) -> tuple[int, Any]:
    conversation = await _conversation(call)
    limit = call.query.get("limit", DEFAULT_LIMIT)
    after = call.query.get("after_seq", 0)
    if "cursor" in call.query:
        after = decode_cursor(call.query["cursor"], (int,))[0]
    found = await call.ctx.store.messages_after(conversation.id, after, limit)
    cursor = encode_cursor(found[-1].seq) if found else None
    return 200, _page([message_json(m) for m in found], limit, cursor)


def _key(call: Call) -> str:
    key: str = call.body.get("idempotency_key") or new_id("api")
    return key


async def send_message(call: Call) -> tuple[int, Any]:
    conversation = await _conversation(call)
    agent = await site_agent(call, call.body["agent_id"], conversation.site_id)
    sent = await call.ctx.chat.agent_send(agent, [conversation.site_id], conversation.id,
                                          _key(call), call.body["body"])
    change = sent.change
    return (200 if change.duplicate else 201), {
        "message": message_json(change.messages[-1]),
        "conversation": change.conversation.summary(), "duplicate": change.duplicate}


async def add_note(call: Call) -> tuple[int, Any]:
    conversation = await _conversation(call)
    agent = await site_agent(call, call.body["agent_id"], conversation.site_id)
    sent = await call.ctx.chat.note(agent, [conversation.site_id], conversation.id, _key(call),
                                    call.body["body"], mentions=call.body.get("mentions", ()))
    change = sent.change
    return (200 if change.duplicate else 201), {
        "message": message_json(change.messages[-1]),
        "conversation": change.conversation.summary(), "duplicate": change.duplicate}


def _result(conversation: Conversation, duplicate: bool = False) -> tuple[int, Any]:
    return 200, {"conversation": conversation.summary(), "duplicate": duplicate}


async def assign(call: Call) -> tuple[int, Any]:
    """To this agent: a waiting conversation is claimed for them, anyone else's is handed over
    (the token decides, as an admin would)."""
    conversation = await _conversation(call)
    agent = await site_agent(call, call.body["agent_id"], conversation.site_id)
    sites = [conversation.site_id]
    if conversation.status == "waiting" and conversation.assignee_id is None:
        try:
            change = await call.ctx.chat.claim(agent, sites, conversation.id)
            return _result(change.conversation, change.duplicate)
        except ChatError as exc:
            if exc.code != Code.ALREADY_CLAIMED:
                raise
    change = await call.ctx.chat.transfer(replace(agent, role="admin"), sites, conversation.id,
                                          agent.id)
    return _result(change.conversation, change.duplicate)


async def transfer(call: Call) -> tuple[int, Any]:
    """As the socket's ``transfer``: done by ``by_agent_id`` (the assignee, or an admin)."""
    conversation = await _conversation(call)
    by = await site_agent(call, call.body["by_agent_id"], conversation.site_id)
    change = await call.ctx.chat.transfer(by, [conversation.site_id], conversation.id,
                                          call.body["agent_id"], call.body.get("note"))
    return _result(change.conversation, change.duplicate)


async def add_tag(call: Call) -> tuple[int, Any]:
    return await _tag(call, call.body["tag"], True)


async def remove_tag(call: Call) -> tuple[int, Any]:
    tag = call.path["tag"]
    from server.protocol import check_fields

    check_fields({"tag": tag}, {"tag": "tag"}, 100)
    return await _tag(call, tag, False)


async def _tag(call: Call, tag: str, on: bool) -> tuple[int, Any]:
    """A tag it has, or one it has not removed: nothing changes (``duplicate: true``)."""
    conversation = await _conversation(call)
    changed = await call.ctx.chat.tag([conversation.site_id], conversation.id, tag, on)
    return _result(changed, duplicate=changed.tags == conversation.tags)


async def set_team(call: Call) -> tuple[int, Any]:
    conversation = await _conversation(call)
    return _result(await call.ctx.chat.assign_team([conversation.site_id], conversation.id,
                                                   call.body.get("team_id")))


async def snooze(call: Call) -> tuple[int, Any]:
    conversation = await _conversation(call)
    return _result(await call.ctx.chat.snooze([conversation.site_id], conversation.id,
                                              call.body.get("until")))


async def resolve(call: Call) -> tuple[int, Any]:
    conversation = await _conversation(call)
    agent = await site_agent(call, call.body["agent_id"], conversation.site_id)
    change = await call.ctx.chat.resolve(agent, [conversation.site_id], conversation.id)
    return _result(change.conversation, change.duplicate)


async def reopen(call: Call) -> tuple[int, Any]:
    conversation = await _conversation(call)
    agent = await site_agent(call, call.body["agent_id"], conversation.site_id)
    change = await call.ctx.chat.reopen(agent, [conversation.site_id], conversation.id)
    return _result(change.conversation, change.duplicate)


async def handoff(call: Call) -> tuple[int, Any]:
    """The site's bot hands the conversation to a person (server/bots.py)."""
    conversation = await _conversation(call)
    change = await call.api.bots.handoff([conversation.site_id], conversation.id)
    return _result(change.conversation, change.duplicate)


# --- visitors ------------------------------------------------------------------------------


async def _visitor_site(call: Call) -> str:
    visitor = await call.ctx.store.visitor(call.path["visitor_id"])
    if visitor is None or visitor.site_id not in call.caller.site_ids:
        raise not_found("visitor")
    return visitor.site_id


async def list_visitors(call: Call) -> tuple[int, Any]:
    limit = call.query.get("limit", DEFAULT_LIMIT)
    after = decode_cursor(call.query["cursor"], (str,))[0] if "cursor" in call.query else None
    found = await call.api.reads.visitors(call.caller.site_ids, call.query.get("query", ""),
                                          after, limit)
    cursor = encode_cursor(found[-1].id) if found else None
    return 200, _page([v.public() for v in found], limit, cursor)


async def get_visitor(call: Call) -> tuple[int, Any]:
    await _visitor_site(call)
    visitor = await call.ctx.store.visitor(call.path["visitor_id"])
    assert visitor is not None
    return 200, {"visitor": visitor.public()}


async def update_visitor(call: Call) -> tuple[int, Any]:
    """Name and email as the pre-chat form sets them (a verified visitor's are the site's and
    stay), attributes merged (a null removes one)."""
    site_id = await _visitor_site(call)
    visitor_id = call.path["visitor_id"]
    body = call.body
    if "name" in body or "email" in body:  # one write with the attributes: one event
        await call.ctx.chat.profile(VisitorIdentity(site_id, visitor_id), body.get("name"),
                                    body.get("email"), body.get("attributes"))
    elif "attributes" in body:
        await call.ctx.store.set_visitor_attributes(site_id, visitor_id, body["attributes"])
    visitor = await call.ctx.store.visitor(visitor_id)
    assert visitor is not None
    return 200, {"visitor": visitor.public()}


async def visitor_conversations(call: Call) -> tuple[int, Any]:
    await _visitor_site(call)
    call.query["visitor"] = call.path["visitor_id"]
    return await list_conversations(call)


# --- the installation (admin) --------------------------------------------------------------


async def list_sites(call: Call) -> tuple[int, Any]:
    sites = [s.settings() for s in await call.ctx.store.sites() if s.id in call.caller.site_ids]
    return 200, {"data": sites}


async def get_site(call: Call) -> tuple[int, Any]:
    site = await call.ctx.store.site(call.path["site_id"])
    if site is None or site.id not in call.caller.site_ids:
        raise not_found("site")
    return 200, {"site": site.settings()}


async def list_agents(call: Call) -> tuple[int, Any]:
    sites = await call.ctx.store.agent_sites()
    teams = await call.ctx.store.teams()
    return 200, {"data": [a.account(sites.get(a.id, []), [t.id for t in teams if a.id in t.members])
                          for a in await call.ctx.store.agents()]}


async def list_teams(call: Call) -> tuple[int, Any]:
    return 200, {"data": [t.public() for t in await call.ctx.store.teams(call.caller.site_ids)]}


async def list_canned(call: Call) -> tuple[int, Any]:
    found = await call.api.reads.shared_canned(call.caller.site_ids)
    return 200, {"data": [c.public() for c in found]}


async def get_report(call: Call) -> tuple[int, Any]:
    answer: Response = await reports.build(call.ctx, call.caller.site_ids,
                                           {k: str(v) for k, v in call.query.items()})
    return answer.status_code, answer


# --- the table -----------------------------------------------------------------------------

_C = "/api/v1/conversations/{conversation_id}"
_LIST = (Param("cursor", "cursor", "the `next_cursor` of the previous page"),
         Param("limit", "limit", f"at most this many (1-200, default {DEFAULT_LIMIT})"))
_CONV_FILTERS = (
    Param("site", "id", "only this site (installation-wide tokens)"),
    Param("status", "status", "waiting, assigned or resolved"),
    Param("assignee", "assignee", "an agent id, or `none` for unassigned"),
    Param("team", "id", "a team id"), Param("tag", "tag", "a tag"),
    Param("updated_since", "seq", "changed at or after this time (ms since the epoch)"),
)
_SEND = {"body": "text", "agent_id": "id"}
_AS = {"agent_id": "id"}
R, W = "conversations:read", "conversations:write"
VR, VW = "visitors:read", "visitors:write"

OPERATIONS: tuple[Operation, ...] = (
    Operation("GET", "/api/v1/conversations", list_conversations, R,
              "List conversations, newest activity first", "ConversationPage",
              params=(*_CONV_FILTERS, Param("visitor", "id", "one visitor's"), *_LIST)),
    Operation("GET", _C, get_conversation, R, "Get a conversation", "ConversationResult"),
    Operation("GET", _C + "/messages", list_messages, R,
              "Messages and events by seq, oldest first (notes included)", "MessagePage",
              params=(Param("after_seq", "seq", "start after this seq (default 0)"), *_LIST)),
    Operation("POST", _C + "/messages", send_message, W,
              "Send a message as an agent", "SendResult", 201, body=_SEND, idempotent=True,
              also={200: "a resend with the same Idempotency-Key: the original message"}),
    Operation("POST", _C + "/notes", add_note, W, "Add an internal note (agents only see it)",
              "SendResult", 201, body={**_SEND, "mentions": "ids?"}, idempotent=True,
              also={200: "a resend with the same Idempotency-Key: the original note"}),
    Operation("POST", _C + "/assign", assign, W, "Assign to an agent", "ConversationResult",
              body=_AS),
    Operation("POST", _C + "/transfer", transfer, W,
              "Transfer, as the assignee or an admin would", "ConversationResult",
              body={"agent_id": "id", "by_agent_id": "id", "note": "text?"}),
    Operation("POST", _C + "/tags", add_tag, W, "Add a tag", "ConversationResult",
              body={"tag": "tag"}),
    Operation("DELETE", _C + "/tags/{tag}", remove_tag, W, "Remove a tag", "ConversationResult"),
    Operation("POST", _C + "/team", set_team, W, "Give to a team (null: no team)",
              "ConversationResult", body={"team_id": "id" + NULLABLE}),
    Operation("POST", _C + "/snooze", snooze, W,
              "Snooze until a time (ms, within 365 days; null wakes it)", "ConversationResult",
              body={"until": "seq" + NULLABLE}),
    Operation("POST", _C + "/resolve", resolve, W, "Resolve", "ConversationResult", body=_AS),
    Operation("POST", _C + "/reopen", reopen, W, "Reopen, assigned to the agent",
              "ConversationResult", body=_AS),
    Operation("POST", _C + "/handoff", handoff, W,
              "The bot hands the conversation to the human queue", "ConversationResult"),
    Operation("GET", "/api/v1/visitors", list_visitors, VR,
              "Find visitors by name, email or id", "VisitorPage",
              params=(Param("query", "query", "part of a name, email or id (any case)"), *_LIST),
              tag="visitors"),
    Operation("GET", "/api/v1/visitors/{visitor_id}", get_visitor, VR, "Get a visitor",
              "VisitorResult", tag="visitors"),
    Operation("PATCH", "/api/v1/visitors/{visitor_id}", update_visitor, VW,
              "Update a visitor's name, email and attributes", "VisitorResult",
              body={"name": "person?", "email": "email?", "attributes": "attrs?"},
              tag="visitors"),
    Operation("GET", "/api/v1/visitors/{visitor_id}/conversations", visitor_conversations, VR,
              "A visitor's conversations", "ConversationPage", params=_LIST, tag="visitors"),
    Operation("GET", "/api/v1/sites", list_sites, "admin", "List sites", "SiteList",
              tag="admin"),
    Operation("GET", "/api/v1/sites/{site_id}", get_site, "admin", "Get a site", "SiteResult",
              tag="admin"),
    Operation("GET", "/api/v1/agents", list_agents, "admin", "List agents", "AgentList",
              tag="admin"),
    Operation("GET", "/api/v1/teams", list_teams, "admin", "List teams", "TeamList",
              tag="admin"),
    Operation("GET", "/api/v1/canned", list_canned, "admin", "List shared canned responses",
              "CannedList", tag="admin"),
    Operation("GET", "/api/v1/reports", get_report, "reports:read",
              "Support metrics (the panel's numbers)", "Report",
              params=(Param("from", "date", "first day, YYYY-MM-DD (default: 6 days before to)"),
                      Param("to", "date", "last day, YYYY-MM-DD (default: today)"),
                      Param("tz", "tz", "IANA time zone of the days (default UTC)"),
                      Param("site", "id", "only this site"), Param("team", "id", "one team"),
                      Param("agent", "id", "one agent"),
                      Param("format", "format", "json (default) or csv"),
                      Param("report", "report", "with format=csv: knowledge_base for the "
                            "knowledge base's CSV instead")), tag="reports"),
    *api_articles.OPERATIONS,
    *api_webhooks.OPERATIONS,
    *api_privacy.OPERATIONS,
    *api_tokens.OPERATIONS,
)


def _max_chars(ctx: Context) -> int:
    return ctx.settings.max_text_chars


async def openapi_document(request: Request) -> Response:
    return json_response(200, openapi.document(OPERATIONS, request.app.state.ctx.settings))


def routes() -> list[BaseRoute]:
    """Every route of the API, the catch-all last (JSON 404 and 405)."""
    made: list[BaseRoute] = [Route(op.path, endpoint(op, _max_chars), methods=[op.method])
                             for op in OPERATIONS]
    made.append(Route("/api/v1/openapi.json", openapi_document))
    made.append(Route("/api/v1/{rest:path}", fallback,
                      methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]))
    return made
