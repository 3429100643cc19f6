"""Files only this server's user may read: the database (and, by SQLite's rule, its WAL and
shared-memory files, which take the database file's mode), the generated secret key, and the
uploads folder. They hold identity secrets, password hashes and every conversation."""

from __future__ import annotations

import os
from pathlib import Path


def private_dir(path: Path) -> None:
    """Make ``path`` (and missing parents) with mode 0700; an existing folder is left as is."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)


def private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 unless it exists (SQLite then opens it as is)."""
    private_dir(path.parent)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
