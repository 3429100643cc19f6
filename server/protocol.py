"""Every wire frame as a typed value: the frames clients send (server/frames.py), parsed strictly
(server/parsing.py), and the encoding of what the server sends (here). Pure: no I/O, no
Starlette. ``docs/protocol.md`` is the prose version of these modules.
"""

from __future__ import annotations

from typing import Any

import orjson

from server.errors import Code
from server.frames import (
    AssignTeam,
    Attributes,
    Block,
    CancelFollowUp,
    Claim,
    Context,
    DeleteCanned,
    FollowUp,
    Frame,
    Handoff,
    Hello,
    History,
    Leave,
    ListBlocks,
    ListConversations,
    ListFollowUps,
    ListMentions,
    Note,
    Open,
    Ping,
    Profile,
    Rate,
    Read,
    Reopen,
    Resolve,
    Role,
    SaveCanned,
    Search,
    Send,
    Snooze,
    Status,
    Tag,
    Transcript,
    Transfer,
    Typing,
    Unblock,
)
from server.parsing import check_fields, frame_types, parse, request_id, validate_text

VERSION = 1

#: What the server sends to each role (docs/protocol.md documents each; a test checks that the
#: widget and the panel handle each).
SERVER_FRAMES: dict[Role, tuple[str, ...]] = {
    "visitor": ("welcome", "message", "ack", "conversation", "queue", "availability", "typing",
                "read", "error", "pong"),
    "agent": ("welcome", "message", "ack", "conversation", "conversations", "inbox", "typing",
              "presence", "read", "visited", "teams", "colleagues", "canned", "mention",
              "mentions_seen", "error", "pong"),
}


def encode(frame: dict[str, Any]) -> bytes:
    return orjson.dumps(frame)


def error(code: Code, message: str, request: str | None = None, *,
          retry_after: int | None = None) -> bytes:
    frame: dict[str, Any] = {"type": "error", "code": code.value, "message": message}
    if request is not None:
        frame["id"] = request
    if retry_after is not None:
        frame["retry_after"] = retry_after
    return encode(frame)


def own(message: dict[str, Any], in_ack: bool) -> dict[str, Any]:
    """The ``message`` of a send's ack: the sender's own message, which its socket is not sent
    again as a frame — unless it was already (a resend's ack, or a catch-up that read the store
    first): then none, and the frame is, or was, in its place in the stream."""
    return {"message": message} if in_ack else {}


def ack(request: str, **result: Any) -> bytes:
    return encode({"type": "ack", "id": request, **result})


__all__ = [
    "SERVER_FRAMES",
    "VERSION",
    "AssignTeam",
    "Attributes",
    "Block",
    "CancelFollowUp",
    "Claim",
    "Context",
    "DeleteCanned",
    "FollowUp",
    "Frame",
    "Handoff",
    "Hello",
    "History",
    "Leave",
    "ListBlocks",
    "ListConversations",
    "ListFollowUps",
    "ListMentions",
    "Note",
    "Open",
    "Ping",
    "Profile",
    "Rate",
    "Read",
    "Reopen",
    "Resolve",
    "Role",
    "SaveCanned",
    "Search",
    "Send",
    "Snooze",
    "Status",
    "Tag",
    "Transcript",
    "Transfer",
    "Typing",
    "Unblock",
    "ack",
    "check_fields",
    "encode",
    "error",
    "frame_types",
    "own",
    "parse",
    "request_id",
    "validate_text",
]
