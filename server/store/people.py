"""What people did in a conversation, as opposed to its bot (server/bots.py), read from its
stored events: SQL expressions over a conversation ``c``, shared by the reports
(server/store/reports.py) and the waits visitors are told (server/store/queue.py).

A bot is an agent whose id starts with ``BOT_PREFIX`` (server/store/models.py). Plain standard
SQL: each expression is a subquery on the conversation's own messages (its primary key's
prefix), but for the first reply, which the conversation keeps."""

from __future__ import annotations

from server.store.models import BOT_PREFIX

_BOT = f"substr(coalesce(m.author_id, ''), 1, {len(BOT_PREFIX)}) = '{BOT_PREFIX}'"
_PERSON = f"m.author_type = 'agent' AND NOT ({_BOT})"
# Events by which an agent comes to have the conversation; and those, or a reply, by which a
# person joins it (a reply to a waiting conversation claims it first).
_HOLDS = "m.kind IN ('joined', 'transferred', 'reopened')"
_JOINS = f"m.kind IN ('joined', 'transferred', 'reopened', 'text') AND {_PERSON}"


def _first(condition: str) -> str:
    return ("(SELECT min(m.created_at) FROM messages m WHERE m.conversation_id = c.id "
            f"AND ({condition}))")


def _any(condition: str) -> str:
    return (f"EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = c.id "
            f"AND ({condition}))")


#: When a person first replied (a text; notes, events and a bot's texts are not replies); and
#: whether one did. Kept on the conversation by the reply's own write (``first_reply_at``:
#: server/store/base.py; schema step 28 found it in the messages of older conversations), so
#: the widget's "typically replies in …", read at every visitor's hello, reads no messages for
#: it.
PERSON_REPLY, PERSON_REPLIED = "c.first_reply_at", "c.first_reply_at IS NOT NULL"
#: When a person first joined: claimed it (or was auto-assigned it), had it transferred to them,
#: reopened it, or replied; and whether one did.
PERSON_JOIN, PERSON_JOINED = _first(_JOINS), _any(_JOINS)
#: 1 when a bot answered it first (the first agent to have it was a bot), else 0.
BOT_FIRST = (f"coalesce((SELECT CASE WHEN {_BOT} THEN 1 ELSE 0 END FROM messages m "
             f"WHERE m.conversation_id = c.id AND m.author_type = 'agent' AND {_HOLDS} "
             "ORDER BY m.seq LIMIT 1), 0)")
#: When it first left its bot for people: a ``requeued`` event (the bot's handoff, or the router
#: requeueing it) or a person joining. (Meaningful where ``BOT_FIRST``.)
HANDED = _first(f"m.kind = 'requeued' OR ({_JOINS})")
#: When the conversation reached people: its start, or, for one a bot answered first, when it
#: left the bot (NULL while the bot has had it alone).
PEOPLE_FROM = f"CASE WHEN {BOT_FIRST} = 1 THEN {HANDED} ELSE c.created_at END"
