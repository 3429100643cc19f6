"""Every frame a client sends, as a typed value (what server/parsing.py makes of the JSON text).
Pure: no I/O. ``docs/protocol.md`` describes each.
"""

from __future__ import annotations

from typing import Literal

from server.records import record

Role = Literal["visitor", "agent"]


@record
class Hello:
    v: int
    site: str | None = None
    token: str | None = None
    conversation_id: str | None = None
    last_seq: int = 0
    epoch: str | None = None
    #: Verified identity, vouched for by the site's backend (docs/embedding.md).
    user_id: str | None = None
    user_expires: int | None = None
    user_hash: str | None = None
    user_name: str | None = None
    user_email: str | None = None
    #: A signed identity as an HS256 JWT (id, name, email and expiry all signed).
    user_jwt: str | None = None


@record
class Send:
    id: str
    #: Empty only when an attachment is sent (its file name becomes the body).
    body: str = ""
    conversation_id: str | None = None
    attachment: str | None = None


@record
class Profile:
    """What the visitor typed into the pre-chat or offline form."""

    id: str
    name: str | None = None
    email: str | None = None


@record
class Attributes:
    """Custom attributes from the site (``LiveChat('set', …)``); a null value removes one."""

    id: str
    attributes: dict[str, str | int | float | bool | None]


@record
class Read:
    """Everything up to ``seq`` has been seen (a "seen" receipt for the other side)."""

    seq: int
    conversation_id: str | None = None


@record
class Rate:
    id: str
    conversation_id: str
    score: int
    comment: str | None = None


@record
class Open:
    id: str
    conversation_id: str
    last_seq: int = 0


@record
class History:
    id: str
    conversation_id: str
    before_seq: int
    limit: int = 50


@record
class Leave:
    id: str
    conversation_id: str


@record
class Transcript:
    """Email the conversation to the visitor (docs/email.md)."""

    id: str
    conversation_id: str


@record
class FollowUp:
    """Schedule a check-in on a resolved conversation (``at``: ms since the epoch)."""

    id: str
    conversation_id: str
    at: int
    body: str | None = None


@record
class CancelFollowUp:
    id: str
    follow_up_id: str


@record
class ListFollowUps:
    id: str


@record
class ListMentions:
    id: str


@record
class Claim:
    id: str
    conversation_id: str


@record
class Resolve:
    id: str
    conversation_id: str


@record
class Transfer:
    id: str
    conversation_id: str
    agent_id: str
    #: An internal note for the colleague taking over.
    note: str | None = None


@record
class Note:
    id: str
    conversation_id: str
    body: str
    #: Colleagues the note is for (agent ids of the conversation's site): each is told.
    mentions: tuple[str, ...] = ()


@record
class Tag:
    id: str
    conversation_id: str
    tag: str
    on: bool


@record
class Snooze:
    id: str
    conversation_id: str
    #: ms since the epoch; None (or absent) wakes it now.
    until: int | None = None


@record
class AssignTeam:
    id: str
    conversation_id: str
    #: None (or absent): no team.
    team_id: str | None = None


@record
class Search:
    id: str
    query: str
    limit: int = 30


@record
class Reopen:
    id: str
    conversation_id: str


@record
class ListConversations:
    id: str
    status: str | None = None
    tag: str | None = None
    #: The page after (``updated_at``, ``id``) of the previous page's last conversation.
    before: int | None = None
    before_id: str | None = None
    limit: int = 50


@record
class SaveCanned:
    id: str
    site_id: str
    shortcut: str
    body: str
    canned_id: str | None = None
    shared: bool = False


@record
class DeleteCanned:
    id: str
    canned_id: str


@record
class Block:
    """Block a conversation's visitor (for ``hours``, or for good), and with ``address`` the
    address they came from too (for ``hours``, 24 by default)."""

    id: str
    conversation_id: str
    address: bool = False
    hours: int | None = None
    reason: str | None = None


@record
class Unblock:
    id: str
    block_id: str


@record
class ListBlocks:
    id: str


@record
class Context:
    """What the visitor's browser reports: the page they are on, language and time zone."""

    url: str | None = None
    title: str | None = None
    referrer: str | None = None
    language: str | None = None
    timezone: str | None = None


@record
class Typing:
    active: bool
    conversation_id: str | None = None
    #: What the visitor is typing, before it is sent: passed to agents only when the site has
    #: typing preview on (and the widget says so to the visitor); dropped otherwise.
    text: str | None = None


@record
class Status:
    id: str
    away: bool


@record
class Ping:
    id: str | None = None


@record
class Handoff:
    """The visitor asks for a person instead of the site's bot (server/bots.py)."""

    id: str


Frame = (Hello | Send | Open | History | Leave | Claim | Resolve | Transfer | Typing | Status
         | Ping | Handoff | Profile | Attributes | Read | Rate | Note | Tag | Reopen
         | ListConversations | SaveCanned | DeleteCanned | Context | Snooze | Search | AssignTeam
         | Block | Unblock | ListBlocks | Transcript | FollowUp | CancelFollowUp | ListFollowUps
         | ListMentions)
