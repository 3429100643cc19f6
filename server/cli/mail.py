"""``livechat inbound-email``: one reply email from an MTA's pipe transport (docs/email.md)."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from server.cli.base import Command, Store, with_store
from server.config import from_env
from server.store.factory import create_files

#: sysexits.h, as MTAs read a pipe's exit status: bounce, bounce, try again later.
EX_DATAERR, EX_NOUSER, EX_TEMPFAIL = 65, 67, 75


def cmd_inbound_email(args: argparse.Namespace) -> int:
    """Queue one reply for the server's worker (it reads it into the conversation and tells
    the agents); exit 0 when queued (or already received), 67 when the address is refused, 65
    when the email is unreadable, 75 when the store cannot take it now."""
    from server.errors import Unavailable
    from server.mail import addresses, inbound
    from server.mail.service import Mail

    settings = from_env(db_path=args.db)
    raw = sys.stdin.buffer.read(inbound.MAX_BYTES + 1)

    async def work(store: Store) -> int:
        mail = Mail(settings, store, time.time, files=create_files(settings, store))
        try:
            accepted = await mail.accept(raw, "pipe", args.recipient)
        except addresses.Refused as exc:
            print(f"livechat: refused: {exc}", file=sys.stderr)
            return EX_NOUSER
        except inbound.Unreadable as exc:
            print(f"livechat: unreadable: {exc}", file=sys.stderr)
            return EX_DATAERR
        except Unavailable as exc:
            print(f"livechat: try again later: {exc.reason}", file=sys.stderr)
            return EX_TEMPFAIL
        print("queued" if accepted.queued else "duplicate (received before)")
        return 0

    return with_store(settings, work)


def add_commands(sub: Any, command: Command) -> None:
    mail_in = command(sub, "inbound-email", cmd_inbound_email,
                      "take one reply email on stdin (an MTA's pipe transport; docs/email.md)")
    mail_in.add_argument("--recipient", help="the envelope recipient (Postfix: ${recipient}); "
                         "default: the first reply address among the headers")
