"""``livechat token …``, ``livechat bot …`` and ``livechat visitor …``: the REST API's tokens,
bots, and a visitor's data rights (docs/api.md). Each handler is one piece of work on the store
(``with_store``) and what it prints; the store's modules are imported when a command runs."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import sys
import time
from typing import Any

from server.cli.base import Command, Store, with_store
from server.config import ConfigError, from_env
from server.store.api_tokens import SCOPES
from server.store.factory import create_files

# --- tokens ----------------------------------------------------------------------------------


def cmd_token_create(args: argparse.Namespace) -> int:
    from server.store.api_tokens import ApiTokens

    scopes = [s for given in args.scope for s in given.replace(",", " ").split()]
    made, secret = with_store(args.db,
                              lambda store: ApiTokens(store).create(args.site, args.name, scopes))
    if args.json:
        print(json.dumps({**made.public(), "token": secret}, indent=2))
        return 0
    print(f"token {made.id} ({', '.join(sorted(made.scopes))}; "
          f"{'site ' + made.site_id if made.site_id else 'every site'}):")
    print(secret)
    print("It is shown once: keep it now (only its hash is stored).", file=sys.stderr)
    return 0


def when(ms: int | None) -> str:
    """A time in the store (ms since the epoch) as the commands print it, in UTC."""
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(ms / 1000)) if ms else "never"


def cmd_token_list(args: argparse.Namespace) -> int:
    from server.store.api_tokens import ApiTokens

    async def listed(store: Store) -> list[Any]:
        if args.site and await store.site(args.site) is None:
            raise ConfigError(f"no such site: {args.site}")
        return await ApiTokens(store).list([args.site] if args.site else None)

    tokens = with_store(args.db, listed)
    if args.json:
        print(json.dumps([t.public() for t in tokens], indent=2, ensure_ascii=False))
        return 0

    for t in tokens:
        state = f"revoked {when(t.revoked_at)}" if t.revoked_at else "active"
        print(f"{t.id}\t{t.name}\t{t.site_id or '*'}\t{','.join(sorted(t.scopes))}\t"
              f"last used {when(t.last_used_at)}\t{state}")
    return 0


def cmd_token_revoke(args: argparse.Namespace) -> int:
    from server.store.api_tokens import ApiTokens

    async def revoke(store: Store) -> int | None:
        """When the token was revoked before (None: it was live until now)."""
        tokens = ApiTokens(store)
        before = await tokens.get(args.token_id)
        await tokens.revoke(args.token_id)  # (no such token: its error)
        return before.revoked_at if before is not None else None

    revoked_before = with_store(args.db, revoke)
    if revoked_before is not None:
        print(f"{args.token_id} was already revoked on {when(revoked_before)} UTC")
    else:
        print(f"revoked {args.token_id}")
    return 0


# --- bots ------------------------------------------------------------------------------------


def cmd_bot_create(args: argparse.Namespace) -> int:
    from server.store.api_tokens import ApiTokens
    from server.store.bots import Bots
    from server.store.webhooks import Webhooks
    from server.webhooks import Refused, guard

    settings = from_env(db_path=args.db)
    if args.webhook:
        try:
            asyncio.run(guard(args.webhook, settings.webhook_allow_private))
        except Refused as exc:
            raise ConfigError(f"--webhook: {exc}") from None

    async def work(store: Store) -> dict[str, Any]:
        bot = await Bots(store).create(args.site, args.name)
        token_made, token = await ApiTokens(store).create(
            args.site, f"bot {args.name}", ["conversations:read", "conversations:write"])
        made: dict[str, Any] = {"bot": {"id": bot.id, "name": bot.name, "site_id": args.site},
                                "token": token, "token_id": token_made.id}
        if args.webhook:
            endpoint, secret = await Webhooks(store).create(
                args.site, args.webhook, ["conversation.created", "message.created"])
            made["webhook"] = {**endpoint.public(), "secret": secret}
        return made

    made = with_store(settings, work)
    if args.json:
        print(json.dumps(made, indent=2, ensure_ascii=False))
        return 0
    print(f"bot {made['bot']['id']} ({args.name}) answers new conversations of {args.site} first")
    print(f"API token {made['token_id']} (conversations): {made['token']}")
    if "webhook" in made:
        print(f"webhook {made['webhook']['id']} -> {args.webhook}, secret: "
              f"{made['webhook']['secret']}")
    print("The token and the secret are shown once.", file=sys.stderr)
    return 0


def cmd_bot_list(args: argparse.Namespace) -> int:
    from server.store.bots import Bots

    bots = with_store(args.db, lambda store: Bots(store).all())
    if args.json:
        print(json.dumps([{"site_id": site_id, "id": bot.id, "name": bot.name}
                          for site_id, bot in bots], indent=2, ensure_ascii=False))
        return 0
    for site_id, bot in bots:
        print(f"{site_id}\t{bot.id}\t{bot.name}")
    return 0


def cmd_bot_remove(args: argparse.Namespace) -> int:
    from server.store.bots import Bots

    if not with_store(args.db, lambda store: Bots(store).remove(args.site)):
        raise ConfigError(f"no bot answers {args.site} first")
    print(f"no bot answers {args.site} first any more")
    # (Both go on working: a black-box tester's removed bot still had its webhook's events.)
    print("Its API token and webhook still work: revoke the token (livechat token revoke) and "
          "delete the webhook (DELETE /api/v1/webhooks/{id}) to cut the bot off.",
          file=sys.stderr)
    return 0


# --- data rights -----------------------------------------------------------------------------


def cmd_visitor_export(args: argparse.Namespace) -> int:
    from server.privacy import export_zip
    from server.store.privacy import Privacy

    settings = from_env(db_path=args.db)

    async def work(store: Store) -> bytes:
        held = await Privacy(store).held(args.visitor_id)
        if held is None:
            raise ConfigError(f"no such visitor: {args.visitor_id}")
        return await export_zip(held, create_files(settings, store), time.time())

    data = with_store(settings, work)
    # Personal data: 0600 before a byte is in it, as backups are (a folder that is missing is
    # said, not made: a mistyped --out).
    fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(fd, "wb") as out:
        os.fchmod(fd, 0o600)  # (a file that was there keeps its mode otherwise)
        out.write(data)
    print(f"exported {args.visitor_id} to {args.out} ({len(data)} bytes)")
    return 0


def cmd_visitor_erase(args: argparse.Namespace) -> int:
    from server.privacy import erase
    from server.store.privacy import Privacy

    settings = from_env(db_path=args.db)

    async def work(store: Store) -> dict[str, Any]:
        sites = [site.id for site in await store.sites()]
        try:
            erased = await erase(Privacy(store), create_files(settings, store), sites,
                                 args.visitor_id, f"cli {getpass.getuser()}")
        except LookupError:
            raise ConfigError(f"no such visitor: {args.visitor_id}") from None
        return erased.public()

    erased = with_store(settings, work)
    print(f"erased {args.visitor_id}: {_count(erased['conversations'], 'conversation')}, "
          f"{_count(erased['messages'], 'message')} emptied, "
          f"{_count(erased['files'], 'file')} (record {erased['erasure_id']})")
    return 0


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def add_commands(sub: Any, command: Command) -> None:
    token = command(sub, "token", None, "manage REST API tokens (docs/api.md)").add_subparsers(
        dest="action", required=True)
    tcreate = command(token, "create", cmd_token_create,
                      "make a token and print it (once: only its hash is kept)")
    tcreate.add_argument("--site", help="the site key (without it: every site, for admins)")
    tcreate.add_argument("--scope", action="append", required=True,
                         help=f"{', '.join(SCOPES[:-1])} or {SCOPES[-1]} (repeatable)")
    tcreate.add_argument("--name", default="API token", help="what it is for (shown in lists)")
    tcreate.add_argument("--json", action="store_true", help="as a JSON object")
    tlist = command(token, "list", cmd_token_list, "list the tokens (never their secrets)")
    tlist.add_argument("--site", help="only this site's")
    tlist.add_argument("--json", action="store_true", help="as a JSON array")
    trevoke = command(token, "revoke", cmd_token_revoke, "revoke a token, at once")
    trevoke.add_argument("token_id", help="the token's id (tok_…)")

    bot = command(sub, "bot", None, "a bot that answers a site's new conversations first "
                  "(docs/api.md#bots)").add_subparsers(dest="action", required=True)
    bcreate = command(bot, "create", cmd_bot_create,
                      "make the site's bot, its API token and (with --webhook) its webhook")
    bcreate.add_argument("--site", required=True, help="the site key")
    bcreate.add_argument("--name", required=True, help="what visitors see (e.g. 'Ava')")
    bcreate.add_argument("--webhook", help="the bot's URL: it is sent conversation.created and "
                                           "message.created")
    bcreate.add_argument("--json", action="store_true", help="as a JSON object")
    blist = command(bot, "list", cmd_bot_list, "list the sites' bots")
    blist.add_argument("--json", action="store_true", help="print them as JSON")
    bremove = command(bot, "remove", cmd_bot_remove,
                      "stop the site's bot answering first (what it has, it keeps)")
    bremove.add_argument("--site", required=True, help="the site key")

    person = command(sub, "visitor", None, "a visitor's data rights (docs/api.md#data-rights)"
                     ).add_subparsers(dest="action", required=True)
    vexport = command(person, "export", cmd_visitor_export,
                      "everything held about a visitor, as a zip (visitor.json and files)")
    vexport.add_argument("visitor_id")
    vexport.add_argument("--out", required=True, help="the zip file to write")
    verase = command(person, "erase", cmd_visitor_erase,
                     "erase a visitor (reports keep counting their conversations anonymously)")
    verase.add_argument("visitor_id")
