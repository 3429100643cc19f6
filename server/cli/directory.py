"""``livechat site …`` and ``livechat agent …``: the directory of sites and agents."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import secrets
import sys
from typing import Any

from server.auth import hash_password, normalize_origin
from server.cli.base import Command, Store, with_store
from server.cli.serve import PLACEHOLDER_URL, snippet
from server.config import ConfigError, from_env
from server.parsing import valid_email
from server.store import Agent, Site
from server.store.directory import site_name

# --- sites -----------------------------------------------------------------------------------


def cmd_site_create(args: argparse.Namespace) -> int:
    name = site_name(args.name)  # (a ValueError: refused, exit 2, before the store is opened)
    origins = []
    for origin in args.origin:
        normalized = normalize_origin(origin)
        if normalized is None:
            raise ValueError(f"not an origin (scheme://host[:port]): {origin}")
        origins.append(normalized)
    settings = from_env(db_path=args.db)

    async def work(store: Store) -> str:
        site = await store.create_site(name, origins)
        if args.auto_assign:
            await store.set_site_options(site.id, auto_assign=True)
        return site.id

    site_id = with_store(settings, work)
    print(f"site key: {site_id}")
    print("embed this before </body> on every page of the site:")
    print("  " + snippet(settings.public_url or PLACEHOLDER_URL, site_id))
    if not settings.public_url:
        print(f"note: LIVECHAT_PUBLIC_URL is not set, so the snippet says {PLACEHOLDER_URL}: "
              "replace that with the address visitors reach this server at (e.g. "
              "https://chat.example.com), or set LIVECHAT_PUBLIC_URL where you run livechat "
              "and the snippets it prints will have it.", file=sys.stderr)
    return 0


_PROFILE_OPTIONS = ("greeting", "color", "logo", "hours", "timezone", "prechat", "offline",
                    "typing_preview", "theme", "email_from", "email_transcript")


def cmd_site_set(args: argparse.Namespace) -> int:
    settings = from_env(db_path=args.db)
    profile = {name: getattr(args, name) for name in _PROFILE_OPTIONS
               if getattr(args, name) is not None}
    if (args.auto_assign is None and args.identity_secret is None and args.identity_mode is None
            and not args.origin and not profile):
        raise ValueError("nothing to change (see livechat site set --help)")
    secret = {None: None, "none": "", "new": secrets.token_urlsafe(32)}[args.identity_secret]
    auto = None if args.auto_assign is None else args.auto_assign == "on"
    if "prechat" in profile:
        profile["prechat"] = [f for f in profile["prechat"].split(",") if f and f != "none"]
    if "typing_preview" in profile:
        profile["typing_preview"] = profile["typing_preview"] == "on"
    if "email_transcript" in profile:
        profile["email_transcript"] = profile["email_transcript"] == "on"
    if "timezone" in profile:
        profile["tz"] = profile.pop("timezone")

    async def work(store: Store) -> int:
        try:
            site = await store.set_site_options(
                args.site, auto_assign=auto, identity_secret=secret,
                identity_mode=args.identity_mode, allowed_origins=args.origin or None)
            if profile:
                site = await store.set_site_profile(args.site, **profile)
        except ValueError as exc:
            print(f"livechat: {exc}", file=sys.stderr)
            return 2
        if secret:  # first: the one line that cannot be read again
            print(f"identity secret (keep it on your backend only; shown once): {secret}")
        _print_site(site)
        return 0

    return with_store(settings, work)


def _print_site(site: Site) -> None:
    p = site.profile
    print(f"{site.id}\t{site.name}\n"
          f"  origins:      {' '.join(site.allowed_origins) or '-'}\n"
          f"  auto-assign:  {'on' if site.auto_assign else 'off'}\n"
          f"  identity:     {site.identity_mode}"
          f"{'' if site.identity_secret else ' (no secret)'}\n"
          f"  greeting:     {p.greeting or '(the widget default)'}\n"
          f"  colour:       {p.color}\n"
          f"  logo:         {p.logo or '-'}\n"
          f"  hours:        {f'{p.hours.text()} ({p.hours.tz})' if p.hours else 'always open'}\n"
          f"  pre-chat:     {', '.join(p.prechat) or 'none'}\n"
          f"  when offline: {'leave-a-message form' if p.offline == 'form' else 'chat and wait'}\n"
          f"  typing preview: {'on' if p.typing_preview else 'off'}\n"
          f"  theme:        {p.theme}\n"
          f"  email from:   {p.email_from or '(LIVECHAT_EMAIL_FROM)'}\n"
          f"  transcript on resolve: {'on' if p.email_transcript else 'off'}")


def cmd_site_list(args: argparse.Namespace) -> int:
    settings = from_env(db_path=args.db)

    async def work(store: Store) -> list[Site]:
        return await store.sites()

    sites = with_store(settings, work)
    if args.json:
        print(json.dumps([site.settings() for site in sites], indent=2, ensure_ascii=False))
        return 0
    for site in sites:
        print(f"{site.id}\t{site.name}\t{' '.join(site.allowed_origins) or '-'}\t"
              f"auto-assign {'on' if site.auto_assign else 'off'}")
    return 0


def cmd_site_retention(args: argparse.Namespace) -> int:
    from server.store.privacy import Privacy

    settings = from_env(db_path=args.db)
    if args.days in ("off", "none"):
        days = None
    elif args.days.isdigit() and 1 <= int(args.days) <= 36500:
        days = int(args.days)
    else:
        raise ValueError(f"--days is 1 to 36500, or off (not {args.days!r})")

    async def work(store: Store) -> None:
        try:
            await Privacy(store).set_retention(args.site, days)
        except LookupError as exc:
            raise ConfigError(str(exc)) from None

    with_store(settings, work)
    print(f"{args.site}: resolved conversations are kept "
          f"{'for ever' if days is None else f'{days} days'}")
    return 0


# --- agents ----------------------------------------------------------------------------------


def _read_password(from_stdin: bool) -> str:
    """From standard input's first line with ``--password-stdin``, else asked for twice on the
    terminal; without one, refused (a line piped in would be taken unconfirmed)."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    if not sys.stdin.isatty():
        raise ConfigError("no terminal to ask for the password (twice): give it on standard "
                          "input with --password-stdin")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise ConfigError("the passwords differ")
    return first


def cmd_agent_create(args: argparse.Namespace) -> int:
    settings = from_env(db_path=args.db)
    # (Checked before anything is written: an agent is made whole or not at all.)
    if not 0 <= args.capacity <= 100:  # (as the panel and the admin API take it)
        raise ValueError("--capacity is 0 to 100")
    if not valid_email(args.email):
        raise ValueError(f"--email {args.email!r} is not an email address")
    if not 0 < len(args.name.strip()) <= 100:
        raise ValueError("--name is 1 to 100 characters")
    password = _read_password(args.password_stdin)
    if len(password) < 8:
        raise ValueError("the password needs at least 8 characters")

    async def work(store: Store) -> str:
        known = {s.id for s in await store.sites()}
        missing = [s for s in args.site if s not in known]
        if missing:
            raise ConfigError(f"no such site: {', '.join(missing)}")
        hashed = await asyncio.to_thread(hash_password, password)
        agent = await store.create_agent(args.email, args.name, hashed, args.role, args.site)
        await store.set_agent_capacity(agent.id, args.capacity)
        return agent.id

    print(f"agent: {with_store(settings, work)}")
    return 0


def cmd_agent_list(args: argparse.Namespace) -> int:
    settings = from_env(db_path=args.db)

    async def work(store: Store) -> list[tuple[Agent, list[str]]]:
        return [(agent, await store.agent_site_ids(agent)) for agent in await store.agents()]

    agents = with_store(settings, work)
    if args.json:
        print(json.dumps([agent.account(sites) for agent, sites in agents], indent=2,
                         ensure_ascii=False))
        return 0
    for agent, sites in agents:
        state = "active" if agent.active else "inactive"
        print(f"{agent.id}\t{agent.email}\t{agent.name}\t{agent.role}\t{state}\t"
              f"{','.join(sites) or '-'}\tcapacity {agent.capacity}")
    return 0


def add_site_commands(sub: Any, command: Command) -> Any:
    """``site`` and its subcommands; returns its group (the knowledge base adds one to it)."""
    site = command(sub, "site", None, "manage sites").add_subparsers(dest="action",
                                                                      required=True)
    create = command(site, "create", cmd_site_create, "create a site and print its embed snippet")
    create.add_argument("name")
    create.add_argument("--origin", action="append", default=[],
                        help="an origin allowed to embed the widget (repeatable)")
    create.add_argument("--auto-assign", action="store_true",
                        help="assign waiting conversations to the least busy online agent")
    change = command(site, "set", cmd_site_set, "change a site's settings")
    change.add_argument("site", help="the site key")
    change.add_argument("--auto-assign", choices=["on", "off"])
    change.add_argument("--identity-secret", choices=["new", "none"],
                        help="new: make the secret your backend signs users with; none: drop it")
    change.add_argument("--identity-mode", choices=["optional", "mandatory"],
                        help="mandatory: only visitors with a valid signed identity may chat")
    change.add_argument("--origin", action="append",
                        help="an origin allowed to embed the widget (repeatable; replaces all)")
    change.add_argument("--greeting", help="the first words visitors read")
    change.add_argument("--color", help="the widget's accent colour, #rrggbb")
    change.add_argument("--logo", help="an https:// image URL for the chat header ('' removes it)")
    change.add_argument("--hours", help="business hours, e.g. 'mon-fri 09:00-18:00; "
                        "sat 10:00-13:00' ('' means always open)")
    change.add_argument("--timezone", help="the IANA time zone of the hours (Europe/Lisbon)")
    change.add_argument("--prechat", help="fields asked before a chat: name,email | name | none")
    change.add_argument("--offline", choices=["form", "chat"],
                        help="nobody online or outside hours: a leave-a-message form, or chat")
    change.add_argument("--typing-preview", choices=["on", "off"],
                        help="agents see what visitors type before sending (the widget says so)")
    change.add_argument("--theme", choices=["auto", "light", "dark"],
                        help="the widget's colours: auto follows each visitor's system setting")
    change.add_argument("--email-from", help="the sender of the site's emails: "
                        "'Acme Support <support@acme.example>' ('' uses LIVECHAT_EMAIL_FROM)")
    change.add_argument("--email-transcript", choices=["on", "off"],
                        help="email visitors the conversation when it is resolved")
    keep = command(site, "retention", cmd_site_retention,
                   "how long a site keeps resolved conversations (then deleted, with files)")
    keep.add_argument("site", help="the site key")
    keep.add_argument("--days", required=True, help="a number of days, or off (keep for ever)")
    listing = command(site, "list", cmd_site_list, "list the sites")
    listing.add_argument("--json", action="store_true", help="as a JSON array")
    return site


def add_agent_commands(sub: Any, command: Command) -> None:
    agent = command(sub, "agent", None, "manage agents").add_subparsers(dest="action",
                                                                         required=True)
    acreate = command(agent, "create", cmd_agent_create,
                      "create an agent (password from a prompt or stdin)")
    acreate.add_argument("--email", required=True)
    acreate.add_argument("--name", required=True)
    acreate.add_argument("--role", choices=["admin", "agent"], default="agent")
    acreate.add_argument("--site", action="append", default=[], help="a site key (repeatable)")
    acreate.add_argument("--password-stdin", action="store_true")
    acreate.add_argument("--capacity", type=int, default=5,
                         help="most conversations auto-assigned at once (default 5)")
    alist = command(agent, "list", cmd_agent_list, "list the agents")
    alist.add_argument("--json", action="store_true", help="as a JSON array")
