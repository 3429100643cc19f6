"""``livechat doctor``'s look at what PostgreSQL's user may do, against what the schema steps
still to apply need of it (``step_needs``): ``CREATE`` on the schema for a step that creates
tables, indexes or text search configurations (``ALTER TABLE … ADD COLUMN`` and ``DROP INDEX``
need none), the ownership of the tables a step alters, drops or indexes, and the extensions the
first step creates (``citext``, ``unaccent``: trusted, so ``CREATE`` on the database suffices,
else a superuser). ``rights_findings`` says precisely what is missing; ``look_at_rights`` reads
the user's rights, the extensions and the owners of those tables."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from server.doctor.findings import Finding

#: What a step makes in the schema (so needs CREATE on it): the kind, and the name when it is
#: written there (``%I``: a name made in a ``DO`` block).
_CREATES = re.compile(
    r"\bCREATE\s+(?:UNIQUE\s+)?(?:OR\s+REPLACE\s+)?(?!EXTENSION\b)"
    r"(TEXT\s+SEARCH\s+CONFIGURATION|[A-Z]+)(?:\s+IF\s+NOT\s+EXISTS)?"
    r"(?:\s+(?!ON\b)(\w+|%I))?", re.I)
#: An identity or serial column makes a sequence.
_SEQUENCE = re.compile(r"\bAS\s+IDENTITY\b|\b(?:BIG|SMALL)?SERIAL\b", re.I)
_EXTENSION = re.compile(r"\bCREATE\s+EXTENSION\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)", re.I)
#: The relations a step alters, indexes or drops: only their owner may.
_OWNED = re.compile(
    r"\bALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?(?:ONLY\s+)?(\w+)"
    r"|\bCREATE\s+(?:UNIQUE\s+)?INDEX\s+(?:IF\s+NOT\s+EXISTS\s+)?(?:\w+\s+)?ON\s+(?:ONLY\s+)?(\w+)"
    r"|\bDROP\s+(?:INDEX|TABLE)\s+(?:IF\s+EXISTS\s+)?(\w+)", re.I)
_COMMENT = re.compile(r"--[^\n]*")


@dataclass(frozen=True, slots=True)
class StepNeeds:
    """What one schema step needs of the database's user."""

    number: int
    creates: tuple[str, ...] = ()  # "table api_tokens", "index messages_search", …
    owns: tuple[str, ...] = ()  # relations it alters, indexes or drops
    extensions: tuple[str, ...] = ()

    @property
    def made(self) -> set[str]:
        """The relations this step creates (a later ALTER of them is the user's own)."""
        return {what.split(" ")[-1] for what in self.creates
                if what.startswith(("table ", "index "))}


def step_needs(number: int, script: str) -> StepNeeds:
    script = _COMMENT.sub("", script)
    creates = []
    for kind, name in _CREATES.findall(script):
        kind = " ".join(kind.lower().split())
        creates.append(kind if not name or name == "%I" else f"{kind} {name}")
    if _SEQUENCE.search(script):
        creates.append("sequence")
    owns = [next(filter(None, names)) for names in _OWNED.findall(script)]
    return StepNeeds(number, tuple(dict.fromkeys(creates)), tuple(dict.fromkeys(owns)),
                     tuple(dict.fromkeys(_EXTENSION.findall(script))))


@dataclass(slots=True)
class Rights:
    """What PostgreSQL said of its user: ``schema`` is where the tables go (None: no schema of
    its search path exists); ``available`` maps each extension PostgreSQL has to whether it is
    trusted; ``owners`` maps a relation of the schema to (its table, the table's owner, whether
    this user has the owner's rights)."""

    user: str
    database: str
    schema: str | None
    superuser: bool = False
    create_on_schema: bool = False
    create_on_database: bool = False
    installed: set[str] = field(default_factory=set)
    available: dict[str, bool] = field(default_factory=dict)
    owners: dict[str, tuple[str, str, bool]] = field(default_factory=dict)


def _steps(numbers: Sequence[int]) -> str:
    return ("step " if len(numbers) == 1 else "steps ") + ", ".join(map(str, numbers))


def _listed(things: Sequence[str]) -> str:
    """Up to three things by name, else their kinds (``tables, indexes``)."""
    if len(things) <= 3:
        return ", ".join(things)
    kinds = dict.fromkeys(thing.split(" ")[0] if not thing.startswith("text search")
                          else "text search configuration" for thing in things)
    return ", ".join(kind + ("es" if kind.endswith("x") else "s") for kind in kinds)


def rights_findings(rights: Rights, pending: Sequence[StepNeeds],
                    first_start: bool) -> list[Finding]:
    """What the user lacks for the ``pending`` steps (``first_start``: the tables are still to be
    made), each said with its fix; and, as an ``ok``, where the extensions stand."""
    found: list[Finding] = []
    user = rights.user
    creating = [step for step in pending if step.creates]
    if creating and not (rights.create_on_schema and rights.schema is not None):
        why = ("no schema in its search_path exists" if rights.schema is None
               else f"no CREATE right on schema {rights.schema}")
        what = (f"PostgreSQL user {user} may not create the store's tables: {why}" if first_start
                else f"PostgreSQL user {user} may not apply schema "
                     f"{_steps([s.number for s in creating])}, which "
                     f"{'creates' if len(creating) == 1 else 'create'} "
                     f"{_listed([c for s in creating for c in s.creates])}: {why}")
        found.append(Finding("error", "database", what,
                             f"GRANT CREATE ON SCHEMA {rights.schema or 'public'} TO {user} (or "
                             "make it the database's owner), or start once as a user who may"))
    made: set[str] = set()
    others: dict[str, tuple[str, list[int]]] = {}  # table: (owner, steps)
    for step in pending:
        for name in step.owns:
            if name in made or name not in rights.owners:
                continue  # (made by an earlier step, so the user's; or not there: nothing to do)
            table, owner, mine = rights.owners[name]
            if not mine:
                others.setdefault(table, (owner, []))[1].append(step.number)
        made |= step.made
    for table, (owner, numbers) in others.items():
        found.append(Finding("error", "database",
                             f"PostgreSQL user {user} does not own table {table} (owned by "
                             f"{owner}), which schema {_steps(sorted(set(numbers)))} "
                             f"{'alters' if len(set(numbers)) == 1 else 'alter'}",
                             f"ALTER TABLE {table} OWNER TO {user} (as {owner} or a superuser), "
                             f"or start once as {owner}"))
    found.extend(_extension_findings(rights, pending))
    return found


def _extension_findings(rights: Rights, pending: Sequence[StepNeeds]) -> list[Finding]:
    needed = list(dict.fromkeys(e for step in pending for e in step.extensions))
    if not needed:
        return []
    to_make = [e for e in needed if e not in rights.installed and e in rights.available]
    barred = [e for e in to_make if not (rights.superuser or (rights.available[e]
                                                                and rights.create_on_database))]
    if barred:
        trusted = all(rights.available[e] for e in barred)
        why = (f"that needs CREATE on database {rights.database}" if trusted
               else "only a superuser may (not a trusted extension)")
        creates = " ".join(f"CREATE EXTENSION {e};" for e in barred)
        return [Finding("error", "database",
                        f"PostgreSQL user {rights.user} may not create the extension"
                        f"{'s' if len(barred) > 1 else ''} {', '.join(barred)} that the first "
                        f"start creates: {why}",
                        f"as a superuser, in database {rights.database}: {creates}"
                        + (f" (or GRANT CREATE ON DATABASE {rights.database} TO {rights.user})"
                           if trusted else ""))]
    installed = [e for e in needed if e in rights.installed]
    said = ([f"{', '.join(installed)} installed"] if installed else []) + (
        [f"{', '.join(to_make)} to be created by the first start (this user may)"]
        if to_make else [])
    return [Finding("ok", "database", f"PostgreSQL extensions: {'; '.join(said)}")] if said else []


async def look_at_rights(conn: Any, relations: Sequence[str]) -> Rights:
    """The user's rights in the database ``conn`` is connected to, and the owners of
    ``relations`` (of the schema the tables go in)."""

    async def one(sql: str, *params: Any) -> Any:
        row = await (await conn.execute(sql, params or None)).fetchone()
        return row[0] if row else None

    schema = await one("SELECT current_schema()")
    rights = Rights(
        user=await one("SELECT current_user"), database=await one("SELECT current_database()"),
        schema=schema,
        superuser=bool(await one("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")),
        create_on_schema=schema is not None and bool(
            await one("SELECT has_schema_privilege(current_schema(), 'CREATE')")),
        create_on_database=bool(
            await one("SELECT has_database_privilege(current_database(), 'CREATE')")))
    rights.installed = {r[0] for r in await (await conn.execute(
        "SELECT extname FROM pg_extension")).fetchall()}
    rights.available = {r[0]: bool(r[1]) for r in await (await conn.execute(
        "SELECT v.name, v.trusted FROM pg_available_extension_versions v "
        "JOIN pg_available_extensions a ON a.name = v.name AND a.default_version = v.version"
    )).fetchall()}
    if schema is not None and relations:
        rights.owners = {r[0]: (r[1], r[2], bool(r[3])) for r in await (await conn.execute(
            "SELECT c.relname, coalesce(t.relname, c.relname), pg_get_userbyid(c.relowner), "
            "pg_has_role(c.relowner, 'USAGE') FROM pg_class c "
            "LEFT JOIN pg_index i ON i.indexrelid = c.oid "
            "LEFT JOIN pg_class t ON t.oid = i.indrelid "
            "WHERE c.relnamespace = current_schema()::text::regnamespace AND c.relname = ANY(%s)",
            (list(relations),))).fetchall()}
    return rights
