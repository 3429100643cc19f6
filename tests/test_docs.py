"""docs/protocol.md, the server's lists and the clients stay in step."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

from server import protocol
from server.errors import Close, Code
from tests.live import ROOT

DOC = (ROOT / "docs" / "protocol.md").read_text()
SOCKET_JS = (ROOT / "widget" / "static" / "socket.js").read_text()


def sources(folder: Path) -> str:
    """Every module of a client (they are ES modules, one file per concern)."""
    return "\n".join(p.read_text() for p in sorted(folder.rglob("*.js")))


CLIENTS = {"visitor": sources(ROOT / "widget" / "static" / "frame"),
           "agent": sources(ROOT / "agent_ui" / "static")}


def test_every_error_code_is_documented() -> None:
    section = DOC.split("## Error codes")[1].split("## Close codes")[0]
    documented = set(re.findall(r"^\| `([a-z_]+)` +\|", section, re.M))
    assert {c.value for c in Code} == documented


def test_every_close_code_is_documented() -> None:
    documented = {int(c) for c in re.findall(r"^\| `(\d{4})` \|", DOC, re.M)}
    assert {int(c) for c in Close} == documented


def test_every_client_frame_is_documented() -> None:
    for role in ("visitor", "agent"):
        section = DOC.split(f"### {role.capitalize()}")[1].split("###")[0].split("## ")[0]
        documented = set(re.findall(r"^\| `([a-z_]+)` +\|", section, re.M))
        assert documented == set(protocol.frame_types(role)), role


def test_every_server_frame_is_documented_and_handled() -> None:
    server_section = DOC.split("## Server → client")[1].split("## Error codes")[0]
    documented = set(re.findall(r"^\| `([a-z_]+)` +\|", server_section, re.M))
    for role, client in CLIENTS.items():
        frames = set(protocol.SERVER_FRAMES[role])
        assert frames <= documented
        handled = set(re.findall(r'f\.type === "([a-z_]+)"', client))
        handled |= set(re.findall(r'frame\.type === "([a-z_]+)"', SOCKET_JS))
        assert frames == handled, (role, frames ^ handled)


def test_clients_use_the_documented_close_ranges() -> None:
    assert "code >= 4400 && code < 4500" in SOCKET_JS
    assert all(c.reconnect == (not 4400 <= c < 4500) for c in Close if c != Close.NORMAL
               and c != Close.TOO_BIG)
    assert "4401" in SOCKET_JS  # re-authenticate instead of giving up


def test_clients_never_build_html_from_strings() -> None:
    files = [*(ROOT / "widget").rglob("*.js"), *(ROOT / "agent_ui").rglob("*.js")]
    assert len(files) > 10
    for path in files:
        source = path.read_text()
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(",
                     "new Function"):
            assert sink not in source, (path, sink)


def lang_keys(path: Path, name: str = "export default") -> set[str]:
    """The keys of the object literal after ``name`` (strings blanked first)."""
    source = path.read_text()
    block = source[source.index(name):]
    block = re.sub(r'"(?:[^"\\]|\\.)*"', '""', block)
    block = block[:block.index("};")]
    return set(re.findall(r"([A-Za-z]\w*)\s*:", block))


def test_every_language_has_every_word() -> None:
    frame = ROOT / "widget" / "static" / "frame"
    english = lang_keys(frame / "i18n.js", "var en =")
    assert len(english) > 50
    for pack in sorted((frame / "lang").glob("*.js")):
        assert lang_keys(pack) == english, pack.name
    assert {p.stem for p in (frame / "lang").glob("*.js")} == {"pt", "el", "es", "fr", "de",
                                                                "ar", "he"}


class _Marked(HTMLParser):
    """The fixed words of the panel's page: texts marked data-i18n, attributes data-i18n-attr."""

    def __init__(self) -> None:
        super().__init__()
        self.keys: set[str] = set()
        self._open: list[tuple[str, bool, list[str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self._open.append((tag, "data-i18n" in found, []))
        for name in (found.get("data-i18n-attr") or "").split(","):
            if name:
                self.keys.add(found.get(name) or "")

    def handle_data(self, data: str) -> None:
        for _, _, texts in self._open:
            texts.append(data)

    def handle_endtag(self, tag: str) -> None:
        while self._open:
            name, marked, texts = self._open.pop()
            if marked:
                self.keys.add(" ".join("".join(texts).split()))
            if name == tag:
                return


def test_the_panel_speaks_every_language_completely() -> None:
    panel = ROOT / "agent_ui"
    used = set()
    for path in (panel / "static").glob("*.js"):
        used |= set(re.findall(r'\b(?:t\(|tInto\(\w+, )"((?:[^"\\]|\\.)*)"', path.read_text()))
    page = _Marked()
    page.feed((panel / "index.html").read_text())
    page.feed((panel / "reset.html").read_text())
    used |= page.keys
    assert len(used) > 200
    packs = sorted((panel / "static" / "lang").glob("*.js"))
    assert {p.stem for p in packs} == {"pt", "el", "es", "fr", "de", "ar", "he"}
    for pack in packs:
        source = pack.read_text()
        keys = set(re.findall(r'^  ("(?:[^"\\]|\\.)*"): ', source, re.M))
        assert {json.loads(k) for k in keys} == used, pack.name
