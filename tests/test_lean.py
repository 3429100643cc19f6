"""The widget's and panel's scripts and stylesheets are served without their comments
(server/lean.py): smaller, and still the same code."""

from __future__ import annotations

import gzip
import re
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from server.lean import strip
from tests.live import ROOT, ServerProcess

SOURCES = sorted([*ROOT.glob("widget/**/*.js"), *ROOT.glob("agent_ui/**/*.js")])
STYLES = sorted([*ROOT.glob("widget/**/*.css"), *ROOT.glob("agent_ui/**/*.css")])


def test_there_is_nothing_stripping_could_cut_into() -> None:
    """Whole-line comments are only ever comments in our files: no template literals, and no
    string that spans lines (a line inside one could look like a comment)."""
    for path in SOURCES:
        text = path.read_text()
        assert "`" not in strip(text, ".js"), f"{path}: a template literal"
        for number, line in enumerate(text.splitlines(), start=1):
            assert not line.rstrip().endswith("\\"), f"{path}:{number}: a continued string"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_stripped_script_still_parses(path: Path, tmp_path: Path) -> None:
    node = shutil.which("node")
    assert node, "node is needed (scripts/test installs axe-core with npm)"
    lean = strip(path.read_text(), ".js")
    assert "/*" not in lean.split("\n", 1)[0] and len(lean) < len(path.read_text())
    module = tmp_path / (path.stem + ".mjs")
    module.write_text(lean)
    checked = subprocess.run([node, "--check", str(module)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr


@pytest.mark.parametrize("path", STYLES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_stripped_stylesheet_keeps_its_rules(path: Path) -> None:
    text = path.read_text()
    lean = strip(text, ".css")
    assert "/*" not in lean and "*/" not in lean
    comments = re.findall(r"/\*.*?\*/", text, re.S)
    for mark in "{}:;":  # every rule, declaration and block is still there
        assert lean.count(mark) == text.count(mark) - sum(c.count(mark) for c in comments), mark


def test_served_stripped_with_their_own_etag(server: ServerProcess) -> None:
    with httpx.Client(base_url=server.http) as http:
        total_before = total_after = 0
        for url, source in (("/widget.js", "widget/widget.js"),
                            ("/widget/static/frame/main.js", "widget/static/frame/main.js"),
                            ("/widget/static/frame.css", "widget/static/frame.css"),
                            ("/agent/static/main.js", "agent_ui/static/main.js")):
            text = (ROOT / source).read_text()
            served = http.get(url)
            assert served.status_code == 200
            assert served.text == strip(text, Path(source).suffix)
            etag = served.headers["etag"]
            assert http.get(url, headers={"If-None-Match": etag}).status_code == 304
            assert http.get(url, headers={"If-None-Match": '"other"'}).status_code == 200
            total_before += len(gzip.compress(text.encode(), 9))
            total_after += len(gzip.compress(served.content, 9))
        loader = http.get("/widget.js")
        assert loader.headers["cross-origin-resource-policy"] == "cross-origin"
        assert loader.headers["cache-control"] == "public, max-age=300"
        assert loader.headers["x-content-type-options"] == "nosniff"
        assert loader.headers["content-type"].startswith("text/javascript")
        assert total_after < total_before
