"""docs/protocol.md, the server's lists and the clients stay in step."""

from __future__ import annotations

import re

from server import protocol
from server.errors import Close, Code
from tests.live import ROOT

DOC = (ROOT / "docs" / "protocol.md").read_text()
SOCKET_JS = (ROOT / "widget" / "static" / "socket.js").read_text()
CLIENTS = {"visitor": (ROOT / "widget" / "static" / "frame.js").read_text(),
           "agent": (ROOT / "agent_ui" / "static" / "panel.js").read_text()}


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
    documented = set(re.findall(r"^\| `([a-z]+)` +\|", server_section, re.M))
    for role, client in CLIENTS.items():
        frames = set(protocol.SERVER_FRAMES[role])
        assert frames <= documented
        handled = set(re.findall(r'f\.type === "([a-z]+)"', client))
        handled |= set(re.findall(r'frame\.type === "([a-z]+)"', SOCKET_JS))
        assert frames == handled, (role, frames ^ handled)


def test_clients_use_the_documented_close_ranges() -> None:
    assert "code >= 4400 && code < 4500" in SOCKET_JS
    assert all(c.reconnect == (not 4400 <= c < 4500) for c in Close if c != Close.NORMAL
               and c != Close.TOO_BIG)
    assert "4401" in SOCKET_JS  # re-authenticate instead of giving up


def test_clients_never_build_html_from_strings() -> None:
    panel = ROOT / "agent_ui" / "static"
    for name, source in {**CLIENTS, "socket": SOCKET_JS,
                         "loader": (ROOT / "widget" / "widget.js").read_text(),
                         **{f.name: f.read_text() for f in sorted(panel.glob("*.js"))}}.items():
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert sink not in source, (name, sink)
