"""The OpenAPI 3.1 document of ``/api/v1``, made from the API's table of operations
(server/endpoints/api_v1.py): every route is in it because every route is made from the same
entry. The shapes of the answers are written here once; tests/test_api.py checks real answers
against them, and runs schemathesis against the served document."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, get_args

from server.config import Settings
from server.endpoints.api_base import MAX_CURSOR
from server.kb import MAX_QUERY
from server.parsing import ARTICLE_TEXT, LANG_RE, NULLABLE
from server.store.api_tokens import SCOPES
from server.store.models import MessageKind
from server.store.webhooks import EVENTS

if TYPE_CHECKING:
    from server.endpoints.api_base import Operation, Param

_ID: dict[str, Any] = {"type": "string", "pattern": "^[A-Za-z0-9_.:-]{1,64}$"}
_INT: dict[str, Any] = {"type": "integer", "minimum": 0, "maximum": 2**53 - 1}
_NULLABLE_STR = {"type": ["string", "null"]}
_LANG: dict[str, Any] = {"type": "string", "pattern": LANG_RE.pattern,
                         "description": "a language tag: en, pt, pt-br (stored lowercase)"}
_PUBLICATION: dict[str, Any] = {"type": "string", "enum": ["draft", "published"]}


def _field(kind: str, max_chars: int) -> dict[str, Any]:
    """The JSON schema of one of the protocol's field kinds (server/parsing.py)."""
    kinds: dict[str, dict[str, Any]] = {
        "id": _ID,
        "seq": _INT,
        "text": {"type": "string", "minLength": 1, "maxLength": max_chars,
                 "description": "human text, not blank; no NUL"},
        "name": {"type": "string", "minLength": 1, "maxLength": 100},
        "person": {"type": "string", "minLength": 1, "maxLength": 100,
                   "description": "direction controls (U+202A-U+202E, U+2066-U+2069) dropped"},
        "email": {"type": "string", "maxLength": 254,
                  "pattern": '^[^\\s@<>()\\[\\]\\\\,;:"]{1,64}@[^\\s@<>()\\[\\]\\\\,;:"]+'
                             '\\.[^\\s@<>()\\[\\]\\\\,;:".]{2,}$',
                  "description": "an email address; the server checks more than this pattern: "
                                 "docs/protocol.md, Email addresses"},
        "tag": {"type": "string", "pattern": "^[a-z0-9][a-z0-9 _-]{0,31}$"},
        "attrs": {"type": "object", "maxProperties": 50,
                  "propertyNames": {"pattern": "^[A-Za-z0-9_.:-]{1,64}$"},
                  "additionalProperties": {"type": ["string", "number", "boolean", "null"],
                                           "maxLength": 500},
                  "description": "merged into the visitor's attributes; null removes one"},
        "url": {"type": "string", "maxLength": 2000, "pattern": "^https?://[^\\s]+$"},
        "ids": {"type": "array", "maxItems": 20, "items": _ID,
                "description": "agent ids: the colleagues a note is for (each is told)"},
        "events": {"type": "array", "minItems": 1, "uniqueItems": True,
                   "items": {"type": "string", "enum": list(EVENTS)}},
        "scopes": {"type": "array", "minItems": 1, "uniqueItems": True,
                   "items": {"type": "string", "enum": list(SCOPES)}},
        # an article's (server/endpoints/api_articles.py)
        "lang": _LANG,
        "heading": {"type": "string", "minLength": 1, "maxLength": ARTICLE_TEXT["heading"],
                    "description": "not blank"},
        "markdown": {"type": "string", "maxLength": ARTICLE_TEXT["markdown"],
                     "description": "Markdown (docs/knowledge-base.md); no NUL"},
        "category": {"type": "string", "maxLength": ARTICLE_TEXT["category"]},
        "keywords": {"type": "string", "maxLength": ARTICLE_TEXT["keywords"],
                     "description": "other words readers search the article with"},
        "publication": _PUBLICATION,
        "slug": {"type": "string", "maxLength": ARTICLE_TEXT["slug"],
                 "description": "its address in the help centre (made a slug)"},
    }
    return kinds[kind]


def _param_schema(param: Param) -> dict[str, Any]:
    kinds: dict[str, dict[str, Any]] = {
        "status": {"type": "string", "enum": ["waiting", "assigned", "resolved"]},
        "id": _ID, "assignee": _ID, "seq": _INT,
        "limit": {"type": "integer", "minimum": 1, "maximum": 200},
        "cursor": {"type": "string", "maxLength": MAX_CURSOR},
        "query": {"type": "string", "minLength": 1, "maxLength": 100},
        "search": {"type": "string", "minLength": 1, "maxLength": MAX_QUERY},
        "tag": {"type": "string", "pattern": "^[a-z0-9][a-z0-9 _-]{0,31}$"},
        "date": {"type": "string", "pattern": "^\\d{4}-\\d{2}-\\d{2}$"},
        "tz": {"type": "string", "description": "an IANA time zone (Europe/Lisbon)"},
        "format": {"type": "string", "enum": ["json", "csv"]},
        "report": {"type": "string", "enum": ["knowledge_base"]},
        "lang": _LANG, "publication": _PUBLICATION,
    }
    return kinds[param.kind]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _page(item: str) -> dict[str, Any]:
    return {"type": "object", "required": ["data", "next_cursor"], "properties": {
        "data": {"type": "array", "items": _ref(item)},
        "next_cursor": {"type": ["string", "null"],
                        "description": "pass as `cursor` for the next page; null: no more"}}}


def _list(item: str) -> dict[str, Any]:
    return {"type": "object", "required": ["data"],
            "properties": {"data": {"type": "array", "items": _ref(item)}}}


def _one(name: str, item: str, *extra: str) -> dict[str, Any]:
    props: dict[str, Any] = {name: _ref(item)}
    if "duplicate" in extra:
        props["duplicate"] = {"type": "boolean"}
    return {"type": "object", "required": [name], "properties": props}


_PERSON = {"type": ["object", "null"], "properties": {"id": {"type": "string"},
                                                      "name": _NULLABLE_STR}}

_COUNT: dict[str, Any] = {"type": "integer", "minimum": 0}
_SECONDS: dict[str, Any] = {"type": ["number", "null"]}
_SPREAD: dict[str, Any] = {"type": "object", "required": ["median", "p90", "count"],
                           "properties": {"median": _SECONDS, "p90": _SECONDS,
                                          "count": _COUNT}}
_RATINGS: dict[str, Any] = {"type": "object",
                            "required": ["ratings", "average", "satisfied_percent"],
                            "properties": {"ratings": _COUNT,
                                           "average": {"type": ["number", "null"]},
                                           "satisfied_percent": {"type": ["number", "null"]}}}
#: A report's figures (docs/reports.md): the team's are people's, a bot's apart. "By then": by
#: the end of the period, or now for a period that has not ended.
_REPORT_FIGURES: dict[str, Any] = {"type": "object", "required": [
    "conversations", "answered", "missed", "first_response", "resolution", "wait",
    "satisfaction", "bot_conversations", "handled_by_bot", "bot_resolved", "bot_satisfaction"],
    "properties": {
    "conversations": {**_COUNT, "description": "started in the period"},
    "answered": {**_COUNT, "description": "a person had replied by then"},
    "missed": {**_COUNT, "description": "had reached people, and no person had replied by then"},
    "first_response": {**_SPREAD, "description": "seconds from reaching people (the start, or "
                                                 "the bot's handoff) to a person's first reply"},
    "resolution": {**_SPREAD, "description": "seconds from the start to being resolved, of the "
                                             "resolved ones that had reached people"},
    "wait": {**_SPREAD, "description": "seconds from reaching people to a person joining"},
    "satisfaction": {**_RATINGS, "description": "ratings of those that had reached people"},
    "bot_conversations": {**_COUNT, "description": "a bot answered first"},
    "handled_by_bot": {**_COUNT, "description": "a bot answered first and they had not reached "
                                                "people by then: the bot handled them alone"},
    "bot_resolved": {**_COUNT, "description": "of handled_by_bot, resolved"},
    "bot_satisfaction": {**_RATINGS, "description": "ratings of handled_by_bot"}}}

SCHEMAS: dict[str, Any] = {
    "Error": {"type": "object", "required": ["error", "message"], "properties": {
        "error": {"type": "string", "description": "a code of docs/api.md#errors"},
        "message": {"type": "string"}, "retry_after": {"type": "integer"}}},
    "Conversation": {"type": "object", "required": [
        "id", "site_id", "visitor", "status", "assignee", "last_seq", "created_at", "updated_at",
        "tags"], "properties": {
        "id": {"type": "string"}, "site_id": {"type": "string"},
        "visitor": {"type": "object", "required": ["id", "name"], "properties": {
            "id": {"type": "string"}, "name": {"type": "string"}, "email": _NULLABLE_STR,
            "verified": {"type": "boolean"}}},
        "status": {"type": "string", "enum": ["waiting", "assigned", "resolved"]},
        "assignee": _PERSON, "last_seq": {"type": "integer"},
        "last_message": {"type": "string"}, "created_at": {"type": "integer"},
        "updated_at": {"type": "integer"}, "visitor_read_seq": {"type": "integer"},
        "queued_at": {"type": "integer", "description": "when it reached people (ms): its "
                      "start, its bot's handoff, or its reopening; the queue's order"},
        "rating": {"type": ["object", "null"], "properties": {
            "score": {"type": "integer"}, "comment": _NULLABLE_STR}},
        "tags": {"type": "array", "items": {"type": "string"}},
        "unread": {"type": "integer"}, "snoozed_until": {"type": ["integer", "null"]},
        "team": _PERSON}},
    "Message": {"type": "object", "required": [
        "conversation_id", "seq", "kind", "author", "body", "at"], "properties": {
        "conversation_id": {"type": "string"}, "seq": {"type": "integer", "minimum": 1},
        "id": {"type": ["string", "null"],
               "description": "the sender's client_msg_id (a send's Idempotency-Key)"},
        "kind": {"type": "string", "enum": list(get_args(MessageKind))},
        "author": {"type": "object", "required": ["type"], "properties": {
            "type": {"type": "string", "enum": ["visitor", "agent", "system"]},
            "id": _NULLABLE_STR, "name": _NULLABLE_STR}},
        "body": {"type": "string"}, "at": {"type": "integer"},
        "attachment": {"type": "object"}, "score": {"type": "integer"},
        "handoff": {"type": "boolean", "description": "a requeued event: the site's bot "
                    "handed the conversation to people"},
        "timeout": {"type": "boolean", "description": "with handoff: because the bot left "
                    "the visitor unanswered for LIVECHAT_BOT_REPLY_TIMEOUT seconds"},
        "mentions": {"type": "array", "items": {"type": "string"},
                     "description": "a note: the agents it is for"}}},
    "Visitor": {"type": "object", "required": ["id", "name", "email", "verified", "attributes"],
                "properties": {
        "id": {"type": "string"}, "name": _NULLABLE_STR, "email": _NULLABLE_STR,
        "verified": {"type": "boolean"}, "attributes": {"type": "object"},
        "user_agent": _NULLABLE_STR, "language": _NULLABLE_STR, "timezone": _NULLABLE_STR,
        "referrer": _NULLABLE_STR}},
    "Site": {"type": "object", "required": ["id", "name", "allowed_origins"], "properties": {
        "id": {"type": "string"}, "name": {"type": "string"},
        "allowed_origins": {"type": "array", "items": {"type": "string"}},
        "auto_assign": {"type": "boolean"}, "identity_mode": {"type": "string"},
        "identity_secret": {"type": "boolean", "description": "whether one is set"}}},
    "Agent": {"type": "object", "required": ["id", "name", "email", "role", "active"],
              "properties": {
        "id": {"type": "string"}, "name": {"type": "string"}, "email": {"type": "string"},
        "role": {"type": "string", "enum": ["admin", "agent"]}, "active": {"type": "boolean"},
        "capacity": {"type": "integer"},
        "sites": {"type": "array", "items": {"type": "string"}},
        "teams": {"type": "array", "items": {"type": "string"}}}},
    "Team": {"type": "object", "required": ["id", "site_id", "name", "members"], "properties": {
        "id": {"type": "string"}, "site_id": {"type": "string"}, "name": {"type": "string"},
        "members": {"type": "array", "items": {"type": "string"}}}},
    "Canned": {"type": "object", "required": ["id", "site_id", "shortcut", "body"],
               "properties": {
        "id": {"type": "string"}, "site_id": {"type": "string"}, "shared": {"type": "boolean"},
        "shortcut": {"type": "string"}, "body": {"type": "string"}}},
    "Report": {"type": "object", "required": ["period", "total", "days"], "properties": {
        "period": {"type": "object", "required": ["from", "to", "tz"]},
        "total": _ref("ReportFigures"),
        "days": {"type": "array", "items": {"allOf": [_ref("ReportFigures"), {
            "type": "object", "required": ["day"], "properties": {
                "day": {"type": "string", "description": "YYYY-MM-DD"}}}]}},
        "knowledge_base": {"type": "object"}}},
    "ReportFigures": _REPORT_FIGURES,
    "ConversationPage": _page("Conversation"),
    "MessagePage": _page("Message"),
    "VisitorPage": _page("Visitor"),
    "ConversationResult": _one("conversation", "Conversation", "duplicate"),
    "VisitorResult": _one("visitor", "Visitor"),
    "SiteResult": _one("site", "Site"),
    "SiteList": _list("Site"), "AgentList": _list("Agent"), "TeamList": _list("Team"),
    "CannedList": _list("Canned"),
}
_WEBHOOK = {"type": "object", "required": ["id", "site_id", "url", "events", "active"],
            "properties": {
    "id": {"type": "string"}, "site_id": {"type": "string"}, "url": {"type": "string"},
    "events": {"type": "array", "items": {"type": "string", "enum": list(EVENTS)}},
    "active": {"type": "boolean"}, "disabled_reason": _NULLABLE_STR,
    "created_at": {"type": "integer"}, "failing_since": {"type": ["integer", "null"]},
    "last_success_at": {"type": ["integer", "null"]}}}
SCHEMAS.update({
    "Webhook": _WEBHOOK,
    "WebhookList": _list("Webhook"),
    "WebhookResult": _one("webhook", "Webhook"),
    "WebhookCreated": {"type": "object", "required": ["webhook", "secret"], "properties": {
        "webhook": _ref("Webhook"),
        "secret": {"type": "string", "pattern": "^whsec_",
                   "description": "the signing secret, shown once"}}},
    "Delivery": {"type": "object", "required": ["id", "event_id", "event", "at", "status",
                                                "latency_ms", "excerpt", "error"],
                 "properties": {
        "id": {"type": "string"}, "event_id": {"type": "string"}, "event": {"type": "string"},
        "at": {"type": "integer"}, "status": {"type": ["integer", "null"]},
        "latency_ms": {"type": "integer"}, "excerpt": {"type": "string"},
        "error": _NULLABLE_STR}},
    "DeliveryList": _list("Delivery"),
    "WebhookEvent": {"type": "object", "required": ["id", "event", "state", "attempts"],
                     "properties": {
        "id": {"type": "string"}, "event": {"type": "string"},
        "state": {"type": "string", "enum": ["pending", "delivered", "failed"]},
        "attempts": {"type": "integer"}, "created_at": {"type": "integer"},
        "delivered_at": {"type": ["integer", "null"]}}},
    "WebhookEventList": _list("WebhookEvent"),
    "Deleted": {"type": "object", "required": ["deleted"],
                "properties": {"deleted": {"type": "boolean"}}},
    "Redelivered": {"type": "object", "required": ["redelivered"],
                    "properties": {"redelivered": {"type": "boolean"}}},
})
SCHEMAS.update({
    "Erasure": {"type": "object", "required": ["erased"], "properties": {"erased": {
        "type": "object", "required": ["erasure_id", "conversations", "messages", "files", "at"],
        "properties": {"erasure_id": {"type": "string"}, "conversations": {"type": "integer"},
                       "messages": {"type": "integer"}, "files": {"type": "integer"},
                       "at": {"type": "integer"}}}}},
    "ErasureList": {"type": "object", "required": ["data"], "properties": {"data": {
        "type": "array", "items": {"type": "object", "required": [
            "id", "site_id", "erased_by", "at", "conversations", "messages", "files"]}}}},
    "Retention": {"type": "object", "required": ["site_id", "days"], "properties": {
        "site_id": {"type": "string"}, "days": {"type": ["integer", "null"]}}},
})
_TOKEN = {"type": "object", "required": ["id", "site_id", "name", "scopes", "created_at",
                                         "last_used_at", "revoked_at"], "properties": {
    "id": {"type": "string"}, "site_id": _NULLABLE_STR, "name": {"type": "string"},
    "scopes": {"type": "array", "items": {"type": "string", "enum": list(SCOPES)}},
    "created_by": _NULLABLE_STR, "created_at": {"type": "integer"},
    "last_used_at": {"type": ["integer", "null"]}, "revoked_at": {"type": ["integer", "null"]}}}
SCHEMAS.update({
    "Token": _TOKEN, "TokenList": _list("Token"), "TokenResult": _one("token", "Token"),
    "TokenCreated": {"type": "object", "required": ["token", "secret"], "properties": {
        "token": _ref("Token"),
        "secret": {"type": "string", "description": "lc.<id>.<secret>, shown once"}}},
})
_ARTICLE_SUMMARY: dict[str, Any] = {
    "id": {"type": "string"}, "site_id": {"type": "string"}, "group_id": {"type": "string"},
    "lang": {"type": "string"}, "slug": {"type": "string"}, "title": {"type": "string"},
    "category": {"type": "string"}, "status": _PUBLICATION,
    "excerpt": {"type": "string", "description": "the text's first 160 characters"},
    "author": _NULLABLE_STR, "updated_at": {"type": "integer"}}
SCHEMAS.update({
    "ArticleSummary": {"type": "object", "required": list(_ARTICLE_SUMMARY),
                       "properties": _ARTICLE_SUMMARY},
    "Article": {"type": "object", "required": [
        *_ARTICLE_SUMMARY, "body", "html", "keywords", "author_id", "created_at"], "properties": {
        **_ARTICLE_SUMMARY, "body": {"type": "string", "description": "Markdown, as written"},
        "html": {"type": "string", "description": "the body rendered and sanitised"},
        "keywords": {"type": "string"}, "author_id": _NULLABLE_STR,
        "created_at": {"type": "integer"}}},
    "ArticlePage": _page("ArticleSummary"),
    "ArticleSaved": _one("article", "Article"),
    "ArticleResult": {"type": "object", "required": ["article", "translations"], "properties": {
        "article": _ref("Article"),
        "translations": {"type": "array", "items": _ref("ArticleSummary")}}},
})
SCHEMAS["SendResult"] = {"type": "object", "required": ["message", "conversation", "duplicate"],
                         "properties": {"message": _ref("Message"),
                                        "conversation": _ref("Conversation"),
                                        "duplicate": {"type": "boolean"}}}

_ERRORS = {400: "bad input (`bad_request`, `bad_text`, `too_long`, `too_many`, `bad_url`)",
           401: "no token, or not a valid one (`unauthorized`)",
           403: "the token lacks the scope (`forbidden`)",
           404: "not found, or not this token's site's (`not_found`)",
           429: "over the token's rate limit (`rate_limited`); see `Retry-After`",
           503: "the store cannot write now (`unavailable`); see `Retry-After`"}


def _operation(op: Operation, max_chars: int) -> dict[str, Any]:
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True,
         "schema": {"type": "string", "minLength": 1}}
        for name in _path_names(op.path)]
    params += [{"name": p.name, "in": "query", "required": p.required,
                "description": p.description, "schema": _param_schema(p)} for p in op.params]
    if op.idempotent:
        params.append({"name": "Idempotency-Key", "in": "header", "required": False,
                       "description": "the same key returns the original; another body with it "
                                      "is 409 id_conflict", "schema": _ID})
    error = {"description": "", "content": {"application/json": {"schema": _ref("Error")}}}
    responses: dict[str, Any] = {str(op.status): {
        "description": "done", "content": {"application/json": {"schema": _ref(op.answer)}}}}
    if op.answer == "Report":
        responses[str(op.status)]["content"]["text/csv"] = {"schema": {"type": "string"}}
    if op.answer == "Export":
        responses[str(op.status)]["content"] = {"application/zip": {
            "schema": {"type": "string", "contentMediaType": "application/zip"}}}
    for status, text in op.also.items():
        responses[str(status)] = {"description": text, "content": {
            "application/json": {"schema": _ref(op.answer)}}}
    for status, text in _ERRORS.items():
        responses[str(status)] = {**error, "description": text}
    if op.method != "GET":
        responses["409"] = {**error, "description": "conflicts with the conversation's state "
                                                    "(`id_conflict`, `resolved`, "
                                                    "`not_assignee`, …)"}
        # (Every request but a GET has its body read, up to the operation's largest.)
        responses["413"] = {**error, "description": f"a body over {op.max_body} bytes "
                                                    "(`too_large`)"}
    made: dict[str, Any] = {"operationId": op.operation_id, "summary": op.summary,
                            "tags": [op.tag], "parameters": params, "responses": responses,
                            "security": [{"bearer": []}],
                            "x-scope": op.scope,
                            "description": f"Scope: `{op.scope}` (or `admin`)."}
    if op.body is not None:
        required = [name for name, kind in op.body.items() if not kind.endswith("?")]
        props = {name: (_field(base, max_chars) if base == kind else
                        {"anyOf": [_field(base, max_chars), {"type": "null"}]})
                 for name, kind in op.body.items()
                 for base in [kind.removesuffix(NULLABLE).rstrip("?")]}
        made["requestBody"] = {"required": bool(required), "content": {"application/json": {
            "schema": {"type": "object", "additionalProperties": False, "required": required,
                       "properties": props}}}}
    return made


def _path_names(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]


def document(operations: Sequence[Operation], settings: Settings) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op, settings.max_text_chars)
    servers = [{"url": settings.public_url}] if settings.public_url else []
    return {
        "openapi": "3.1.0",
        "info": {"title": "Live chat REST API", "version": "1",
                 "description": "See docs/api.md. Every answer is JSON; errors are "
                                "{error, message}."},
        "servers": servers,
        "paths": paths,
        "components": {"schemas": SCHEMAS, "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer",
                       "description": "an API token: lc.<id>.<secret> "
                                      "(livechat token create)"}}},
    }
