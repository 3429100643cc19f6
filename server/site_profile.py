"""What a site shows its visitors: greeting, colour, logo, business hours, pre-chat fields and what
happens when nobody can answer. Kept as one JSON object per site; validated here, pure.

The widget receives it in its ``welcome`` (docs/protocol.md); the site's admin edits it with
``livechat site set`` (docs/deployment.md), and later in the panel.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any, Literal
from urllib.parse import urlsplit

from server.hours import Hours, is_open, next_change, parse_hours

PRECHAT_FIELDS = ("name", "email")
Offline = Literal["form", "chat"]
Theme = Literal["auto", "light", "dark"]
THEMES = ("auto", "light", "dark")
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
DEFAULT_COLOR = "#1f5fbf"


@dataclass(frozen=True, slots=True)
class Profile:
    #: The first words a visitor reads; empty uses the widget's own ("Hi! How can we help?").
    greeting: str = ""
    #: The widget's accent colour; text on it is black or white, whichever contrasts more.
    color: str = DEFAULT_COLOR
    #: An https image shown in the panel's header.
    logo: str = ""
    hours: Hours | None = None
    #: Asked before a chat starts (skipped for identified visitors): a subset of PRECHAT_FIELDS.
    prechat: tuple[str, ...] = ()
    #: When nobody is online or it is outside business hours: "form" shows a leave-a-message
    #: form (name, email, message) that queues a conversation; "chat" lets the visitor chat and
    #: wait.
    offline: Offline = "form"
    #: Agents see what the visitor is typing before it is sent; the widget tells the visitor.
    typing_preview: bool = False
    #: The widget's colours: "auto" follows the visitor's system (prefers-color-scheme).
    theme: Theme = "auto"
    #: The sender of the site's emails ("Acme Support <support@acme.example>"); empty: the
    #: server's LIVECHAT_EMAIL_FROM (docs/email.md).
    email_from: str = ""
    #: Email the visitor the conversation when it is resolved (if their address is known).
    email_transcript: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"greeting": self.greeting, "color": self.color, "logo": self.logo,
                "hours": ({"tz": self.hours.tz, "text": self.hours.text()}
                          if self.hours else None),
                "prechat": list(self.prechat), "offline": self.offline,
                "typing_preview": self.typing_preview, "theme": self.theme,
                "email_from": self.email_from, "email_transcript": self.email_transcript}

    def for_visitor(self, now: float) -> dict[str, Any]:
        """What the widget is told: settings, and whether the site is open now and until when."""
        change = next_change(self.hours, now)
        return {"greeting": self.greeting, "color": self.color, "logo": self.logo,
                "prechat": list(self.prechat), "offline": self.offline,
                "typing_preview": self.typing_preview, "theme": self.theme,
                "open": is_open(self.hours, now),
                "next_change": int(change * 1000) if change is not None else None}

    def logo_origin(self) -> str | None:
        if not self.logo:
            return None
        parts = urlsplit(self.logo)
        return f"{parts.scheme}://{parts.netloc}"


def check_color(value: str) -> str:
    if not _COLOR.fullmatch(value):
        raise ValueError("colour is #rrggbb")
    return value.lower()


def check_logo(value: str) -> str:
    if not value:
        return ""
    parts = urlsplit(value)
    if (parts.scheme != "https" or not parts.netloc or len(value) > 500
            or any(c in value for c in " \"'<>\\")):
        raise ValueError("logo is an https:// URL of at most 500 characters")
    return value


def check_greeting(value: str) -> str:
    value = value.strip()
    if len(value) > 300 or "\x00" in value:
        raise ValueError("greeting is at most 300 characters")
    return value


def check_prechat(fields: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    unknown = set(fields) - set(PRECHAT_FIELDS)
    if unknown:
        raise ValueError(f"pre-chat fields are {', '.join(PRECHAT_FIELDS)}")
    return tuple(f for f in PRECHAT_FIELDS if f in fields)


def check_offline(value: str) -> Offline:
    if value not in ("form", "chat"):
        raise ValueError("offline is form or chat")
    return "form" if value == "form" else "chat"


_ADDRESS = re.compile(r"[^@\s<>\"(),;:\\]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")


def check_email_from(value: str) -> str:
    """``Name <address>`` or a bare address ('' removes it); no line breaks (header injection)."""
    from email.utils import formataddr, parseaddr
    value = value.strip()
    if not value:
        return ""
    if len(value) > 200 or any(c in value for c in "\r\n\x00"):
        raise ValueError("email-from is one line of at most 200 characters")
    name, address = parseaddr(value)
    if not _ADDRESS.fullmatch(address):
        raise ValueError("email-from is an address, or a name and <address>")
    return formataddr((name, address)) if name else address


def check_theme(value: str) -> Theme:
    if value not in THEMES:
        raise ValueError("theme is auto, light or dark")
    return "light" if value == "light" else "dark" if value == "dark" else "auto"


def from_json(data: dict[str, Any]) -> Profile:
    """The stored object → Profile. Values were checked when written."""
    hours = data.get("hours")
    return Profile(
        greeting=data.get("greeting", ""),
        color=data.get("color", DEFAULT_COLOR),
        logo=data.get("logo", ""),
        hours=parse_hours(hours["text"], hours["tz"]) if hours else None,
        prechat=tuple(data.get("prechat", ())),
        offline=data.get("offline", "form"),
        typing_preview=bool(data.get("typing_preview", False)),
        theme=check_theme(data.get("theme", "auto")),
        email_from=data.get("email_from", ""),
        email_transcript=bool(data.get("email_transcript", False)),
    )


def change(profile: Profile, **changes: Any) -> Profile:
    """A new Profile with the given values checked and set (None leaves a value as it is).
    ``hours=""`` removes business hours; ``hours`` needs ``tz``."""
    checked: dict[str, Any] = {}
    if changes.get("greeting") is not None:
        checked["greeting"] = check_greeting(changes["greeting"])
    if changes.get("color") is not None:
        checked["color"] = check_color(changes["color"])
    if changes.get("logo") is not None:
        checked["logo"] = check_logo(changes["logo"])
    if changes.get("prechat") is not None:
        checked["prechat"] = check_prechat(changes["prechat"])
    if changes.get("offline") is not None:
        checked["offline"] = check_offline(changes["offline"])
    if changes.get("theme") is not None:
        checked["theme"] = check_theme(changes["theme"])
    if changes.get("typing_preview") is not None:
        if not isinstance(changes["typing_preview"], bool):
            raise ValueError("typing_preview is true or false")
        checked["typing_preview"] = changes["typing_preview"]
    if changes.get("email_from") is not None:
        checked["email_from"] = check_email_from(changes["email_from"])
    if changes.get("email_transcript") is not None:
        if not isinstance(changes["email_transcript"], bool):
            raise ValueError("email_transcript is true or false")
        checked["email_transcript"] = changes["email_transcript"]
    if changes.get("hours") is not None:
        text: str = changes["hours"]
        tz: str = changes.get("tz") or (profile.hours.tz if profile.hours else "")
        if text and not tz:
            raise ValueError("business hours need a time zone (e.g. Europe/Lisbon)")
        checked["hours"] = parse_hours(text, tz) if text else None
    elif changes.get("tz") is not None:
        if profile.hours is None:
            raise ValueError("set business hours along with the time zone")
        checked["hours"] = parse_hours(profile.hours.text(), changes["tz"])
    return replace(profile, **checked)
