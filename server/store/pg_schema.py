"""The PostgreSQL side of ``server.store.migrations.MIGRATIONS``: one list of numbered steps for
both databases.

Steps 1 to ``BASELINE_STEP`` were written for SQLite before PostgreSQL was supported; on
PostgreSQL they are applied as one step, ``BASELINE``: the same tables and columns in the same
order (``SELECT`` and ``INSERT`` name their columns, but a row of the one database must copy to
the other), in PostgreSQL's words (``BIGINT`` times in milliseconds, ``citext`` for what SQLite
compares ``NOCASE``, the search index of ``server.store.search``, and the table of files that
``server.store.filestore.DatabaseFiles`` keeps attachments in).

A later step is written once in SQL both databases share (``CREATE TABLE``, ``ALTER TABLE …
ADD COLUMN``, ``CREATE INDEX``, ``INSERT … ON CONFLICT DO NOTHING``) and ``portable`` gives it
PostgreSQL's types; a step that cannot be shared puts its PostgreSQL version in ``POSTGRES``
under its number.

The applied step is kept in ``meta`` (``schema_version``); steps are applied under an advisory
lock, so that several processes starting at once apply each step once.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from typing import Any

import psycopg

from server.store.migrations import MIGRATIONS, check_schema

BASELINE_STEP = 17
#: What PostgreSQL's parser keeps in one token with what is around it (``-17`` of ``A-17``,
#: ``+17``, ``v2.1``, ``jo@acme.example``, ``acme.example/orders``): a space in its place, in
#: the messages' index and in a search's words alike (``server.store.search``), so that each
#: part is found, as SQLite's FTS5 splits them.
SEARCH_SPLIT = "-+/.@:_#"


def searchable(column: str) -> str:
    """The text of ``column`` as the messages' search index reads it (step 27)."""
    return f"translate({column}, '{SEARCH_SPLIT}', '{' ' * len(SEARCH_SPLIT)}')"

#: pg_advisory_lock key of migrations (any constant of our own: "livechat" in ASCII).
MIGRATION_LOCK = 0x6C69766563686174
#: Held shared by every open store (its writer's connection); ``livechat restore`` takes it
#: alone, so it refuses while any process has the database open (``server.store.pg_backup``).
SERVING_LOCK = MIGRATION_LOCK + 1

BASELINE = """
CREATE EXTENSION IF NOT EXISTS citext;
CREATE EXTENSION IF NOT EXISTS unaccent;
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_ts_config WHERE cfgname = 'livechat') THEN
        CREATE TEXT SEARCH CONFIGURATION livechat (COPY = simple);
        ALTER TEXT SEARCH CONFIGURATION livechat
            ALTER MAPPING FOR hword, hword_part, word WITH unaccent, simple;
    END IF;
END $$;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE sites (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    allowed_origins TEXT NOT NULL DEFAULT '[]',
    created_at BIGINT NOT NULL,
    auto_assign BIGINT NOT NULL DEFAULT 0,
    identity_secret TEXT,
    identity_mode TEXT NOT NULL DEFAULT 'optional'
        CHECK (identity_mode IN ('optional', 'mandatory')),
    settings TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE agents (
    id TEXT PRIMARY KEY,
    email CITEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'agent')),
    active BIGINT NOT NULL DEFAULT 1,
    session_generation BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    capacity BIGINT NOT NULL DEFAULT 5,
    last_assigned_at BIGINT NOT NULL DEFAULT 0,
    avatar_file TEXT,
    avatar_type TEXT
);
CREATE TABLE agent_sites (
    agent_id TEXT NOT NULL REFERENCES agents(id),
    site_id TEXT NOT NULL REFERENCES sites(id),
    PRIMARY KEY (agent_id, site_id)
);
CREATE TABLE visitors (
    id TEXT PRIMARY KEY,
    site_id TEXT NOT NULL REFERENCES sites(id),
    created_at BIGINT NOT NULL,
    external_id TEXT,
    name TEXT,
    email TEXT,
    verified BIGINT NOT NULL DEFAULT 0,
    attributes TEXT NOT NULL DEFAULT '{}',
    user_agent TEXT,
    language TEXT,
    timezone TEXT,
    referrer TEXT,
    claims_signed BIGINT NOT NULL DEFAULT 0,
    last_ip TEXT
);
CREATE TABLE teams (
    id TEXT PRIMARY KEY,
    site_id TEXT NOT NULL REFERENCES sites(id),
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX teams_site_name ON teams(site_id, lower(name));
CREATE INDEX teams_site ON teams(site_id);
CREATE TABLE team_members (
    team_id TEXT NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    agent_id TEXT NOT NULL REFERENCES agents(id),
    PRIMARY KEY (team_id, agent_id)
);
CREATE TABLE conversations (
    id TEXT PRIMARY KEY,
    site_id TEXT NOT NULL REFERENCES sites(id),
    visitor_id TEXT NOT NULL REFERENCES visitors(id),
    status TEXT NOT NULL CHECK (status IN ('waiting', 'assigned', 'resolved')),
    assignee_id TEXT REFERENCES agents(id),
    last_seq BIGINT NOT NULL DEFAULT 0,
    last_message TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    resolved_at BIGINT,
    first_assigned_at BIGINT,
    visitor_read_seq BIGINT NOT NULL DEFAULT 0,
    agent_read_seq BIGINT NOT NULL DEFAULT 0,
    rating BIGINT,
    rating_comment TEXT,
    snoozed_until BIGINT,
    team_id TEXT REFERENCES teams(id) ON DELETE SET NULL,
    unread BIGINT NOT NULL DEFAULT 0,
    visitor_seq BIGINT NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX conversations_one_open ON conversations(visitor_id)
    WHERE status != 'resolved';
CREATE INDEX conversations_visitor ON conversations(visitor_id, created_at);
CREATE INDEX conversations_site_status ON conversations(site_id, status, updated_at);
CREATE INDEX conversations_site_created ON conversations(site_id, created_at);
CREATE INDEX conversations_assignee ON conversations(assignee_id, status);
CREATE INDEX conversations_site_updated ON conversations(site_id, updated_at);
CREATE INDEX conversations_snoozed ON conversations(snoozed_until)
    WHERE snoozed_until IS NOT NULL;
CREATE INDEX conversations_team ON conversations(team_id) WHERE team_id IS NOT NULL;
CREATE TABLE attachments (
    id TEXT PRIMARY KEY,
    site_id TEXT NOT NULL REFERENCES sites(id),
    uploader_id TEXT NOT NULL,
    name TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    attached_at BIGINT
);
CREATE INDEX attachments_unattached ON attachments(created_at) WHERE attached_at IS NULL;
CREATE INDEX attachments_uploader ON attachments(uploader_id);
CREATE TABLE messages (
    conversation_id TEXT NOT NULL REFERENCES conversations(id),
    seq BIGINT NOT NULL,
    client_msg_id TEXT,
    kind TEXT NOT NULL,
    author_type TEXT NOT NULL CHECK (author_type IN ('visitor', 'agent', 'system')),
    author_id TEXT,
    author_name TEXT,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    data TEXT,
    PRIMARY KEY (conversation_id, seq)
);
CREATE UNIQUE INDEX messages_client_id ON messages(conversation_id, client_msg_id)
    WHERE client_msg_id IS NOT NULL;
CREATE INDEX messages_author_client ON messages(author_id, client_msg_id)
    WHERE client_msg_id IS NOT NULL;
CREATE INDEX messages_search ON messages USING gin (to_tsvector('livechat', body))
    WHERE kind IN ('text', 'note');
CREATE TABLE conversation_tags (
    conversation_id TEXT NOT NULL REFERENCES conversations(id),
    tag TEXT NOT NULL,
    PRIMARY KEY (conversation_id, tag)
);
CREATE INDEX conversation_tags_tag ON conversation_tags(tag, conversation_id);
CREATE TABLE canned (
    id TEXT PRIMARY KEY,
    site_id TEXT NOT NULL REFERENCES sites(id),
    owner_id TEXT REFERENCES agents(id),
    shortcut TEXT NOT NULL,
    body TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX canned_shortcut ON canned(site_id, coalesce(owner_id, ''), shortcut);
CREATE TABLE visitor_pages (
    visitor_id TEXT NOT NULL,
    at BIGINT NOT NULL,
    url TEXT NOT NULL,
    title TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (visitor_id, at, url)
);
CREATE TABLE agent_sessions (
    id TEXT PRIMARY KEY,
    agent_id TEXT NOT NULL REFERENCES agents(id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX agent_sessions_agent ON agent_sessions(agent_id);
CREATE TABLE blocks (
    id TEXT PRIMARY KEY,
    site_id TEXT NOT NULL REFERENCES sites(id),
    visitor_id TEXT NOT NULL,
    ip TEXT,
    until BIGINT,
    reason TEXT,
    created_by TEXT NOT NULL REFERENCES agents(id),
    created_at BIGINT NOT NULL
);
CREATE INDEX blocks_visitor ON blocks(visitor_id);
CREATE INDEX blocks_ip ON blocks(site_id, ip) WHERE ip IS NOT NULL;
-- Attachments' bytes (server.store.filestore.DatabaseFiles): every machine serves every file.
CREATE TABLE files (
    name TEXT PRIMARY KEY,
    content BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);
"""

_SQLITE_ONLY = ((re.compile(r"\bINTEGER\s+PRIMARY\s+KEY(\s+AUTOINCREMENT)?\b", re.I),
                 "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"),
                (re.compile(r"\bINTEGER\b"), "BIGINT"),
                (re.compile(r"\)\s*WITHOUT ROWID"), ")"),
                (re.compile(r"\bBLOB\b"), "BYTEA"),
                (re.compile(r"\bTEXT(\s+NOT NULL)?(\s+UNIQUE)?\s+COLLATE NOCASE\b"),
                 r"CITEXT\1\2"))


def portable(script: str) -> str:
    """A step written for both databases, in PostgreSQL's types: whole numbers are ``BIGINT``
    (times are milliseconds), ``INTEGER PRIMARY KEY [AUTOINCREMENT]`` (SQLite's row id) an
    identity column, ``WITHOUT ROWID`` goes, ``BLOB`` is ``BYTEA``, ``TEXT … COLLATE NOCASE`` is
    ``CITEXT``."""
    for pattern, replacement in _SQLITE_ONLY:
        script = pattern.sub(replacement, script)
    return script


#: The PostgreSQL version of a later step that both databases cannot share, by its number.
POSTGRES: dict[int, str] = {
    # (IF EXISTS: a database made by an earlier baseline has the index, a newer one may not.)
    18: "DROP INDEX IF EXISTS messages_author_client;",
    # The knowledge base: SQLite's FTS5 table is, here, a weighted tsvector column of the
    # articles themselves (title A, text B: ``server.store.articles.PostgresArticles``), without
    # accents (the ``livechat`` text search configuration of the baseline), with a GIN index.
    23: portable(MIGRATIONS[22].replace(
        """    CREATE VIRTUAL TABLE articles_fts USING fts5(
        title, body, tokenize = 'porter unicode61 remove_diacritics 2'
    );
""", "")) + """
    ALTER TABLE articles ADD COLUMN search tsvector NOT NULL DEFAULT ''::tsvector;
    CREATE INDEX articles_search ON articles USING gin(search);
""",
    # The knowledge base per language: a text search configuration per language of the widget
    # that PostgreSQL has a Snowball stemmer for (``livechat_en`` copies ``english``… with
    # ``unaccent`` before the stemmer; the others stay in ``livechat``), each article's in
    # ``search_config``; the keywords weigh like the title. The index is made again.
    25: """
    ALTER TABLE articles ADD COLUMN keywords TEXT NOT NULL DEFAULT '';
    ALTER TABLE articles ADD COLUMN search_config regconfig NOT NULL DEFAULT 'livechat';
    DO $$
    DECLARE pair text[];
    BEGIN
        FOREACH pair SLICE 1 IN ARRAY ARRAY[['en', 'english'], ['pt', 'portuguese'],
                ['es', 'spanish'], ['fr', 'french'], ['de', 'german'], ['el', 'greek'],
                ['ar', 'arabic']] LOOP
            IF NOT EXISTS (SELECT 1 FROM pg_ts_config WHERE cfgname = 'livechat_' || pair[1])
            THEN
                EXECUTE format('CREATE TEXT SEARCH CONFIGURATION %I (COPY = %I)',
                               'livechat_' || pair[1], pair[2]);
                EXECUTE format('ALTER TEXT SEARCH CONFIGURATION %I ALTER MAPPING FOR '
                               'hword, hword_part, word WITH unaccent, %I',
                               'livechat_' || pair[1], pair[2] || '_stem');
            END IF;
        END LOOP;
    END $$;
    UPDATE articles SET search_config = CAST('livechat_' || split_part(lang, '-', 1) AS regconfig)
        WHERE split_part(lang, '-', 1) IN ('en', 'pt', 'es', 'fr', 'de', 'el', 'ar');
    UPDATE articles SET search = setweight(to_tsvector(search_config, title), 'A')
        || setweight(to_tsvector(search_config, text), 'B');
""",
    # SQLite's search index moved to a file of its own; PostgreSQL's is the GIN index on the
    # messages, as it was: a step that does nothing, so that both count the same steps.
    26: "SELECT 1;",
    # The messages' search index reads ``searchable(body)``: "17" finds "A-17" (SQLite: nothing
    # to do, FTS5 splits them already).
    27: f"""
    DROP INDEX IF EXISTS messages_search;
    CREATE INDEX messages_search ON messages
        USING gin (to_tsvector('livechat', {searchable('body')}))
        WHERE kind IN ('text', 'note');
""",
    # The notes' mentions found in PostgreSQL's way (a note's ``data`` is JSON text).
    31: portable(MIGRATIONS[30].split("    INSERT INTO note_mentions")[0]) + """
    INSERT INTO note_mentions(agent_id, conversation_id, seq, created_at, seen_at)
        SELECT j.value, m.conversation_id, m.seq, m.created_at, m.created_at
        FROM messages m, json_array_elements_text(m.data::json -> 'mentions') AS j(value)
        WHERE m.kind = 'note' AND m.data LIKE '%"mentions"%'
        ON CONFLICT DO NOTHING;
""",
}

def steps() -> list[tuple[int, str]]:
    """(number, PostgreSQL script) of every step, the baseline standing for the first ones."""
    later = [(n, POSTGRES.get(n) or portable(MIGRATIONS[n - 1]))
             for n in range(BASELINE_STEP + 1, len(MIGRATIONS) + 1)]
    return [(BASELINE_STEP, BASELINE), *later]


def migrate(conn: psycopg.Connection[Any],
            on_step: Callable[[int, int], None] | None = None) -> int:
    """Apply the steps not yet applied, each in its own transaction, under an advisory lock
    (several processes may start at once). Returns the step the database is at. A database
    newer than ``MIGRATIONS`` is refused (``SchemaTooNew``)."""
    conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
    try:
        # (Only when missing: CREATE TABLE IF NOT EXISTS needs CREATE on the schema even when
        # the table is there, and the store's user may own its tables without that right.)
        if conn.execute("SELECT to_regclass('meta') IS NULL").fetchone() == (True,):
            conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        version = int(row[0]) if row else 0
        check_schema(version, len(MIGRATIONS))
        todo = [(n, script) for n, script in steps() if n > version]
        for number, script in todo:
            if on_step is not None:
                on_step(number, todo[-1][0])
            with conn.transaction():
                conn.execute(script.encode(), prepare=False)  # several statements, no parameters
                conn.execute("INSERT INTO meta(key, value) VALUES ('epoch', %s) "
                             "ON CONFLICT DO NOTHING", (secrets.token_hex(8),))
                conn.execute("INSERT INTO meta(key, value) VALUES ('schema_version', %s) "
                             "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                             (str(number),))
            version = number
        return version
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))
