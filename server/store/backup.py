"""Backup and restore of the SQLite store, with SQLite's online backup API.

``backup`` is safe while servers write: it copies one snapshot — a read transaction held open on
the source for the whole copy, which WAL lets writers work beside — in steps, reporting progress,
into a temporary file that is renamed into place only once it is complete and checked.

``restore`` puts a backup back: only while no process has the database open (it takes SQLite's
exclusive lock, which every open connection prevents), and it gives the restored store a **new
epoch**, so that every client forgets what it has and starts over from the restored record
(otherwise clients would keep messages at sequence numbers the restored store reuses).
Attachments and agents' pictures, which are files, are copied beside the backup and back: a
backup's folder holds exactly the files its database names (a file an erasure deleted since an
earlier backup to the same path is deleted from it), and a restore copies only those.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import sqlite3
import stat
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from server.store import watermark
from server.store.sqlite_search import drop_search_file

Progress = Callable[[int, int], None]
STEP_PAGES = 1024


class BackupError(Exception):
    """The backup or restore could not be done; nothing was changed."""


def _copy(source: sqlite3.Connection, target: sqlite3.Connection, progress: Progress) -> None:
    def step(status: int, remaining: int, total: int) -> None:
        progress(total - remaining, total)

    source.backup(target, pages=STEP_PAGES, progress=step)


def _check(db: sqlite3.Connection) -> str:
    if db.execute("PRAGMA quick_check").fetchone()[0] != "ok":
        raise BackupError("the copy does not pass SQLite's quick_check")
    row = db.execute("SELECT value FROM meta WHERE key = 'epoch'").fetchone()
    if row is None:
        raise BackupError("not a livechat database (no epoch)")
    return str(row[0])


#: The names the server gives the files it keeps (server/endpoints/files.py, avatars.py and the
#: email service's attachments): only such files are ever deleted from a backup's folder.
_OUR_FILE = re.compile(r"(file|avatar)_[A-Za-z0-9_-]{24}")


def referenced(db: sqlite3.Connection) -> set[str]:
    """The files the database names: its attachments and agents' pictures (a backup from
    before either existed names fewer)."""
    names: set[str] = set()
    for query in ("SELECT id FROM attachments",
                  "SELECT avatar_file FROM agents WHERE avatar_file IS NOT NULL"):
        try:
            names |= {str(r[0]) for r in db.execute(query)}
        except sqlite3.OperationalError:  # no such table or column: an older schema's
            pass
    return {name for name in names if "/" not in name and not name.startswith(".")}


def prune_files(folder: Path, keep: set[str]) -> None:
    """Delete from ``folder`` every file of ours that ``keep`` does not name (an erased
    visitor's, a swept upload's): only regular files named like ours, nothing else there."""
    if not folder.is_dir():
        return
    for path in folder.iterdir():
        if (path.name not in keep and _OUR_FILE.fullmatch(path.name)
                and stat.S_ISREG(path.lstat().st_mode)):
            path.unlink()


class Files(NamedTuple):
    """A backup's files: how many ``PATH-files/`` holds (those its database names), and how many
    of them were copied this time (a backup to a path used before keeps what is there)."""

    held: int
    copied: int
    #: Files the database names that are in neither the uploads folder nor ``PATH-files/``
    #: (removed by hand, or a disk lost): not in the backup, and said so.
    missing: int = 0

    def said(self, folder: Path) -> str:
        """What ``livechat backup`` prints of them."""
        return (f"and {self.held} attachment file{'s' if self.held != 1 else ''} in {folder} "
                f"({self.copied} copied)")


def _copy_files(names: set[str], source: Path, target: Path) -> int:
    """The files ``names`` of ``source`` that ``target`` lacks (files never change once
    written); the number copied."""
    target.mkdir(parents=True, exist_ok=True, mode=0o700)
    copied = 0
    for name in sorted(names):
        path, dest = source / name, target / name
        if path.is_file() and not dest.exists():
            shutil.copy2(path, dest)
            copied += 1
    return copied


def files_beside(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + "-files")


#: What a store keeps beside its database, each named after it (its WAL, its search index, its
#: high-water mark, its signing key).
_OWN_SUFFIXES = ("", "-wal", "-shm", "-journal", "-search", "-search-wal", "-search-shm",
                 ".hwm", ".secret")


def _is_the_stores(path: Path, db_path: Path) -> bool:
    """``path`` is the store's database, or one of the files it keeps beside it (a backup
    written there replaced the live file under the running server: what it acknowledged
    next was lost at its restart. A black-box tester)."""
    own = {Path(f"{db_path}{suffix}").resolve() for suffix in _OWN_SUFFIXES}
    if path.resolve() in own:
        return True
    with contextlib.suppress(OSError):  # (a hard link)
        return path.exists() and db_path.exists() and os.path.samefile(path, db_path)
    return False


def backup(db_path: Path, target: Path, uploads: Path, progress: Progress) -> Files:
    """Copy the database at ``db_path`` to ``target`` (atomically), and the attachments in
    ``uploads`` to ``<target>-files``: those the copy names, of which those not there yet."""
    if not db_path.exists():
        raise BackupError(f"no database at {db_path}")
    if target.is_dir():
        raise BackupError(f"{target} is a folder: name the backup's file in it")
    if _is_the_stores(target, db_path) or files_beside(target).resolve() == uploads.resolve():
        raise BackupError(f"{target} is the store's own file: write the backup elsewhere")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    with contextlib.suppress(FileNotFoundError):
        partial.unlink()
    source = sqlite3.connect(db_path, isolation_level=None)
    try:
        source.execute("PRAGMA busy_timeout = 10000")
        source.execute("BEGIN")  # one snapshot for the whole copy, whatever writers do meanwhile
        source.execute("SELECT 1 FROM meta LIMIT 1").fetchall()
        copy = sqlite3.connect(partial, isolation_level=None)
        try:
            _copy(source, copy, progress)
            _check(copy)
            names = referenced(copy)
        finally:
            copy.close()
        source.execute("COMMIT")
    except sqlite3.Error as exc:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
        raise BackupError(f"the backup failed: {exc}") from None
    finally:
        source.close()
    os.chmod(partial, 0o600)
    os.replace(partial, target)
    drop_search_file(target)  # (an older backup's, indexed by a store that opened it)
    # Exactly the files the copy names: none a backup made before to this path kept and the
    # database no longer names (an erased visitor's), none written after its snapshot.
    folder = files_beside(target)
    prune_files(folder, names)
    copied = _copy_files(names, uploads, folder)
    held = sum((folder / name).is_file() for name in names)
    return Files(held, copied, len(names) - held)


def restore(backup_path: Path, db_path: Path, uploads: Path, progress: Progress) -> str:
    """Replace the database at ``db_path`` with the backup, under a new epoch (returned).
    Refused while any process has the database open."""
    if not backup_path.exists():
        raise BackupError(f"no backup at {backup_path}")
    if backup_path.is_dir():
        raise BackupError(f"{backup_path} is a folder: name the backup's file in it")
    if _is_the_stores(backup_path, db_path):
        raise BackupError(f"{backup_path} is the store's own database, not a backup of it")
    source = sqlite3.connect(backup_path, isolation_level=None)
    try:
        try:
            _check(source)
            names = referenced(source)
        except sqlite3.Error as exc:  # (junk, an empty file, a truncated copy)
            raise BackupError(f"{backup_path} is not a livechat backup ({exc})") from None
        target = sqlite3.connect(db_path, isolation_level=None, timeout=0.2)
        try:
            # Exclusive locking mode: the lock, once taken, is held until close — and any other
            # connection to the database (a running server) keeps it from being taken.
            target.execute("PRAGMA locking_mode = EXCLUSIVE")
            try:
                target.execute("BEGIN EXCLUSIVE")
                target.execute("COMMIT")
            except sqlite3.OperationalError:
                raise BackupError(f"{db_path} is open in another process: stop every "
                                  "`livechat serve` using it, then restore") from None
            _copy(source, target, progress)
            epoch = secrets.token_hex(8)
            target.execute("UPDATE meta SET value = ? WHERE key = 'epoch'", (epoch,))
            row = target.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
            generation = int(row[0]) if row else 0
            target.execute("PRAGMA journal_mode = WAL")
        finally:
            target.close()
    finally:
        source.close()
    os.chmod(db_path, 0o600)
    drop_search_file(db_path)  # the index of what was there: made again at the next open
    watermark.write(db_path, watermark.Mark(epoch, generation))
    # Exactly the files it names: only those are copied, and the replaced store's own (which
    # went with its database) are deleted.
    prune_files(uploads, names)
    _copy_files(names, files_beside(backup_path), uploads)
    return epoch
