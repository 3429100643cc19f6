"""Agents' avatars: where each one is, and the picture drawn when an agent has not uploaded one.
Pure.

Every agent has an avatar URL, ``/avatars/<key>``, whatever they uploaded: the key is a one-way
hash of the agent's id, so the URL is stable (a new picture keeps it; it is served with
``no-cache`` and an ETag, so browsers see a change on their next load), costs nothing to put in a
message frame (no lookup), and tells visitors nothing they could use: it names no account. The
server answers it with the agent's uploaded image, or with ``initials_svg``.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from xml.sax.saxutils import escape

_PREFIX = "/avatars/"
#: Backgrounds for generated initials, all with white text at WCAG AA contrast.
_COLOURS = ("#1f5fbf", "#0b7a4b", "#8e24aa", "#b3261e", "#00796b", "#5d4037", "#3949ab",
            "#ad1457", "#6b5b00", "#455a64")


@lru_cache(maxsize=4096)
def avatar_key(agent_id: str) -> str:
    return hashlib.sha256(b"livechat-avatar:" + agent_id.encode()).hexdigest()[:24]


def avatar_url(agent_id: str) -> str:
    return _PREFIX + avatar_key(agent_id)


def initials(name: str) -> str:
    """"Ana Lima" → "AL", "bo" → "B", "" → "?"."""
    words = [w for w in name.split() if w[:1].isalnum()]
    if not words:
        return "?"
    letters = words[0][0] + (words[-1][0] if len(words) > 1 else "")
    return letters.upper()


def initials_svg(name: str, key: str) -> str:
    """A round picture with the agent's initials, its colour chosen by the key (so one agent
    keeps one colour). Only letters of the name are in it, escaped: nothing can run."""
    colour = _COLOURS[int(key[:8], 16) % len(_COLOURS)] if key else _COLOURS[0]
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64" width="64" height="64">'
        f'<circle cx="32" cy="32" r="32" fill="{colour}"/>'
        '<text x="32" y="32" dy=".35em" text-anchor="middle" fill="#fff" '
        'font-family="system-ui,-apple-system,Segoe UI,Roboto,sans-serif" font-size="26" '
        f'font-weight="600">{escape(initials(name))}</text></svg>'
    )
