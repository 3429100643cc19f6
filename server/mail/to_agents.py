"""The emails to agents (docs/email.md, "What is sent, when"): an invitation and a password
reset, "Assigned to you", "Mentioned", and the daily digest; each built when its job is due, for
the conversation and the agent as they are then (or why none goes: a string). In English (an
agent's language is known to their browser only)."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formataddr, parseaddr
from typing import TYPE_CHECKING

from server.auth import AgentSession, Tokens
from server.mail import compose
from server.store.outbox import ASSIGNED, DIGEST, INVITE, MENTION, RESET, Job, cause_seq

if TYPE_CHECKING:
    from server.mail.service import Mail

#: An email, its sender's address, and the counts the worker logs; or why there is none.
Built = str | tuple[EmailMessage, str, int, int]
KINDS = (INVITE, RESET, ASSIGNED, MENTION, DIGEST)
#: How many messages after a transfer are looked at for the agent's own (its email is due
#: ``LIVECHAT_EMAIL_DELAY`` after it: a conversation seldom has more by then).
ANSWERED_WITHIN = 200


async def build(mail: Mail, job: Job) -> Built:
    """The email of a job of ``KINDS``."""
    if job.kind == ASSIGNED:
        return await _assigned(mail, job)
    if job.kind == MENTION:
        return await _mention(mail, job)
    if job.kind == DIGEST:
        return await _digest(mail, job)
    return await _invitation_or_reset(mail, job)


async def _invitation_or_reset(mail: Mail, job: Job) -> Built:
    """The link is made now, for the agent as they are now: an invitation already accepted,
    or a password changed since, makes it void, as the same link shown to an admin."""
    agent = await mail.store.agent(job.agent_id or "")
    if agent is None or not agent.active:
        return "the agent is gone or inactive"
    tokens = Tokens(mail.settings.secret_keys, mail.clock)
    session = AgentSession(agent.id, agent.session_generation)
    public = mail.settings.public_url
    if job.kind == INVITE:
        link = f"{public}/agent#invite={tokens.invite_token(session)}"
    else:
        link = f"{public}/agent/reset#token={tokens.reset_token(session)}"
    sender = _sender(mail)
    message = compose.agent_email(job.kind, name=agent.name, link=link, sender=sender,
                                  recipient=job.recipient, message_id=mail.message_id(job),
                                  sent_at=mail.clock())
    return message, parseaddr(sender)[1], 0, 1


def _sender(mail: Mail) -> str:
    return mail.settings.email_from or formataddr(("Live chat", f"noreply@{mail.domain}"))


async def _assigned(mail: Mail, job: Job) -> Built:
    """Only if the conversation is still theirs, they have not written in it since (they saw
    it come, live) and they have no panel open."""
    conv = await mail.store.conversation(job.conversation_id or "")
    agent = await mail.store.agent(job.agent_id or "")
    if conv is None or agent is None or conv.assignee_id != agent.id:
        return "no longer theirs"
    if conv.status == "resolved":
        return "resolved"
    # The transfer's note (just before it), the transfer, and what came after: one read.
    seq = cause_seq(job)
    around = await mail.store.messages_after(conv.id, max(0, seq - 2), ANSWERED_WITHIN + 2)
    if any(m.seq > seq and m.author_id == agent.id and m.kind in ("text", "note")
           for m in around):
        return "the agent has written in it since"
    if mail.agent_online is not None and await mail.agent_online(conv.site_id, agent.id):
        return "the agent is online"
    site = await mail.store.site(conv.site_id)
    visitor = conv.visitor_name or "A visitor"
    lines = [f"Hi {agent.name},", f"{visitor} ({site.name if site else conv.site_id}) is "
             f"waiting for you. Last message: \u201c{conv.last_message or '…'}\u201d"]
    # The colleague's note that came with the transfer (written with it, just before it: a
    # black-box tester missed it here).
    event = next((m for m in around if m.seq == seq), None)
    note = next((m for m in around if m.seq == seq - 1 and m.kind == "note"), None)
    if event is not None and note is not None and note.created_at == event.created_at:
        lines.append(f"{note.author_name or 'A colleague'}'s note: \u201c{note.body}\u201d")
    return _about_conversation(
        mail, job, conv.id, f"A conversation was assigned to you: {visitor}", lines)


async def _mention(mail: Mail, job: Job) -> Built:
    """Only if the note is still there (not emptied by an erasure), the agent still works
    on its site, has not opened the conversation since, and has no panel open now."""
    conv = await mail.store.conversation(job.conversation_id or "")
    agent = await mail.store.agent(job.agent_id or "")
    if conv is None or agent is None or not agent.active or \
            conv.site_id not in await mail.store.agent_site_ids(agent):
        return "the agent no longer works on the conversation's site"
    seq = cause_seq(job)
    note = next((m for m in await mail.store.messages_after(conv.id, seq - 1, 1)
                 if m.seq == seq and m.kind == "note"), None)
    # (An erasure empties the note and its mentions: nothing to tell.)
    if note is None or agent.id not in (note.data or {}).get("mentions", ()):
        return "the note is gone"
    if await mail.store.mention_seen(agent.id, conv.id, seq):
        return "the agent opened the conversation since"
    if mail.agent_online is not None and await mail.agent_online(conv.site_id, agent.id):
        return "the agent is online"
    site = await mail.store.site(conv.site_id)
    visitor = conv.visitor_name or "a visitor"
    author = note.author_name or "A colleague"
    return _about_conversation(
        mail, job, conv.id, f"{author} mentioned you: {visitor}",
        [f"Hi {agent.name},", f"{author} mentioned you in a note on the conversation with "
         f"{visitor} ({site.name if site else conv.site_id}):", f"\u201c{note.body}\u201d"])


def _about_conversation(mail: Mail, job: Job, conversation_id: str, subject: str,
                        lines: list[str]) -> Built:
    """A notice about one conversation, linking to the panel, which opens it once the agent is
    signed in."""
    sender = _sender(mail)
    message = compose.agent_notice(
        subject=subject, lines=lines, action="Open the conversation", sender=sender,
        link=f"{mail.settings.public_url}/agent#conversation={conversation_id}",
        recipient=job.recipient, message_id=mail.message_id(job), sent_at=mail.clock())
    return message, parseaddr(sender)[1], 0, 1


async def _digest(mail: Mail, job: Job) -> Built:
    """The 24 hours before the digest hour of the job's day: conversations nobody
    answered (none: no email)."""
    day = job.dedupe.rsplit(":", 1)[1]
    end = datetime.fromisoformat(day).replace(
        hour=max(0, mail.settings.email_digest_hour), tzinfo=UTC).timestamp()
    missed = await mail.outbox.missed(int((end - 24 * 3600) * 1000), int(end * 1000))
    if not missed:
        return "nothing missed"
    agent = await mail.store.agent(job.agent_id or "")
    if agent is None:
        return "the agent is gone"
    sites = {s.id: s.name for s in await mail.store.sites()}
    shown = [f"\u2022 {c.visitor_name or 'A visitor'} ({sites.get(c.site_id, c.site_id)}): "
             f"\u201c{c.last_message or '…'}\u201d ({c.status})" for c in missed[:20]]
    more = [f"… and {len(missed) - 20} more."] if len(missed) > 20 else []
    count = "500+" if len(missed) > 500 else str(len(missed))
    sender = _sender(mail)
    message = compose.agent_notice(
        subject=f"{count} missed conversation{'s' if len(missed) != 1 else ''} "
                f"in the last 24 hours",
        lines=[f"Hi {agent.name},",
               f"No agent answered these {count} conversations in the 24 hours before "
               f"{day} {mail.settings.email_digest_hour:02d}:00 UTC:",
               "\n".join(shown + more)],
        link=f"{mail.settings.public_url}/agent", action="Open the panel", sender=sender,
        recipient=job.recipient, message_id=mail.message_id(job), sent_at=mail.clock())
    return message, parseaddr(sender)[1], 0, len(missed)
