"""What ``livechat doctor``'s checks look at and say: a ``Finding``, what ``stat`` says of a path
(``FileFacts``), the environment and settings every check is given (``Env``), and URLs fit to
print (``redact_url``)."""

from __future__ import annotations

import os
import stat
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from server.config import Settings

Level = Literal["ok", "warn", "error"]


@dataclass(frozen=True, slots=True)
class Finding:
    level: Level
    topic: str
    message: str
    fix: str = ""

    def json(self) -> dict[str, str]:
        return {"level": self.level, "topic": self.topic, "message": self.message,
                "fix": self.fix}


@dataclass(frozen=True, slots=True)
class FileFacts:
    """What ``stat`` says of a path (``exists`` false: nothing there yet)."""

    path: Path
    exists: bool
    mode: int = 0
    owner: int = -1
    is_dir: bool = False
    writable: bool = False

    @classmethod
    def of(cls, path: Path) -> FileFacts:
        try:
            st = path.stat()
        except FileNotFoundError:
            return cls(path, False)
        return cls(path, True, stat.S_IMODE(st.st_mode), st.st_uid, stat.S_ISDIR(st.st_mode),
                   os.access(path, os.W_OK))


@dataclass
class Env:
    """What every check may look at: the environment, and the settings built from it (None when
    they are invalid; ``config_error`` says why)."""

    environ: Mapping[str, str]
    db_path: Path
    settings: Settings | None = None
    config_error: str | None = None
    #: Told what is being looked at, for checks that may take a moment (network).
    progress: Callable[[str], None] = field(default=lambda what: None)


Check = Callable[[Env], Awaitable[list[Finding]]]


def redact_url(url: str) -> str:
    """A URL fit to print: no password."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username or ''}:***@{parts.hostname or ''}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))
