"""The records the store keeps, as plain values, and their wire shapes."""

from __future__ import annotations

from dataclasses import field
from typing import Any, Literal

from server.avatars import avatar_url
from server.records import record
from server.site_profile import Profile

Status = Literal["waiting", "assigned", "resolved"]
Role = Literal["admin", "agent"]
#: text: something a person wrote (``data.attachment`` when a file came with it). joined /
#: resolved / transferred (to the author) / requeued (back to the queue) / rated (the visitor's
#: satisfaction, ``data.score`` 1-5, the comment as body): events in the conversation's
#: sequence, so that a client that resumes learns them in order with the messages.
#: note: an agent's internal note, shown to agents only (never sent to a visitor: server/hub.py).
#: reopened: an agent reopened a resolved conversation.
#: checkin: an agent's scheduled follow-up on a resolved conversation, sent to the visitor
#: (answering it reopens the conversation: docs/email.md).
#: email: what became of an email to the visitor (``data.email``: status sent | failed, to,
#: kind, count, error), shown to agents only (docs/email.md).
MessageKind = Literal["text", "joined", "resolved", "transferred", "requeued", "rated", "note",
                      "reopened", "email", "checkin"]
PRIVATE_KINDS = frozenset({"note", "email"})
AuthorType = Literal["visitor", "agent", "system"]
#: The password "hash" of an invited account: nobody can log in to it until the invite is used.
NO_PASSWORD = "invited$"
#: A bot (server/bots.py, server/store/bots.py) is an agent account whose id starts with this.
BOT_PREFIX = "bot_"


def is_bot(agent_id: str | None) -> bool:
    return bool(agent_id) and str(agent_id).startswith(BOT_PREFIX)


@record
class Site:
    id: str
    name: str
    allowed_origins: tuple[str, ...]
    created_at: int
    #: Waiting conversations go to the least busy online agent with room, instead of waiting to be
    #: claimed.
    auto_assign: bool = False
    #: Shared with the site's backend, which signs its users' ids with it (verified identity).
    identity_secret: str | None = None
    #: "mandatory": a visitor without a valid signed identity cannot chat at all.
    identity_mode: Literal["optional", "mandatory"] = "optional"
    #: What visitors see: greeting, colour, logo, hours, pre-chat fields, offline behaviour.
    profile: Profile = field(default_factory=Profile)
    #: A bot answers its new conversations first (server/bots.py), at any hour.
    has_bot: bool = False

    def settings(self) -> dict[str, Any]:
        """What admins see of a site (the admin API, ``livechat site list --json``): whether
        there is an identity secret, never the secret."""
        return {"id": self.id, "name": self.name, "allowed_origins": list(self.allowed_origins),
                "auto_assign": self.auto_assign, "identity_mode": self.identity_mode,
                "identity_secret": bool(self.identity_secret), **self.profile.to_json()}


@record
class Agent:
    id: str
    email: str
    name: str
    password_hash: str
    role: Role
    active: bool
    session_generation: int
    created_at: int
    #: Most conversations assigned to this agent at once (auto-assignment never exceeds it).
    capacity: int = 5
    last_assigned_at: int = 0
    #: The picture the agent uploaded (a file in the uploads folder, and its type), or None.
    avatar_file: str | None = None
    avatar_type: str | None = None

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "email": self.email, "role": self.role,
                "capacity": self.capacity, "avatar": avatar_url(self.id),
                "has_avatar": self.avatar_file is not None}

    def account(self, sites: list[str], teams: list[str] | None = None) -> dict[str, Any]:
        """What admins see of an account (never its password hash)."""
        shown = {**self.public(), "active": self.active, "sites": sites,
                 "invited": self.password_hash == NO_PASSWORD}
        if teams is not None:
            shown["teams"] = teams
        return shown


@record
class Conversation:
    id: str
    site_id: str
    visitor_id: str
    status: Status
    assignee_id: str | None
    assignee_name: str | None
    last_seq: int
    last_message: str
    created_at: int
    updated_at: int
    visitor_name: str | None = None
    visitor_email: str | None = None
    visitor_verified: bool = False
    #: The highest seq the visitor / an agent has seen ("seen" receipts).
    visitor_read_seq: int = 0
    agent_read_seq: int = 0
    rating: int | None = None
    rating_comment: str | None = None
    tags: tuple[str, ...] = ()
    #: The visitor's messages no agent has seen yet.
    unread: int = 0
    #: Out of the inbox until then (ms), or until the visitor writes.
    snoozed_until: int | None = None
    team_id: str | None = None
    team_name: str | None = None
    #: The last seq a visitor can receive (internal notes are not counted).
    visitor_last_seq: int = 0
    #: When it reached people (ms): its start, its bot's handoff, or its reopening by the
    #: visitor's answer to a check-in. The queue's order.
    queued_at: int = 0

    def summary(self) -> dict[str, Any]:
        """What an agent's inbox shows."""
        return {
            "id": self.id,
            "site_id": self.site_id,
            "visitor": {"id": self.visitor_id,
                        "name": self.visitor_name or visitor_display_name(self.visitor_id),
                        "email": self.visitor_email, "verified": self.visitor_verified},
            "status": self.status,
            "assignee": (
                {"id": self.assignee_id, "name": self.assignee_name,
                 "avatar": avatar_url(self.assignee_id),
                 "bot": self.assignee_id.startswith("bot_")} if self.assignee_id else None
            ),
            "last_seq": self.last_seq,
            "last_message": self.last_message,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "queued_at": self.queued_at,
            "visitor_read_seq": self.visitor_read_seq,
            "rating": self._rating(),
            "tags": list(self.tags),
            "unread": self.unread,
            "snoozed_until": self.snoozed_until,
            "team": {"id": self.team_id, "name": self.team_name} if self.team_id else None,
        }

    def _rating(self) -> dict[str, Any] | None:
        if self.rating is None:
            return None
        return {"score": self.rating, "comment": self.rating_comment}

    def visitor_state(self) -> dict[str, Any]:
        """What the visitor is told about their conversation (no agent ids or emails)."""
        return {
            "id": self.id,
            "status": self.status,
            "assignee": ({"name": self.assignee_name, "avatar": avatar_url(self.assignee_id),
                          "bot": self.assignee_id.startswith("bot_")}
                         if self.assignee_name and self.assignee_id else None),
            "last_seq": self.visitor_last_seq,
            "agent_read_seq": self.agent_read_seq,
            "visitor_read_seq": self.visitor_read_seq,
            "rating": self._rating(),
        }


@record
class Message:
    conversation_id: str
    seq: int
    client_msg_id: str | None
    kind: MessageKind
    author_type: AuthorType
    author_id: str | None
    author_name: str | None
    body: str
    created_at: int
    #: An attachment ({id, name, type, size, url}) or a rating ({score}).
    data: dict[str, Any] | None = None

    @property
    def private(self) -> bool:
        return self.kind in PRIVATE_KINDS

    def frame(self) -> dict[str, Any]:
        author: dict[str, Any] = {"type": self.author_type, "id": self.author_id,
                                  "name": self.author_name}
        if self.author_type == "agent" and self.author_id:
            author["avatar"] = avatar_url(self.author_id)
            if self.author_id.startswith("bot_"):  # a bot (server/store/bots.py)
                author["bot"] = True
        frame = {
            "type": "message",
            "conversation_id": self.conversation_id,
            "seq": self.seq,
            "id": self.client_msg_id,
            "kind": self.kind,
            "author": author,
            "body": self.body,
            "at": self.created_at,
        }
        if self.data:
            frame.update(self.data)
        return frame

    def visitor_frame(self) -> dict[str, Any]:
        """What a visitor is sent: agents are known to visitors by name and picture, not by
        internal id."""
        frame = self.frame()
        if self.author_type != "visitor":
            frame["author"] = {key: value for key, value in frame["author"].items()
                               if key != "id"}
        return frame


@record
class Attachment:
    """A file a visitor or agent uploaded. Its id is an unguessable capability: whoever is shown
    the message may fetch ``/files/<id>``; nobody can list or guess others."""

    id: str
    site_id: str
    uploader_id: str
    name: str
    content_type: str
    size: int
    created_at: int

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "type": self.content_type, "size": self.size,
                "url": f"/files/{self.id}"}


@record
class Visitor:
    id: str
    site_id: str
    name: str | None
    email: str | None
    verified: bool
    attributes: dict[str, Any]
    #: What the visitor's browser told us (the panel's context column).
    user_agent: str | None = None
    language: str | None = None
    timezone: str | None = None
    referrer: str | None = None

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "email": self.email, "verified": self.verified,
                "attributes": self.attributes, "user_agent": self.user_agent,
                "language": self.language, "timezone": self.timezone, "referrer": self.referrer}


@record
class Team:
    id: str
    name: str
    members: tuple[str, ...]
    #: A team works on one site; its members are agents of that site.
    site_id: str = ""

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "site_id": self.site_id, "name": self.name,
                "members": list(self.members)}


@record
class Block:
    """An entry of a site's block list: a visitor, or the address a visitor came from (the
    address itself is never shown)."""

    id: str
    site_id: str
    visitor_id: str
    visitor_name: str | None
    address: bool
    #: ms; None: until unblocked.
    until: int | None
    reason: str | None
    by_name: str
    created_at: int
    #: The address of an address block, where the server needs it (to close the sockets that
    #: come from it); never in ``public``.
    ip: str | None = None

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "site_id": self.site_id,
                "kind": "address" if self.address else "visitor",
                "visitor": {"id": self.visitor_id,
                            "name": self.visitor_name or visitor_display_name(self.visitor_id)},
                "until": self.until, "reason": self.reason, "by": {"name": self.by_name},
                "created_at": self.created_at}


@record
class Hit:
    """A search result: a conversation and the message that matched (``seq`` 0: the visitor's
    name or email matched)."""

    conversation: Conversation
    seq: int
    snippet: str

    def public(self) -> dict[str, Any]:
        return {"conversation": self.conversation.summary(), "seq": self.seq,
                "snippet": self.snippet}


@record
class Page:
    url: str
    title: str
    at: int


@record
class Canned:
    """A canned response: ``/shortcut`` in the composer inserts ``body`` (placeholders such as
    ``{{visitor.first_name}}`` are filled in by the panel, and editable before sending)."""

    id: str
    site_id: str
    #: None: shared with every agent of the site; else one agent's own.
    owner_id: str | None
    shortcut: str
    body: str
    updated_at: int

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "site_id": self.site_id, "shared": self.owner_id is None,
                "shortcut": self.shortcut, "body": self.body}


@record
class Load:
    """An online agent's load, as routing sees it."""

    agent_id: str
    active: int
    capacity: int
    last_assigned_at: int


@record
class Change:
    """What one write did: the conversation after it and the messages it appended, in order.

    ``duplicate`` is true when the write was a resend whose effect was already stored; then
    ``messages`` holds the original message (for the ack) and nothing is published again.
    """

    conversation: Conversation
    messages: tuple[Message, ...]
    created: bool = False
    duplicate: bool = False


def visitor_display_name(visitor_id: str) -> str:
    """A short, stable name for an anonymous visitor ("Visitor K7QX")."""
    tail = "".join(ch for ch in visitor_id.split("_", 1)[-1] if ch.isalnum())
    return f"Visitor {tail[:4].upper()}"
