"""Backup and restore of the PostgreSQL store (``livechat backup``/``restore`` with
``LIVECHAT_DATABASE_URL=postgresql://…``), with the guarantees of SQLite's (``server.store.backup``)
and no tool of PostgreSQL's (no ``pg_dump`` of the server's version need be installed).

A backup is what SQLite's is: an SQLite file in the store's schema, at the same step, and the
attachments and agents' pictures as files in ``PATH-files/`` — a portable copy, readable with
``sqlite3``, that ``livechat restore`` puts back into PostgreSQL (another server, another
version) or, as it is, into an SQLite store. It is copied from **one snapshot**: one
``REPEATABLE READ READ ONLY`` transaction for the whole copy, files included, so that writes
committed meanwhile are each wholly in the backup or wholly out of it, while the servers keep
writing. Then, still in that snapshot, each table is verified (rows counted, SHA-256 over every
row in key order, as ``livechat migrate-store`` does: ``server.store.copy``) and each file by its
SHA-256; the file is renamed into place only once complete and checked.

``restore`` copies a backup (PostgreSQL's or SQLite's; one of an older schema step is upgraded
on a temporary copy) into the database with ``server.store.copy``, in **one transaction**: it
fails whole, changing nothing. It refuses while any process has the store open — every open
store holds ``SERVING_LOCK`` shared, and restore takes it alone, so a server started meanwhile
waits for the restore to end — and it refuses a database that already holds a record unless
told to replace it (``--replace``: every table emptied, in the same transaction). The restored
store gets a **new epoch**, so that every widget and panel starts over from the restored record.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg

from server.doctor import redact_url
from server.store.backup import BackupError, Files, files_beside, prune_files
from server.store.copy import CHUNK, CopyError, Table, copy_into, tables_of, verify_table
from server.store.migrations import MIGRATIONS, SchemaTooNew, check_schema
from server.store.pg_schema import SERVING_LOCK, migrate
from server.store.sqlite_db import migrate as migrate_sqlite
from server.store.sqlite_search import drop_search_file

Step = Callable[[str, int, int], None]


def backup(url: str, target: Path, step: Step) -> Files:
    """Copy the store at ``url`` into the SQLite file ``target`` (atomically) and its files to
    ``<target>-files``, from one snapshot, verified."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    with contextlib.suppress(FileNotFoundError):
        partial.unlink()
    lite = sqlite3.connect(partial, isolation_level=None)
    try:
        migrate_sqlite(lite)
        with psycopg.connect(url, connect_timeout=10) as pg:
            pg.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            pg.read_only = True  # (the first statement begins the snapshot's transaction)
            _same_step(pg)
            tables = tables_of(lite, pg)
            _nothing_left_out(pg, tables)
            lite.execute("BEGIN")
            for table in tables:
                _copy_out(pg, lite, table, step)
            epoch = pg.execute("SELECT value FROM meta WHERE key = 'epoch'").fetchone()
            if epoch is None:
                raise BackupError("not a livechat database (no epoch)")
            lite.execute("UPDATE meta SET value = ? WHERE key = 'epoch'", (epoch[0],))
            _index(lite)
            lite.execute("COMMIT")
            files = _files_out(pg, files_beside(target), step)
            for number, table in enumerate(tables, start=1):
                step("verifying", number, len(tables))
                verify_table(lite, pg, table)
            pg.rollback()  # (read only: nothing to commit)
        if lite.execute("PRAGMA quick_check").fetchone()[0] != "ok":
            raise BackupError("the copy does not pass SQLite's quick_check")
    except BaseException as exc:
        lite.close()
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
        if isinstance(exc, psycopg.Error | sqlite3.Error | CopyError | SchemaTooNew):
            raise BackupError(f"the backup failed: {exc}") from None
        raise
    finally:
        lite.close()
    os.chmod(partial, 0o600)
    os.replace(partial, target)
    drop_search_file(target)  # (an older backup's, indexed by a store that opened it)
    return files


def _same_step(pg: psycopg.Connection[Any]) -> None:
    row = pg.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    version = int(row[0]) if row else 0
    check_schema(version, len(MIGRATIONS))
    if version < len(MIGRATIONS):
        raise BackupError(f"the database is at schema step {version}, this livechat's is "
                          f"{len(MIGRATIONS)}: back it up with the livechat that serves it")


def _nothing_left_out(pg: psycopg.Connection[Any], tables: list[Table]) -> None:
    """Every table of PostgreSQL's is copied: SQLite's tables, and the files to the folder."""
    copied = {t.name for t in tables} | {"files", "meta"}
    theirs = {r[0] for r in pg.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' "
        "AND table_type = 'BASE TABLE'")}
    if theirs - copied:
        raise BackupError(f"the tables {', '.join(sorted(theirs - copied))} have no place in "
                          "the backup file")


def _copy_out(pg: psycopg.Connection[Any], lite: sqlite3.Connection, table: Table,
              step: Step) -> None:
    row = pg.execute(f'SELECT count(*) FROM "{table.name}"').fetchone()
    total = row[0] if row else 0
    cols = ", ".join(f'"{c}"' for c in table.columns)
    lite.execute(f'DELETE FROM "{table.name}"')  # (what the new file's migrations put there)
    sql = f'INSERT INTO "{table.name}" ({cols}) VALUES ({", ".join("?" * len(table.columns))})'
    done = 0
    step(f"backing up {table.name}", done, total)
    with pg.cursor(name=f"backup_{table.name}") as cur:
        cur.itersize = CHUNK
        cur.execute(f'SELECT {cols} FROM "{table.name}"')
        while chunk := cur.fetchmany(CHUNK):
            lite.executemany(sql, chunk)
            done += len(chunk)
            step(f"backing up {table.name}", done, total)


def _index(lite: sqlite3.Connection) -> None:
    """SQLite's search index of the articles, so that the file is a whole SQLite store too
    (that of the messages is a file of its own, made when a store first opens the file:
    server/store/sqlite_search.py)."""
    lite.execute("INSERT INTO articles_fts(rowid, title, keywords, body) SELECT rowid, title, "
                 "keywords, text FROM articles")


def _files_out(pg: psycopg.Connection[Any], folder: Path, step: Step) -> Files:
    """Every file of the snapshot into ``folder`` (one already there with the same bytes is
    kept: files never change once written), each checked by its SHA-256 once written; a file
    of ours in the folder the snapshot lacks (an earlier backup's, since erased) is deleted."""
    row = pg.execute("SELECT count(*) FROM files").fetchone()
    total = row[0] if row else 0
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    done, written, names = 0, 0, set()
    with pg.cursor(name="backup_files") as cur:
        cur.itersize = 16  # (up to LIVECHAT_MAX_UPLOAD_BYTES each)
        cur.execute("SELECT name, content FROM files ORDER BY name")
        for name, content in cur:
            path = folder / name
            if path.resolve().parent != folder.resolve():
                raise BackupError(f"a file is named {name!r}, not a file name")
            digest = hashlib.sha256(content).digest()
            if not path.is_file() or hashlib.sha256(path.read_bytes()).digest() != digest:
                partial = path.with_name(f".{name}.partial")
                partial.write_bytes(content)
                os.chmod(partial, 0o600)
                os.replace(partial, path)
                written += 1
            if hashlib.sha256(path.read_bytes()).digest() != digest:
                raise BackupError(f"the file {name} did not come out equal")
            done += 1
            names.add(name)
            step("backing up files", done, total)
    prune_files(folder, names)
    return Files(done, written)


def restore(backup_path: Path, url: str, replace: bool, step: Step) -> str:
    """Put the backup at ``backup_path`` (and ``<backup_path>-files``) into the PostgreSQL
    database at ``url``, in one transaction, under a new epoch (returned)."""
    if not backup_path.exists():
        raise BackupError(f"no backup at {backup_path}")
    try:
        with _current(backup_path) as lite, psycopg.connect(url, autocommit=True,
                                                            connect_timeout=10) as pg:
            held = pg.execute("SELECT pg_try_advisory_lock(%s)", (SERVING_LOCK,)).fetchone()
            if not held or not held[0]:
                raise BackupError(f"{redact_url(url)} is open in another process: stop every "
                                  "`livechat serve` using it, then restore")
            migrate(pg)
            with pg.transaction():
                _make_room(pg, url, replace)
                copy_into(lite, pg, files_beside(backup_path), step)
                epoch = secrets.token_hex(8)
                pg.execute("UPDATE meta SET value = %s WHERE key = 'epoch'", (epoch,))
            return epoch
    except (psycopg.Error, sqlite3.Error, CopyError, SchemaTooNew) as exc:
        raise BackupError(f"the restore failed, nothing was changed: {exc}") from None


@contextlib.contextmanager
def _current(backup_path: Path) -> Iterator[sqlite3.Connection]:
    """The backup, read only; one of an older schema step upgraded on a temporary copy."""
    lite = sqlite3.connect(f"file:{backup_path}?mode=ro", uri=True)
    try:
        if lite.execute("PRAGMA quick_check").fetchone()[0] != "ok":
            raise BackupError(f"{backup_path} does not pass SQLite's quick_check")
        if lite.execute("SELECT 1 FROM sqlite_master WHERE name = 'meta'").fetchone() is None:
            raise BackupError(f"{backup_path} is not a livechat backup (no epoch)")
        version = lite.execute("PRAGMA user_version").fetchone()[0]
        check_schema(version, len(MIGRATIONS))
        if version == len(MIGRATIONS):
            yield lite
            return
        with tempfile.TemporaryDirectory(prefix="livechat-restore-") as folder:
            upgraded = sqlite3.connect(Path(folder) / "backup.db", isolation_level=None)
            try:
                lite.backup(upgraded)
                migrate_sqlite(upgraded)
                yield upgraded
            finally:
                upgraded.close()
    finally:
        lite.close()


def _make_room(pg: psycopg.Connection[Any], url: str, replace: bool) -> None:
    """Refuse a database that holds a record, or (``replace``) empty every table of it."""
    tables = [r[0] for r in pg.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' "
        "AND table_type = 'BASE TABLE' AND table_name <> 'meta' ORDER BY table_name")]
    held = [t for t in tables if pg.execute(f'SELECT EXISTS (SELECT 1 FROM "{t}")').fetchone()
            == (True,)]
    if not held:
        return
    if not replace:
        counts = ", ".join(f"{_count(pg, t)} {t}" for t in ("sites", "conversations", "messages"))
        raise BackupError(f"{redact_url(url)} already holds a record ({counts}): restore into "
                          "an empty database, or add --replace to replace what it holds")
    pg.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in tables))


def _count(pg: psycopg.Connection[Any], table: str) -> int:
    row = pg.execute(f'SELECT count(*) FROM "{table}"').fetchone()
    return int(row[0]) if row else 0

