"""``/api/v1/webhooks``: a site's webhook endpoints, their delivery log, and redelivery
(scope ``webhooks``). The signing secret is shown once, when the endpoint is made."""

from __future__ import annotations

from typing import Any

from server.store.webhooks import Endpoint, check_events
from server.webhooks import Malformed, Refused, guard

from .api_base import DEFAULT_LIMIT, ApiError, Call, Operation, Param, not_found


async def _endpoint(call: Call) -> Endpoint:
    endpoint = await call.api.webhooks.endpoint(call.path["webhook_id"])
    if endpoint is None or endpoint.site_id not in call.caller.site_ids:
        raise not_found("webhook")
    return endpoint


async def list_webhooks(call: Call) -> tuple[int, Any]:
    found = await call.api.webhooks.endpoints(call.caller.site_ids)
    return 200, {"data": [e.public() for e in found]}


async def create_webhook(call: Call) -> tuple[int, Any]:
    body = call.body
    token_site = call.caller.token.site_id
    site_id = body.get("site_id") or token_site
    if site_id is None:
        raise ApiError(400, "bad_request", "site_id is required with an installation's token")
    if site_id not in call.caller.site_ids:
        raise not_found("site")
    events = body["events"]
    if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
        raise ApiError(400, "bad_request", "events is a list of event names")
    try:
        wanted = check_events(events)
        await guard(body["url"], call.ctx.settings.webhook_allow_private)
    except Malformed as exc:
        raise ApiError(400, "bad_request", str(exc)) from None
    except Refused as exc:
        raise ApiError(400, "bad_url", str(exc)) from None
    except ValueError as exc:
        raise ApiError(400, "bad_request", str(exc)) from None
    endpoint, secret = await call.api.webhooks.create(site_id, body["url"], sorted(wanted))
    return 201, {"webhook": endpoint.public(), "secret": secret}


async def get_webhook(call: Call) -> tuple[int, Any]:
    return 200, {"webhook": (await _endpoint(call)).public()}


async def delete_webhook(call: Call) -> tuple[int, Any]:
    endpoint = await _endpoint(call)
    await call.api.webhooks.delete(endpoint.id)
    return 200, {"deleted": True}


async def enable_webhook(call: Call) -> tuple[int, Any]:
    endpoint = await _endpoint(call)
    return 200, {"webhook": (await call.api.webhooks.enable(endpoint.id)).public()}


async def list_deliveries(call: Call) -> tuple[int, Any]:
    endpoint = await _endpoint(call)
    found = await call.api.webhooks.deliveries(endpoint.id, call.query.get("limit",
                                                                           DEFAULT_LIMIT))
    return 200, {"data": [d.public() for d in found]}


async def list_webhook_events(call: Call) -> tuple[int, Any]:
    endpoint = await _endpoint(call)
    return 200, {"data": await call.api.webhooks.events(endpoint.id)}


async def redeliver(call: Call) -> tuple[int, Any]:
    endpoint = await _endpoint(call)
    if not await call.api.webhooks.redeliver(endpoint.id, call.path["event_id"]):
        raise not_found("event")
    return 200, {"redelivered": True}


_W = "/api/v1/webhooks/{webhook_id}"
OPERATIONS: tuple[Operation, ...] = (
    Operation("GET", "/api/v1/webhooks", list_webhooks, "webhooks", "List webhook endpoints",
              "WebhookList", tag="webhooks"),
    Operation("POST", "/api/v1/webhooks", create_webhook, "webhooks",
              "Add a webhook endpoint (its secret is shown once)", "WebhookCreated", 201,
              body={"url": "url", "events": "events", "site_id": "id?"}, tag="webhooks"),
    Operation("GET", _W, get_webhook, "webhooks", "Get a webhook endpoint", "WebhookResult",
              tag="webhooks"),
    Operation("DELETE", _W, delete_webhook, "webhooks",
              "Delete a webhook endpoint (undelivered events are dropped)", "Deleted",
              tag="webhooks"),
    Operation("POST", _W + "/enable", enable_webhook, "webhooks",
              "Enable an endpoint again (after a day of failures disabled it)", "WebhookResult",
              tag="webhooks"),
    Operation("GET", _W + "/deliveries", list_deliveries, "webhooks",
              "The delivery log, newest first (status, latency, the answer's start)",
              "DeliveryList",
              params=(Param("limit", "limit", f"at most this many (default {DEFAULT_LIMIT})"),),
              tag="webhooks"),
    Operation("GET", _W + "/events", list_webhook_events, "webhooks",
              "The endpoint's events and their state (pending, delivered, failed)",
              "WebhookEventList", tag="webhooks"),
    Operation("POST", _W + "/events/{event_id}/redeliver", redeliver, "webhooks",
              "Send an event again, with the same webhook-id", "Redelivered", tag="webhooks"),
)
