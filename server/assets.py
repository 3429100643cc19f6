"""Where the widget and panel files are: inside the installed package (``server/_static``, put
there by the wheel build), or at the top of a source checkout."""

from __future__ import annotations

from functools import cache
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


@cache
def asset_dir(name: str) -> Path:
    for candidate in (_PACKAGE / "_static" / name, _PACKAGE.parent / name):
        if (candidate / "index.html").is_file() or (candidate / "widget.js").is_file():
            return candidate
    raise FileNotFoundError(f"the {name} files are missing from this installation")
