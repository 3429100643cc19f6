"""Knowledge-base articles as text: Markdown to safe HTML, plain text for search and
descriptions, slugs, languages and search queries. Pure: no I/O, no Starlette.

Markdown is rendered by markdown-it-py (CommonMark, tables and strikethrough) with raw HTML
*off* — ``<script>`` in a body is shown as text — and the result is then cleaned by nh3 (the
ammonia sanitiser) with a short list of tags and attributes: links only to ``http``, ``https``
and ``mailto`` (opened in a new tab, ``rel="noopener noreferrer nofollow"``), images only from
``https``. Either layer alone would stop the corpus in tests/test_kb.py; both run.
"""

from __future__ import annotations

import csv
import html
import io
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

import nh3
from markdown_it import MarkdownIt

#: Articles' limits (characters).
MAX_TITLE = 200
MAX_BODY = 100_000
MAX_CATEGORY = 80
MAX_KEYWORDS = 500
MAX_SLUG = 80
MAX_QUERY = 200
#: At most this many words of a query are searched.
MAX_WORDS = 12

_TAGS = {"p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "s", "del", "code",
         "pre", "blockquote", "ul", "ol", "li", "a", "img", "table", "thead", "tbody", "tr", "th",
         "td"}
_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title"}, "ol": {"start"},
               "th": {"style"}, "td": {"style"}}
_LANG = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})?$")
_SLUG_DROP = re.compile(r"[^a-z0-9]+")
_TAG = re.compile(r"<(/?)([a-zA-Z0-9]*)[^>]*>")
#: Tags inside a line of text: taken out without a space ("**30 days**." is "30 days.").
_INLINE = {"strong", "em", "s", "del", "code", "a", "img"}
_SPACE = re.compile(r"\s+")
_WORD = re.compile(r"\w+")

class _Markdown(MarkdownIt):
    def validateLink(self, url: str) -> bool:
        """Every link is parsed as a link, whatever its URL: ``sanitise`` then keeps only the
        ones it should (markdown-it's own check left a ``javascript:`` link as its source)."""
        return True


_markdown = _Markdown("commonmark", {"html": False, "linkify": False, "typographer": False})
_markdown.enable(["table", "strikethrough"])


@dataclass(frozen=True, slots=True)
class Rendered:
    #: Sanitised HTML, safe to put in a page.
    html: str
    #: The words a reader sees, for the search index and for descriptions.
    text: str


def _attribute(tag: str, name: str, value: str) -> str | None:
    """Links absolute (http, https, mailto), images only from https (a data: or http: image
    would be refused by the pages' policy anyway); table cells keep only their alignment."""
    if tag == "img" and name == "src":
        return value if value.lower().startswith("https://") else None
    if name == "href":  # no relative links either: an article is shown on several origins
        return value if value.lower().startswith(("https://", "http://", "mailto:")) else None
    if name == "style":
        return value if value in ("text-align:left", "text-align:right",
                                  "text-align:center") else None
    return value


def sanitise(markup: str) -> str:
    """HTML cleaned to the article's tags; links http/https/mailto only, opened elsewhere."""
    return nh3.clean(markup, tags=_TAGS, attributes=_ATTRIBUTES,
                     url_schemes={"http", "https", "mailto"}, attribute_filter=_attribute,
                     link_rel="noopener noreferrer nofollow",
                     set_tag_attribute_values={"a": {"target": "_blank"}},
                     strip_comments=True)


def render(markdown: str) -> Rendered:
    markup = sanitise(_markdown.render(markdown))
    return Rendered(markup, plain_text(markup))


def plain_text(markup: str) -> str:
    """The words of sanitised HTML: a block's tags part words, a line's own tags do not."""
    text = _TAG.sub(lambda m: "" if m.group(2).lower() in _INLINE else " ", markup)
    return _SPACE.sub(" ", html.unescape(text)).strip()


def summary(text: str, limit: int = 160) -> str:
    """The first ``limit`` characters of ``text``, cut at a word (meta descriptions, results)."""
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(",.;:") + "…"


def check_lang(value: str) -> str:
    """A language tag such as ``en`` or ``pt-br`` (lowercase)."""
    tag = value.strip().lower().replace("_", "-")
    if not _LANG.fullmatch(tag):
        raise ValueError("language is a tag such as en, pt or pt-br")
    return tag


def primary(lang: str) -> str:
    return lang.split("-", 1)[0].lower()


def slugify(title: str) -> str:
    """``Reset your password!`` -> ``reset-your-password``; accents dropped, at most 80 chars."""
    folded = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode().lower()
    return _SLUG_DROP.sub("-", folded).strip("-")[:MAX_SLUG].strip("-") or "article"


def check_text(name: str, value: str, limit: int, required: bool = True) -> str:
    value = value.strip()
    if required and not value:
        raise ValueError(f"{name} is required")
    if len(value) > limit:
        raise ValueError(f"{name} is at most {limit} characters")
    if "\x00" in value:
        raise ValueError(f"{name} has a NUL character")
    return value


def check_keywords(value: str) -> str:
    """An article's search keywords: words and phrases other than its own that readers search
    with (``UK, Britain, postage``), up to ``MAX_KEYWORDS`` characters; spaces collapsed."""
    return check_text("keywords", _SPACE.sub(" ", value), MAX_KEYWORDS, required=False)


#: Words that say nothing about a question's subject, in the frame's languages: left out when a
#: search falls back to any of its words (a question typed in full).
STOP_WORDS = frozenset("""
a about am an and any are as at be been but by can could did do does for from get got had has
have hello hi how i if in into is it its just me my no not of on or our please so than thanks
that the their them then there these they this those to too very was we were what when where
which who why will with would you your
o os as um uma uns umas de do da dos das em no na nos nas por para pelo pela com sem e ou mas
nao não sim que qual quais quando onde como porque eu me meu minha meus minhas se ja já é foi
ser estar esta está tem ter ha há isto isso este uns mais muito pode posso podem favor obrigado
ola olá bom boa dia
el la los las unos unas del con y pero cual cuando donde yo mi mis es son tengo puedo
le les une des du au aux pour avec sans et ne pas qui quoi quand où ou comment je mon ma mes
est sont ai peux
der die das ein eine einen dem den und oder aber nicht kein wie was wann wo ich mein meine mich
ist sind habe kann bitte für mit von zu im
""".split())
#: In a fallback search, longer words are searched by their first letters, so that a word finds
#: its other forms (``impermeável``: ``impermeabilização``; ``deliver``: ``delivery``).
_STEM = 6


#: One word of a search: its alternatives, each (letters, also as a prefix).
Word = list[tuple[str, bool]]


def search_words(query: str, every: bool) -> list[Word]:
    """The words of ``query`` a search looks for (letters and digits only: nothing in a query is
    syntax), at most ``MAX_WORDS``, without single letters and ``STOP_WORDS``, the last one also
    as a prefix (results as you type). When no article has them all (``every``), any of them is
    looked for, a word longer than six letters also by its first six (``impermeável``:
    ``impermeabilização``). A query of nothing but common words looks for them all."""
    words = _WORD.findall(query[:MAX_QUERY])[:MAX_WORDS]
    kept = [(n, w) for n, w in enumerate(words) if len(w) > 1 and w.lower() not in STOP_WORDS]
    if not kept and every:
        kept = list(enumerate(words))
    found: list[Word] = []
    for n, word in kept:
        last = n == len(words) - 1
        if not every and len(word) > _STEM:  # the word itself counts, and its other forms too
            found.append([(word, False), (word[:_STEM], True)])
        else:
            found.append([(word, last)])
    return found


KB_CSV_COLUMNS = ("kind", "id", "text", "lang", "views", "suggestions_opened", "helpful",
                  "not_helpful", "searches", "suggestions_accepted")


def stats_csv(stats: dict[str, Any]) -> str:
    """The knowledge base's report as CSV: one ``article`` line per article, one ``no_result``
    line per search that found nothing (its words, how many times), then ``total``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(KB_CSV_COLUMNS)
    for a in stats["articles"]:
        writer.writerow(["article", a["id"], _cell(a["title"]), a["lang"], a["views"],
                         a["suggestions_opened"], a["helpful"], a["not_helpful"], "", ""])
    for miss in stats["no_results"]:
        writer.writerow(["no_result", "", _cell(miss["query"]), "", "", "", "", "",
                         miss["count"], ""])
    writer.writerow(["total", "", "", "", stats["views"], stats["suggestions_opened"],
                     stats["helpful"], stats["not_helpful"], stats["searches"],
                     stats["suggestions_accepted"]])
    return out.getvalue()


def _cell(text: str) -> str:
    """A text cell a spreadsheet will not run as a formula (what visitors typed, titles)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
