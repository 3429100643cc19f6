"""The ``livechat`` command: one module per group of commands, each adding its own to the
parser built here (``add_commands``) —

* ``serve``: ``serve``, ``demo``, ``doctor``;
* ``directory``: ``site …``, ``agent …``; ``articles``: ``article …``, ``site help-centre``;
* ``integrations``: ``token …``, ``bot …``, ``visitor …`` (the REST API, bots, data rights);
* ``mail``: ``inbound-email``;
* ``store``: ``backup``, ``restore``, ``migrate-store``;

and ``base``: the store opened for one command, what most of them are (``with_store``).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from server.cli import articles, directory, integrations, mail, serve, store
from server.cli.base import Handler
from server.config import POSTGRES_SCHEMES, ConfigError, StartupError, default_db_path
from server.store.factory import CannotOpen
from server.store.sqlite import SchemaTooNew

#: What ``livechat --help`` says first.
DESCRIPTION = "The ``livechat`` command: serve, demo, and site/agent management."
DB_HELP = ("SQLite database file; given, it wins over LIVECHAT_DATABASE_URL (default: "
           "LIVECHAT_DATABASE_URL, else LIVECHAT_DB, else livechat.db)")


def parser() -> argparse.ArgumentParser:
    """Every command. Options shared by all (``--db``) are accepted before and after the
    subcommand: ``livechat --db X serve`` and ``livechat serve --db X`` mean the same (the later
    one wins). A new subcommand is one ``command(...)`` call and its own options, in the
    ``add_commands`` of its group's module."""
    p = argparse.ArgumentParser(prog="livechat", description=DESCRIPTION)
    # None when not given: LIVECHAT_DATABASE_URL (PostgreSQL or sqlite:///path), else
    # LIVECHAT_DB, else livechat.db. Given, it wins: the command uses that SQLite file.
    p.add_argument("--db", type=Path, default=None, help=DB_HELP)
    # The same options after a subcommand; SUPPRESS keeps the value given before it otherwise.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", type=Path, default=argparse.SUPPRESS, help=DB_HELP)
    sub = p.add_subparsers(dest="command", required=True)

    def command(group: Any, name: str, func: Handler | None,
                help: str) -> argparse.ArgumentParser:
        parser_: argparse.ArgumentParser = group.add_parser(name, help=help, description=help,
                                                            parents=[common])
        if func is not None:
            parser_.set_defaults(func=func)
        return parser_

    serve.add_commands(sub, command)
    site = directory.add_site_commands(sub, command)
    articles.add_commands(sub, site, command)
    directory.add_agent_commands(sub, command)
    integrations.add_commands(sub, command)
    mail.add_commands(sub, command)
    store.add_commands(sub, command)
    return p


#: Commands that work on records already there, and so refuse a SQLite file that is not (made
#: at a mistyped ``--db``, with a signing key of its own, it would hold nothing: a black-box
#: tester's). Only these of them make a new one.
_ON_RECORDS = ("site", "agent", "token", "bot", "visitor", "article")
_MAKE_ONE = (("site", "create"), ("agent", "create"))


def _no_database(args: argparse.Namespace) -> None:
    if args.command not in _ON_RECORDS or (args.command, getattr(args, "action", None)) in \
            _MAKE_ONE:
        return
    if args.db is None and os.environ.get("LIVECHAT_DATABASE_URL", "").strip().startswith(
            POSTGRES_SCHEMES):
        return
    path = args.db if args.db is not None else default_db_path(os.environ)
    if not path.exists():
        raise CannotOpen(f"no database at {path} (check --db, LIVECHAT_DATABASE_URL or "
                         "LIVECHAT_DB; `livechat site create` or `serve` makes a new one)")


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        _no_database(args)
        return int(args.func(args))
    except ConfigError as exc:
        print(f"livechat: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"livechat: {exc}", file=sys.stderr)
        return 2
    except (SchemaTooNew, CannotOpen, StartupError) as exc:
        print(f"livechat: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # Whoever read the output stopped (``livechat token list | head``): end quietly, as a
        # shell tool does, and keep Python's own flush at exit from failing again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except OSError as exc:  # a file or folder that cannot be read, written or made
        print(f"livechat: {_os_error(exc)}", file=sys.stderr)
        return 1


def _os_error(exc: OSError) -> str:
    """``No such file or directory: /nonexistent/dir/v.zip`` (the path, when there is one)."""
    if exc.filename is None:
        return str(exc)
    return f"{exc.strerror or type(exc).__name__}: {exc.filename}"
