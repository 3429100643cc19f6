"""``livechat backup``, ``livechat restore`` and ``livechat migrate-store``: the store's own
commands (server/store/backup.py for SQLite, server/store/pg_backup.py for PostgreSQL,
server/store/copy.py for the move from one to the other)."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from server.cli.base import Command, upgrade_database
from server.config import default_db_path, from_env
from server.doctor import redact_url
from server.progress import Progress
from server.store import backup


def cmd_backup(args: argparse.Namespace) -> int:
    settings = from_env(db_path=args.db)
    progress = Progress()
    try:
        if settings.postgres:
            from server.store import pg_backup

            files = pg_backup.backup(settings.database_url, Path(args.path), progress.step)
            source = redact_url(settings.database_url)
        else:
            files = backup.backup(settings.db_path, Path(args.path), settings.uploads_path(),
                                  lambda done, total: progress.step("backing up (pages)", done,
                                                                    total))
            source = str(settings.db_path)
    except backup.BackupError as exc:
        print(f"livechat: {exc}", file=sys.stderr)
        return 1
    progress.finish(f"backed up {source} to {args.path}")
    if files.held:
        print(files.said(backup.files_beside(Path(args.path))))
    if files.missing:
        print(f"livechat: warning: {files.missing} attachment file"
              f"{'s' if files.missing != 1 else ''} the database names "
              f"{'are' if files.missing != 1 else 'is'} not in {settings.uploads_path()}, "
              "so not in the backup", file=sys.stderr)
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    settings = from_env(db_path=args.db)
    progress = Progress()
    try:
        if settings.postgres:
            from server.store import pg_backup

            epoch = pg_backup.restore(Path(args.path), settings.database_url, args.replace,
                                      progress.step)
            target = redact_url(settings.database_url)
        else:
            epoch = backup.restore(Path(args.path), settings.db_path, settings.uploads_path(),
                                   lambda done, total: progress.step("restoring (pages)", done,
                                                                     total))
            target = str(settings.db_path)
    except backup.BackupError as exc:
        print(f"livechat: {exc}", file=sys.stderr)
        return 1
    progress.finish(f"restored {args.path} into {target}")
    print(f"new epoch {epoch}: every widget and panel starts over from the restored record when "
          "it reconnects")
    return 0


def cmd_migrate_store(args: argparse.Namespace) -> int:
    from server.store.copy import CopyError, copy_store

    source = args.source or f"sqlite:///{args.db or default_db_path(os.environ)}"
    target = args.target or os.environ.get("LIVECHAT_DATABASE_URL", "")
    if not source.startswith("sqlite:///"):
        print("livechat migrate-store: --from is sqlite:///path (the SQLite store to copy)",
              file=sys.stderr)
        return 2
    if not target.startswith(("postgresql://", "postgres://")):
        print("livechat migrate-store: --to is postgresql://user@host:5432/dbname (or set "
              "LIVECHAT_DATABASE_URL)", file=sys.stderr)
        return 2
    path = Path(source.removeprefix("sqlite:///"))
    if not path.exists():  # (before from_env, which would make its key file)
        print(f"livechat migrate-store: {path} does not exist", file=sys.stderr)
        return 1
    settings = from_env(db_path=path)
    if settings.postgres:  # (LIVECHAT_DATABASE_URL is the target here, not the source)
        settings = replace(settings, database_url="")
    upgrade_database(path)
    progress = Progress()
    try:
        copied = copy_store(path, target, settings.uploads_path(),
                            lambda what, done, total: progress.step(what, done, total))
    except CopyError as exc:
        print(f"livechat migrate-store: {exc}", file=sys.stderr)
        return 1
    progress.finish(f"copied {path} into {redact_url(target)} and verified every table")
    print(", ".join(f"{n} {name}" for name, n in copied.items()))
    return 0


def add_commands(sub: Any, command: Command) -> None:
    save = command(sub, "backup", cmd_backup,
                   "copy the database (and attachments) while serving")
    save.add_argument("path", help="the backup file to write (attachments go to PATH-files/)")
    put = command(sub, "restore", cmd_restore,
                  "put a backup back (with every server stopped); clients start over")
    put.add_argument("path", help="a file written by `livechat backup`")
    put.add_argument("--replace", action="store_true",
                     help="PostgreSQL: replace the record the database holds (without it, "
                          "only an empty database is restored into)")
    move = command(sub, "migrate-store", cmd_migrate_store,
                   "copy the SQLite store and its uploads into PostgreSQL, then verify it "
                   "(servers stopped; safe to run again)")
    move.add_argument("--from", dest="source", default="",
                      help="sqlite:///path (default: the --db file)")
    move.add_argument("--to", dest="target", default="",
                      help="postgresql://user@host:5432/dbname (default: LIVECHAT_DATABASE_URL)")
