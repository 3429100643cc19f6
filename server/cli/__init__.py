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
from server.config import ConfigError, StartupError
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


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
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
