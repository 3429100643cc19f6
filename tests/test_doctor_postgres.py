"""``livechat doctor`` on PostgreSQL for a user who may not do everything (``pg.weak_user``): what
the schema steps still to apply need of it — ``CREATE`` on the schema only for a step that
creates something, the ownership of the tables a step alters, the extensions of the first
start — said precisely, and checked against what PostgreSQL then really does."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest

from server.doctor.database import look_at_postgres
from server.doctor.findings import Finding
from server.doctor.pg_rights import step_needs
from server.store.migrations import MIGRATIONS
from server.store.pg_schema import steps
from server.store.postgres import PostgresStore
from tests import pg
from tests.live import SECRET
from tests.test_doctor import doctor

LATEST = len(MIGRATIONS)


def open_store(url: str) -> None:
    """Open (so migrate) and close the store at ``url``, as a start does."""

    async def run() -> None:
        store = PostgresStore(url, clock=time.time)
        await store.open()
        await store.close()

    asyncio.run(run())


def made_by(weak: str) -> str:
    """The store made by the weak user (so it owns the tables), whose CREATE rights on the schema
    and the database are then taken back, as an administrator may after a first start. Returns
    the user's name."""
    user = str(urlsplit(weak).username)
    pg.as_admin(weak, f'GRANT CREATE ON SCHEMA public TO "{user}"',
                f'GRANT CREATE ON DATABASE "{weak.rsplit("/", 1)[1]}" TO "{user}"')
    open_store(weak)
    pg.as_admin(weak, f'REVOKE CREATE ON SCHEMA public FROM "{user}"',
                f'REVOKE CREATE ON DATABASE "{weak.rsplit("/", 1)[1]}" FROM "{user}"')
    return user


def database_lines(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line[6:20].strip() == "database"]


def errors(found: Sequence[Finding]) -> list[str]:
    return [f.message for f in found if f.level == "error"]


def test_an_owner_without_create_starts_on_its_up_to_date_store(tmp_path: Path) -> None:
    """Before, every start ran ``CREATE TABLE IF NOT EXISTS meta``, which PostgreSQL refuses
    without CREATE on the schema even when the table is there: the owner of every table could
    not start the server (doctor said ok)."""
    with pg.weak_user() as weak:
        made_by(weak)
        open_store(weak)
        result = doctor(tmp_path / "x.db", LIVECHAT_DATABASE_URL=weak,
                        LIVECHAT_SECRET_KEYS=SECRET)
        lines = database_lines(result.stdout)
        assert lines[0].startswith("ok    database      PostgreSQL "), result.stdout
        assert lines[0].endswith(f"(schema step {LATEST})"), result.stdout
        assert len(lines) == 1, result.stdout  # (no extension to create, nothing missing)


def test_an_upgrade_that_creates_needs_create_and_says_which_step(tmp_path: Path) -> None:
    """Before, any pending step with no CREATE right was "may not create the store's tables".
    Step 26 (nothing) needs no right; step 27 makes an index, so needs CREATE on the schema:
    PostgreSQL then applies 26 and refuses 27, as said."""
    with pg.weak_user() as weak:
        user = made_by(weak)
        # As step 25 left it (step 28 adds this column; step 29 these indexes and table; step
        # 30 this column, these indexes, and another in place of one of the same name; step 31
        # this column, and a table it makes if missing).
        pg.as_admin(weak, "ALTER TABLE conversations DROP COLUMN first_reply_at")
        pg.as_admin(weak, "ALTER TABLE agent_email_prefs DROP COLUMN mentioned")
        pg.as_admin(weak, "ALTER TABLE conversations DROP COLUMN queued_at")
        for made in ("INDEX webhook_deliveries_outbox", "INDEX webhook_outbox_conversation",
                     "TABLE erased_visitors", "INDEX conversations_resolved_updated",
                     "INDEX conversations_open"):
            pg.as_admin(weak, f"DROP {made}")
        pg.as_admin(weak, "UPDATE meta SET value = '25' WHERE key = 'schema_version'")
        result = doctor(tmp_path / "x.db", LIVECHAT_DATABASE_URL=weak,
                        LIVECHAT_SECRET_KEYS=SECRET)
        assert result.returncode == 2, result.stdout
        assert database_lines(result.stdout) == [
            f"error database      PostgreSQL user {user} may not apply schema steps 27, 29, "
            "30, 31, which create indexes, tables: no CREATE right on schema public"], result.stdout
        assert (f"fix: GRANT CREATE ON SCHEMA public TO {user} (or make it the database's "
                "owner), or start once as a user who may") in result.stdout
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="schema public"):
            open_store(weak)
        assert pg.rows(weak, "SELECT value FROM meta WHERE key = 'schema_version'") == [("26",)]
        pg.as_admin(weak, f'GRANT CREATE ON SCHEMA public TO "{user}"')
        again = doctor(tmp_path / "x.db", LIVECHAT_DATABASE_URL=weak,
                       LIVECHAT_SECRET_KEYS=SECRET)
        (line,) = database_lines(again.stdout)
        assert line.startswith("ok    database      PostgreSQL "), again.stdout
        assert line.endswith(f"at {weak} (schema step 26, {LATEST} after the next start)")
        open_store(weak)


def test_steps_that_only_alter_need_the_tables_not_create() -> None:
    """Steps that add a column and drop an index need no CREATE right, only to own the tables
    (two such steps after the store's, given to the doctor); a table owned by another user is
    said, with its owner and the step. PostgreSQL agrees: it refuses, then applies them."""
    alter = "ALTER TABLE sites ADD COLUMN motto TEXT NOT NULL DEFAULT '';"
    drop = "DROP INDEX IF EXISTS blocks_ip;"
    later = [*steps(), (LATEST + 1, alter), (LATEST + 2, drop)]
    with pg.weak_user() as weak:
        user = made_by(weak)
        assert errors(asyncio.run(look_at_postgres(weak, later))) == []
        pg.as_admin(weak, "ALTER TABLE sites OWNER TO postgres")
        assert errors(asyncio.run(look_at_postgres(weak, later))) == [
            f"PostgreSQL user {user} does not own table sites (owned by postgres), which schema "
            f"step {LATEST + 1} alters"]
        with psycopg.connect(weak, autocommit=True) as conn:
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="owner of table"):
                conn.execute(alter)
        pg.as_admin(weak, f'ALTER TABLE sites OWNER TO "{user}"')
        with psycopg.connect(weak, autocommit=True) as conn:
            conn.execute(alter)
            conn.execute(drop)


def test_the_extensions_of_the_first_start_are_checked(tmp_path: Path) -> None:
    """Before, the doctor only asked whether PostgreSQL has citext and unaccent, not whether this
    user may create them (CREATE on the database: both are trusted) or they are there already."""
    with pg.weak_user() as weak:
        user = str(urlsplit(weak).username)
        name = weak.rsplit("/", 1)[1]
        found = errors(asyncio.run(look_at_postgres(weak)))
        assert found == [
            f"PostgreSQL user {user} may not create the store's tables: no CREATE right on "
            "schema public",
            f"PostgreSQL user {user} may not create the extensions citext, unaccent that the "
            f"first start creates: that needs CREATE on database {name}"]
        result = doctor(tmp_path / "x.db", LIVECHAT_DATABASE_URL=weak,
                        LIVECHAT_SECRET_KEYS=SECRET)
        assert (f"fix: as a superuser, in database {name}: CREATE EXTENSION citext; CREATE "
                f"EXTENSION unaccent; (or GRANT CREATE ON DATABASE {name} TO {user})"
                in result.stdout), result.stdout
        pg.as_admin(weak, f'GRANT CREATE ON DATABASE "{name}" TO "{user}"')
        seen = asyncio.run(look_at_postgres(weak))
        assert errors(seen) == [found[0]]
        with psycopg.connect(weak, autocommit=True) as conn:  # (so it may indeed)
            conn.execute("CREATE EXTENSION citext")
        seen = asyncio.run(look_at_postgres(weak))
        assert errors(seen) == [found[0]]
        assert [f.message for f in seen if "extensions" in f.message] == [
            "PostgreSQL extensions: citext installed; unaccent to be created by the first start "
            "(this user may)"]
        pg.as_admin(weak, f'REVOKE CREATE ON DATABASE "{name}" FROM "{user}"',
                    "CREATE EXTENSION unaccent", f'GRANT CREATE ON SCHEMA public TO "{user}"')
        seen = asyncio.run(look_at_postgres(weak))
        assert errors(seen) == []
        assert [f.message for f in seen if "extensions" in f.message] == [
            "PostgreSQL extensions: citext, unaccent installed"]
        open_store(weak)  # (and the first start does start, without CREATE on the database)


def test_what_each_step_needs_is_read_from_its_script() -> None:
    by_number = dict(steps())
    assert step_needs(18, by_number[18]).creates == ()
    assert step_needs(18, by_number[18]).owns == ("messages_author_client",)
    assert step_needs(26, by_number[26]).creates == ()
    assert step_needs(27, by_number[27]).creates == ("index messages_search",)
    assert step_needs(27, by_number[27]).owns == ("messages_search", "messages")
    assert step_needs(25, by_number[25]).creates == ("text search configuration",)
    assert step_needs(25, by_number[25]).owns == ("articles",)
    baseline = step_needs(17, by_number[17])
    assert baseline.extensions == ("citext", "unaccent")
    assert "table sites" in baseline.creates and "index teams_site_name" in baseline.creates
    assert step_needs(99, "ALTER TABLE t ADD COLUMN id BIGINT GENERATED BY DEFAULT AS "
                          "IDENTITY").creates == ("sequence",)
