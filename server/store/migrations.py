"""Numbered schema migrations, applied in order at start; ``PRAGMA user_version`` is the number
of the last one applied. Never edit a released migration: add the next one."""

from server.store.migrations_chat import CHAT_STEPS

#: Every step, numbered from 1. Steps 1 to 18 (the chat itself) are in migrations_chat.py;
#: from 19 on, the integrations (API, webhooks, bots, erasure, knowledge base, email).
MIGRATIONS: tuple[str, ...] = (
    *CHAT_STEPS,
    # 19 (issue 15): API tokens (server/store/api_tokens.py). Only the secret's SHA-256 is kept;
    # site_id NULL: a token of the whole installation; revoked, never deleted.
    """
    CREATE TABLE api_tokens (
        id TEXT PRIMARY KEY,
        site_id TEXT REFERENCES sites(id),
        name TEXT NOT NULL,
        scopes TEXT NOT NULL,
        secret_hash TEXT NOT NULL,
        created_by TEXT,
        created_at INTEGER NOT NULL,
        last_used_at INTEGER,
        revoked_at INTEGER
    );
    CREATE INDEX api_tokens_site ON api_tokens(site_id);
    """,
    # 20 (issue 15): webhook endpoints per site, the durable outbox written in the same
    # transaction as the event it announces, and the delivery log (server/store/webhooks.py).
    """
    CREATE TABLE webhook_endpoints (
        id TEXT PRIMARY KEY,
        site_id TEXT NOT NULL REFERENCES sites(id),
        url TEXT NOT NULL,
        events TEXT NOT NULL,
        secret TEXT NOT NULL,
        active INTEGER NOT NULL DEFAULT 1,
        disabled_reason TEXT,
        created_at INTEGER NOT NULL,
        failing_since INTEGER,
        last_success_at INTEGER,
        deleted_at INTEGER
    );
    CREATE INDEX webhook_endpoints_site ON webhook_endpoints(site_id);
    CREATE TABLE webhook_outbox (
        id TEXT PRIMARY KEY,
        endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints(id),
        site_id TEXT NOT NULL,
        conversation_id TEXT,
        visitor_id TEXT,
        event TEXT NOT NULL,
        payload TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        position INTEGER NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending'
            CHECK (state IN ('pending', 'delivered', 'failed')),
        attempts INTEGER NOT NULL DEFAULT 0,
        next_at INTEGER NOT NULL,
        lease_until INTEGER,
        delivered_at INTEGER
    );
    CREATE INDEX webhook_outbox_due ON webhook_outbox(state, next_at);
    CREATE INDEX webhook_outbox_order ON webhook_outbox(endpoint_id, conversation_id, position);
    CREATE INDEX webhook_outbox_position ON webhook_outbox(position);
    CREATE INDEX webhook_outbox_visitor ON webhook_outbox(visitor_id);
    CREATE TABLE webhook_deliveries (
        id TEXT PRIMARY KEY,
        outbox_id TEXT NOT NULL,
        endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints(id),
        event TEXT NOT NULL,
        at INTEGER NOT NULL,
        status INTEGER,
        latency_ms INTEGER NOT NULL,
        excerpt TEXT NOT NULL,
        error TEXT
    );
    CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries(endpoint_id, at);
    """,
    # 21 (issue 15): the bot that answers a site's new conversations first (server/bots.py);
    # the bot itself is an agent account whose id starts with bot_.
    """
    CREATE TABLE site_bots (
        site_id TEXT PRIMARY KEY REFERENCES sites(id),
        agent_id TEXT NOT NULL REFERENCES agents(id),
        created_at INTEGER NOT NULL
    );
    """,
    # 22 (issue 15): data rights — erasures recorded without the erased data, and how long each
    # site keeps resolved conversations (server/store/privacy.py).
    """
    CREATE TABLE erasures (
        id TEXT PRIMARY KEY,
        site_id TEXT NOT NULL REFERENCES sites(id),
        erased_by TEXT NOT NULL,
        erased_at INTEGER NOT NULL,
        conversations INTEGER NOT NULL,
        messages INTEGER NOT NULL,
        files INTEGER NOT NULL
    );
    CREATE TABLE site_retention (
        site_id TEXT PRIMARY KEY REFERENCES sites(id),
        days INTEGER NOT NULL
    );
    CREATE INDEX conversations_resolved ON conversations(site_id, resolved_at)
        WHERE status = 'resolved';
    """,
    # 23: the knowledge base (server/store/articles.py): articles with translations (one
    # group per article, one article per language in it), their search index (title and body,
    # accents ignored), each site's help-centre address, and what visitors did with articles.
    """
    CREATE TABLE articles (
        id TEXT PRIMARY KEY,
        site_id TEXT NOT NULL REFERENCES sites(id),
        group_id TEXT NOT NULL,
        lang TEXT NOT NULL,
        slug TEXT NOT NULL,
        title TEXT NOT NULL,
        body TEXT NOT NULL,
        html TEXT NOT NULL,
        text TEXT NOT NULL,
        category TEXT NOT NULL DEFAULT '',
        status TEXT NOT NULL CHECK (status IN ('draft', 'published')),
        author_id TEXT REFERENCES agents(id),
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        UNIQUE (group_id, lang),
        UNIQUE (site_id, lang, slug)
    );
    CREATE INDEX articles_site ON articles(site_id, status, lang, category);
    CREATE VIRTUAL TABLE articles_fts USING fts5(
        title, body, tokenize = 'porter unicode61 remove_diacritics 2'
    );
    CREATE TABLE help_centres (
        site_id TEXT PRIMARY KEY REFERENCES sites(id),
        slug TEXT NOT NULL UNIQUE
    );
    CREATE TABLE kb_events (
        site_id TEXT NOT NULL REFERENCES sites(id),
        kind TEXT NOT NULL
            CHECK (kind IN ('search', 'view', 'suggestion_opened', 'vote')),
        article_id TEXT,
        visitor_id TEXT,
        query TEXT,
        results INTEGER,
        helpful INTEGER,
        created_at INTEGER NOT NULL
    );
    CREATE INDEX kb_events_site ON kb_events(site_id, created_at);
    CREATE INDEX kb_events_vote ON kb_events(visitor_id, article_id) WHERE kind = 'vote';
    """,
    # 24: email (server/store/outbox.py, docs/email.md). The outbox: each email a job written
    # in the transaction of what causes it, claimed by one process at a time (a lease), retried
    # with backoff. Per conversation its reply key (the signed reply address names it) and how
    # far it was emailed; addresses that unsubscribed, per site; replies received, queued.
    """
    CREATE TABLE email_jobs (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        dedupe TEXT NOT NULL UNIQUE,
        site_id TEXT NOT NULL,
        conversation_id TEXT,
        -- an email to an agent (an invitation, a password reset): whom
        agent_id TEXT,
        recipient TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        not_before INTEGER NOT NULL,
        claimed_by TEXT,
        claimed_until INTEGER,
        last_error TEXT,
        message_id TEXT,
        created_at INTEGER NOT NULL,
        done_at INTEGER
    );
    CREATE INDEX email_jobs_due ON email_jobs(state, not_before);
    CREATE INDEX email_jobs_conversation ON email_jobs(conversation_id, kind, state);
    CREATE TABLE email_threads (
        conversation_id TEXT PRIMARY KEY,
        reply_key TEXT NOT NULL UNIQUE,
        emailed_seq INTEGER NOT NULL DEFAULT 0,
        last_message_id TEXT,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE email_optouts (
        site_id TEXT NOT NULL,
        address TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (site_id, address)
    );
    CREATE TABLE email_inbound (
        id TEXT PRIMARY KEY,
        message_key TEXT NOT NULL UNIQUE,
        recipient TEXT NOT NULL,
        raw BLOB NOT NULL,
        door TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending',
        claimed_by TEXT,
        claimed_until INTEGER,
        error TEXT,
        created_at INTEGER NOT NULL,
        done_at INTEGER
    );
    CREATE INDEX email_inbound_due ON email_inbound(state, created_at);
    -- Follow-ups (server/store/followups.py): an agent's check-in on a resolved conversation,
    -- at a time; pending -> sent (the check-in is in the conversation) -> answered (the
    -- visitor's answer reopened it), or cancelled, or skipped (the visitor had a conversation
    -- open at its time: server/store/followups.py).
    CREATE TABLE follow_ups (
        id TEXT PRIMARY KEY,
        conversation_id TEXT NOT NULL REFERENCES conversations(id),
        site_id TEXT NOT NULL,
        visitor_id TEXT NOT NULL,
        agent_id TEXT NOT NULL REFERENCES agents(id),
        due_at INTEGER NOT NULL,
        body TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending',
        created_at INTEGER NOT NULL,
        done_at INTEGER
    );
    CREATE INDEX follow_ups_due ON follow_ups(state, due_at);
    CREATE INDEX follow_ups_agent ON follow_ups(agent_id, state, due_at);
    CREATE INDEX follow_ups_conversation ON follow_ups(conversation_id, state);
    CREATE INDEX follow_ups_visitor ON follow_ups(visitor_id, state, due_at);
    -- What each agent wants by email (1: yes): a conversation assigned to them while they are
    -- offline; the daily digest of missed conversations (admins). No row: both on. (Step 31
    -- adds a third.)
    CREATE TABLE agent_email_prefs (
        agent_id TEXT PRIMARY KEY REFERENCES agents(id),
        assigned INTEGER NOT NULL DEFAULT 1,
        digest INTEGER NOT NULL DEFAULT 1
    );
    """,
    # 25: the knowledge base's search keywords (other words readers search an article with,
    # searched like its title: server/store/article_search.py), in the search index as a column
    # of its own (the index is made again from the articles).
    """
    ALTER TABLE articles ADD COLUMN keywords TEXT NOT NULL DEFAULT '';
    DROP TABLE articles_fts;
    CREATE VIRTUAL TABLE articles_fts USING fts5(
        title, keywords, body, tokenize = 'porter unicode61 remove_diacritics 2'
    );
    INSERT INTO articles_fts(rowid, title, keywords, body)
        SELECT rowid, title, keywords, text FROM articles;
    """,
    # 26 (issue 11): SQLite's search index over messages moves to a database file of its own
    # (``<db>-search``: server/store/sqlite_search.py), made again from the messages when the
    # store opens; ``fts_forget`` holds the conversations whose rows in it an erasure or a
    # deletion has yet to delete. (PostgreSQL: nothing to do, its index is on the messages.)
    """
    DROP TABLE messages_fts;
    CREATE TABLE fts_forget (conversation_id TEXT PRIMARY KEY) WITHOUT ROWID;
    """,
    # 27: PostgreSQL's search index over messages splits what its parser kept whole ("A-17":
    # server/store/pg_schema.py); SQLite's FTS5 already does, so nothing here.
    "SELECT 1;",
    # 28: when a person (an agent, not a bot: an id starting with bot_) first replied to each
    # conversation (a text; notes and events are not replies), kept on the conversation by the
    # reply's own write (server/store/base.py), found in the messages here: the widget's
    # "typically replies in …" and the reports read it instead of the messages.
    """
    ALTER TABLE conversations ADD COLUMN first_reply_at INTEGER;
    UPDATE conversations SET first_reply_at = r.first FROM (
        SELECT m.conversation_id, min(m.created_at) AS first FROM messages m
        WHERE m.kind = 'text' AND m.author_type = 'agent'
        AND NOT (substr(coalesce(m.author_id, ''), 1, 4) = 'bot_')
        GROUP BY m.conversation_id) AS r
    WHERE r.conversation_id = conversations.id;
    """,
    # 29: erasure. The webhook delivery log's rows found by their event, and the events by
    # their conversation, so that an erasure and a retention sweep delete them together (a
    # line's excerpt is the start of what the receiver answered, often the payload again); the
    # lines of events deleted before, which were left behind, go now. And the visitors erased,
    # as a SHA-256 of their id only (server/store/privacy.py): a token their browser kept
    # starts a new visitor. (IF NOT EXISTS: tests set a database back to an earlier step and
    # open it again.)
    """
    CREATE INDEX IF NOT EXISTS webhook_deliveries_outbox ON webhook_deliveries(outbox_id);
    CREATE INDEX IF NOT EXISTS webhook_outbox_conversation ON webhook_outbox(conversation_id);
    DELETE FROM webhook_deliveries WHERE NOT EXISTS (
        SELECT 1 FROM webhook_outbox o WHERE o.id = webhook_deliveries.outbox_id);
    CREATE TABLE IF NOT EXISTS erased_visitors (
        digest TEXT PRIMARY KEY,
        erased_at INTEGER NOT NULL
    );
    """,
    # 30 (issue 11): no index that every message moves. The two keyed by ``updated_at`` (the
    # site's conversations by status and by activity) took 41 % of the pages a message's commit
    # wrote. A site's conversations of one status are now found in the queue's order (which no
    # message changes); its open ones by a partial index, and sorted by
    # activity when a list asks; only resolved ones, which take no messages, are indexed by
    # ``updated_at`` (server/store/activity.py). And the queue's order: when a conversation
    # reached people (``queued_at``: its start, or its bot's handoff, or its reopening by the
    # visitor's answer to a check-in), not when it started: a conversation the bot had for ten
    # minutes, or one reopened days later, went ahead of everyone waiting (server/store/queue.py).
    """
    ALTER TABLE conversations ADD COLUMN queued_at INTEGER;
    UPDATE conversations SET queued_at = created_at;
    UPDATE conversations SET queued_at = coalesce((SELECT max(m.created_at) FROM messages m
        WHERE m.conversation_id = conversations.id AND (m.kind = 'reopened'
        OR (m.kind = 'requeued' AND m.author_type = 'agent'))), created_at)
        WHERE status != 'resolved';
    DROP INDEX IF EXISTS conversations_site_updated;
    DROP INDEX IF EXISTS conversations_site_status;
    CREATE INDEX IF NOT EXISTS conversations_site_status
        ON conversations(site_id, status, queued_at);
    CREATE INDEX IF NOT EXISTS conversations_open
        ON conversations(site_id, created_at) WHERE status != 'resolved';
    CREATE INDEX IF NOT EXISTS conversations_resolved_updated
        ON conversations(site_id, updated_at, id) WHERE status = 'resolved';
    """,
    # 31: whether an agent wants an email when a colleague's note mentions them while they are
    # offline (server/store/email_jobs.py), on like the others; and each note's mentions, by
    # agent, for the panel's Mentions view (server/store/mentions.py), found in the notes
    # written before (taken as seen: the panels told their agents then). (IF NOT EXISTS, ON
    # CONFLICT: tests set a database back to an earlier step and open it again.)
    """
    ALTER TABLE agent_email_prefs ADD COLUMN mentioned INTEGER NOT NULL DEFAULT 1;
    CREATE TABLE IF NOT EXISTS note_mentions (
        agent_id TEXT NOT NULL,
        conversation_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        seen_at INTEGER,
        PRIMARY KEY (conversation_id, seq, agent_id)
    ) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS note_mentions_latest ON note_mentions(agent_id, created_at);
    INSERT INTO note_mentions(agent_id, conversation_id, seq, created_at, seen_at)
        SELECT j.value, m.conversation_id, m.seq, m.created_at, m.created_at
        FROM messages m, json_each(m.data, '$.mentions') j
        WHERE m.kind = 'note' AND m.data LIKE '%"mentions"%'
        ON CONFLICT DO NOTHING;
    """,
)


class SchemaTooNew(Exception):
    """The database was upgraded by a newer livechat: this one would misread it."""


def check_schema(version: int, known: int) -> None:
    if version > known:
        raise SchemaTooNew(
            f"the database has schema version {version}, newer than this livechat's ({known}): "
            "it was upgraded by a newer release. Run that release (or restore a backup taken "
            "before the upgrade with `livechat restore`)")
