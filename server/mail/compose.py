"""The emails, pure: a multipart message (plain text and HTML) in the visitor's language, with
the site's name, colour and logo, a link back to the chat and a one-click unsubscribe
(RFC 8058). Every visitor- or agent-written string is escaped in the HTML part."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

from server.mail.words import RTL, language, words


@dataclass(frozen=True, slots=True)
class Line:
    """One message in an email: who wrote it (already in the visitor's words) and what."""

    author: str
    body: str
    from_visitor: bool = False
    #: A file sent with it: its name and its absolute address (a link in the HTML part).
    file: tuple[str, str] | None = None

    @property
    def text(self) -> str:
        """The plain text part's: the words, then the file's name and address."""
        if self.file is None:
            return self.body
        name, url = self.file
        return "\n".join(part for part in (self.body, f"{name}: {url}") if part)


@dataclass(frozen=True, slots=True)
class Envelope:
    sender: str  # "Name <address>" or an address
    recipient: str
    message_id: str  # without angle brackets
    #: The conversation's earlier email and its thread's root (threading in mail clients).
    in_reply_to: str | None
    root_id: str
    reply_to: str | None
    chat_url: str
    unsubscribe_url: str
    sent_at: float


@dataclass(frozen=True, slots=True)
class Brand:
    name: str
    color: str
    logo: str


def _on(color: str) -> str:
    """Black or white text on ``color``, whichever contrasts more (as the widget does)."""
    r, g, b = (int(color[i:i + 2], 16) / 255 for i in (1, 3, 5))

    def lin(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    luminance = 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b)
    return "#000000" if (luminance + 0.05) / 0.05 > 1.05 / (luminance + 0.05) else "#ffffff"


def _file(file: tuple[str, str] | None) -> str:
    """A file sent with a message, as a link by its name (escaped: the name is theirs)."""
    if file is None:
        return ""
    name, url = file
    return (f'<div style="margin-top:6px"><a href="{html.escape(url)}">'
            f'{html.escape(name)}</a></div>')


def _paragraphs(text: str) -> str:
    """Escaped, with line breaks kept."""
    return html.escape(text).replace("\r\n", "\n").replace("\n", "<br>")


def build(kind: str, lang_tag: str | None, brand: Brand, envelope: Envelope,
          lines: list[Line], agent_name: str | None = None,
          rating_links: list[str] | None = None) -> EmailMessage:
    """``kind``: reply (the agents' unseen replies), transcript (the whole conversation) or
    rating (``rating_links``: the pages of the scores 1 to 5)."""
    lang = language(lang_tag)
    w = words(lang)
    site = brand.name
    if kind == "reply":
        subject = w["reply_subject"].format(site=site)
        intro = w["reply_intro"].format(agent=agent_name or site)
    elif kind == "rating":
        subject = w["rating_subject"].format(site=site)
        intro = w["rating_intro"].format(site=site)
    else:
        subject = w["transcript_subject"].format(site=site)
        intro = w["transcript_intro"].format(site=site)
    hint = w["reply_hint"] if envelope.reply_to else w["chat_hint"]
    why = w["why"].format(site=site)

    shown = [f"{line.author}:\n{line.text}" if kind == "transcript" else line.text
             for line in lines]
    if rating_links:
        shown = ["\n".join(f"{w['stars'].format(n=n)}: {link}"
                           for n, link in enumerate(rating_links, start=1))]
    plain = "\n\n".join([intro, *shown]) + (
        f"\n\n{hint}\n{envelope.chat_url}\n\n-- \n{why}\n"
        f"{w['unsubscribe']}: {envelope.unsubscribe_url}\n")

    color = brand.color
    fg = _on(color)
    direction = "rtl" if lang in RTL else "ltr"
    logo = (f'<img src="{html.escape(brand.logo)}" alt="" height="32" '
            f'style="height:32px;vertical-align:middle;margin-inline-end:8px">'
            if brand.logo else "")
    items = []
    for line in lines:
        side = "#f1f3f5" if line.from_visitor else "#ffffff"
        who = (f'<div style="font-size:12px;color:#555;margin-bottom:4px">'
               f'{html.escape(line.author)}</div>' if kind == "transcript" else "")
        items.append(f'<div style="background:{side};border:1px solid #e3e6ea;border-radius:8px;'
                     f'padding:10px 12px;margin:0 0 10px">{who}<div>{_paragraphs(line.body)}'
                     f'</div>{_file(line.file)}</div>')
    if rating_links:
        items = ['<p style="margin:0 0 10px">' + " ".join(
            f'<a href="{html.escape(link)}" title="{html.escape(w["stars"].format(n=n))}" '
            f'style="display:inline-block;min-width:36px;text-align:center;padding:8px 10px;'
            f'margin:0 4px 4px 0;border:1px solid {color};border-radius:6px;color:#1b1f24;'
            f'text-decoration:none">{"★" * n}</a>'
            for n, link in enumerate(rating_links, start=1)) + "</p>"]
    body_html = (
        f'<!doctype html><html lang="{lang}" dir="{direction}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width"><title>{html.escape(subject)}'
        f'</title></head><body style="margin:0;background:#f6f7f9;font-family:-apple-system,'
        f'Segoe UI,Roboto,Helvetica,Arial,sans-serif;font-size:15px;color:#1b1f24">'
        f'<div style="max-width:560px;margin:0 auto;padding:16px">'
        f'<div style="background:{color};color:{fg};padding:12px 16px;border-radius:8px 8px 0 0;'
        f'font-weight:600;font-size:16px">{logo}{html.escape(site)}</div>'
        f'<div style="background:#ffffff;padding:16px;border-radius:0 0 8px 8px">'
        f'<p style="margin:0 0 12px">{html.escape(intro)}</p>{"".join(items)}'
        f'<p style="margin:16px 0 8px">{html.escape(hint)}</p>'
        f'<p style="margin:0"><a href="{html.escape(envelope.chat_url)}" style="display:inline-'
        f'block;background:{color};color:{fg};text-decoration:none;padding:10px 16px;'
        f'border-radius:6px">{html.escape(w["continue"])}</a></p></div>'
        f'<p style="font-size:12px;color:#6a737d;margin:12px 4px">{html.escape(why)} '
        f'<a href="{html.escape(envelope.unsubscribe_url)}" style="color:#6a737d">'
        f'{html.escape(w["unsubscribe"])}</a></p></div></body></html>')

    msg = EmailMessage()
    msg["From"] = envelope.sender
    msg["To"] = envelope.recipient
    if envelope.reply_to:
        msg["Reply-To"] = formataddr((header_text(site), envelope.reply_to))
    msg["Subject"] = header_text(subject)
    msg["Date"] = format_datetime(datetime.fromtimestamp(envelope.sent_at, UTC))
    msg["Message-ID"] = f"<{envelope.message_id}>"
    references = [f"<{envelope.root_id}>"]
    if envelope.in_reply_to:
        msg["In-Reply-To"] = f"<{envelope.in_reply_to}>"
        references.append(f"<{envelope.in_reply_to}>")
    else:
        msg["In-Reply-To"] = f"<{envelope.root_id}>"
    msg["References"] = " ".join(references)
    msg["List-Unsubscribe"] = f"<{envelope.unsubscribe_url}>"
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    if kind in ("transcript", "rating"):
        msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(plain)
    msg.add_alternative(body_html, subtype="html")
    msg["Content-Language"] = lang  # (after the parts: set_content moves Content-* headers)
    return msg


def agent_email(kind: str, *, name: str, link: str, sender: str, recipient: str,
                message_id: str, sent_at: float, inviter: str | None = None) -> EmailMessage:
    """An invitation (``invite``: the link sets the password, once, within 7 days) or a
    password reset (``reset``: once, within a day), to an agent. In English: an agent's
    language is known to their browser only."""
    if kind == "invite":
        subject = "You're invited to answer chats"
        lines = [f"Hi {name},",
                 f"{inviter or 'An admin'} invited you to answer visitors' chats. "
                 "Choose your password to sign in:",
                 "This link works once, within 7 days."]
        action = "Choose my password"
    else:
        subject = "Reset your password"
        lines = [f"Hi {name},", "To choose a new password, open this link:",
                 "It works once, within a day, and signs you out everywhere else. If you did "
                 "not ask for it, ignore this email: your password stays as it is."]
        action = "Choose a new password"
    plain = f"{lines[0]}\n\n{lines[1]}\n{link}\n\n{lines[2]}\n"
    inner = (f'<p>{html.escape(lines[0])}</p><p>{html.escape(lines[1])}</p>{_button(link, action)}'
             f'<p style="color:#555">{html.escape(lines[2])}</p>')
    return _to_agent(subject, plain, inner, sender=sender, recipient=recipient,
                     message_id=message_id, sent_at=sent_at)


#: What no header may hold: a line break (the email library refuses to build one that does)
#: and the other control characters.
_NOT_IN_HEADERS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def header_text(value: str) -> str:
    """``value`` (a subject, a display name: names and words from the store) as one line."""
    return _NOT_IN_HEADERS.sub(" ", value)


def agent_notice(*, subject: str, lines: list[str], link: str, action: str, sender: str,
                 recipient: str, message_id: str, sent_at: float) -> EmailMessage:
    """A notice to an agent (a conversation assigned to them, the daily digest), in English.
    Every line is escaped in the HTML part: visitors' names and words are in them."""
    plain = "\n\n".join(lines) + f"\n\n{action}: {link}\n"
    paragraphs = "".join(f'<p style="margin:0 0 10px">{_paragraphs(line)}</p>' for line in lines)
    return _to_agent(subject, plain, paragraphs + _button(link, action), sender=sender,
                     recipient=recipient, message_id=message_id, sent_at=sent_at)


def _button(link: str, action: str) -> str:
    return (f'<p><a href="{html.escape(link)}" style="display:inline-block;background:#1f5fbf;'
            f'color:#ffffff;text-decoration:none;padding:10px 16px;border-radius:6px">'
            f'{html.escape(action)}</a></p>')


def _to_agent(subject: str, plain: str, inner_html: str, *, sender: str, recipient: str,
              message_id: str, sent_at: float) -> EmailMessage:
    """An automatic email to an agent, in English: ``inner_html`` is already escaped."""
    body_html = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>'
        f'{html.escape(subject)}</title></head><body style="font-family:-apple-system,Segoe UI,'
        f'Roboto,Helvetica,Arial,sans-serif;font-size:15px;color:#1b1f24;max-width:560px;'
        f'margin:0 auto;padding:16px">{inner_html}</body></html>')
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = recipient
    msg["Subject"] = header_text(subject)
    msg["Date"] = format_datetime(datetime.fromtimestamp(sent_at, UTC))
    msg["Message-ID"] = f"<{message_id}>"
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(plain)
    msg.add_alternative(body_html, subtype="html")
    return msg
