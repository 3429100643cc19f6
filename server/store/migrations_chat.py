"""Schema steps 1 to 18 of ``server.store.migrations.MIGRATIONS``: the live chat itself (sites,
agents, visitors, conversations and messages, the panel's state, sessions, uploads). Released:
never edit one; the next step goes at the end of ``MIGRATIONS``."""

CHAT_STEPS: tuple[str, ...] = (
    # 1: sites, agents, visitors, conversations, messages
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE sites (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        allowed_origins TEXT NOT NULL DEFAULT '[]',
        created_at INTEGER NOT NULL
    );
    CREATE TABLE agents (
        id TEXT PRIMARY KEY,
        email TEXT NOT NULL UNIQUE COLLATE NOCASE,
        name TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('admin', 'agent')),
        active INTEGER NOT NULL DEFAULT 1,
        session_generation INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE agent_sites (
        agent_id TEXT NOT NULL REFERENCES agents(id),
        site_id TEXT NOT NULL REFERENCES sites(id),
        PRIMARY KEY (agent_id, site_id)
    ) WITHOUT ROWID;
    CREATE TABLE visitors (
        id TEXT PRIMARY KEY,
        site_id TEXT NOT NULL REFERENCES sites(id),
        created_at INTEGER NOT NULL
    );
    CREATE TABLE conversations (
        id TEXT PRIMARY KEY,
        site_id TEXT NOT NULL REFERENCES sites(id),
        visitor_id TEXT NOT NULL REFERENCES visitors(id),
        status TEXT NOT NULL CHECK (status IN ('waiting', 'assigned', 'resolved')),
        assignee_id TEXT REFERENCES agents(id),
        last_seq INTEGER NOT NULL DEFAULT 0,
        last_message TEXT NOT NULL DEFAULT '',
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        resolved_at INTEGER
    );
    -- A visitor has at most one conversation that is not resolved: a double click or two tabs
    -- can never open two.
    CREATE UNIQUE INDEX conversations_one_open ON conversations(visitor_id)
        WHERE status != 'resolved';
    CREATE INDEX conversations_visitor ON conversations(visitor_id, created_at);
    CREATE INDEX conversations_site_status ON conversations(site_id, status, updated_at);
    CREATE TABLE messages (
        conversation_id TEXT NOT NULL REFERENCES conversations(id),
        seq INTEGER NOT NULL,
        client_msg_id TEXT,
        kind TEXT NOT NULL CHECK (kind IN ('text', 'joined', 'resolved')),
        author_type TEXT NOT NULL CHECK (author_type IN ('visitor', 'agent', 'system')),
        author_id TEXT,
        author_name TEXT,
        body TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (conversation_id, seq)
    ) WITHOUT ROWID;
    CREATE UNIQUE INDEX messages_client_id ON messages(conversation_id, client_msg_id)
        WHERE client_msg_id IS NOT NULL;
    CREATE INDEX messages_author_client ON messages(author_id, client_msg_id)
        WHERE client_msg_id IS NOT NULL;
    """,
    # 2: routing — auto-assignment per site, capacity per agent, round-robin order, and the
    # conversation events of transfers and of returns to the queue.
    """
    ALTER TABLE sites ADD COLUMN auto_assign INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE agents ADD COLUMN capacity INTEGER NOT NULL DEFAULT 5;
    ALTER TABLE agents ADD COLUMN last_assigned_at INTEGER NOT NULL DEFAULT 0;
    -- when an agent first joined: the wait in the queue (expected waits, and reports later)
    ALTER TABLE conversations ADD COLUMN first_assigned_at INTEGER;
    CREATE INDEX conversations_site_created ON conversations(site_id, created_at);
    CREATE TABLE messages_v2 (
        conversation_id TEXT NOT NULL REFERENCES conversations(id),
        seq INTEGER NOT NULL,
        client_msg_id TEXT,
        kind TEXT NOT NULL
            CHECK (kind IN ('text', 'joined', 'resolved', 'transferred', 'requeued')),
        author_type TEXT NOT NULL CHECK (author_type IN ('visitor', 'agent', 'system')),
        author_id TEXT,
        author_name TEXT,
        body TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (conversation_id, seq)
    ) WITHOUT ROWID;
    INSERT INTO messages_v2 SELECT * FROM messages;
    DROP TABLE messages;
    ALTER TABLE messages_v2 RENAME TO messages;
    CREATE UNIQUE INDEX messages_client_id ON messages(conversation_id, client_msg_id)
        WHERE client_msg_id IS NOT NULL;
    CREATE INDEX messages_author_client ON messages(author_id, client_msg_id)
        WHERE client_msg_id IS NOT NULL;
    CREATE INDEX conversations_assignee ON conversations(assignee_id, status);
    """,
    # 3: verified identity — a per-site secret and mode; who a verified visitor is.
    """
    ALTER TABLE sites ADD COLUMN identity_secret TEXT;
    ALTER TABLE sites ADD COLUMN identity_mode TEXT NOT NULL DEFAULT 'optional'
        CHECK (identity_mode IN ('optional', 'mandatory'));
    ALTER TABLE visitors ADD COLUMN external_id TEXT;
    ALTER TABLE visitors ADD COLUMN name TEXT;
    ALTER TABLE visitors ADD COLUMN email TEXT;
    ALTER TABLE visitors ADD COLUMN verified INTEGER NOT NULL DEFAULT 0;
    """,
    # 4: the widget — site appearance and hours, visitor profile and custom attributes, read
    # receipts, satisfaction ratings, attachments. Messages lose the CHECK on kind (the kinds are
    # listed in models.MessageKind; a new kind should not need a table rebuild) and gain ``data``,
    # a JSON object (an attachment, a rating's score).
    """
    ALTER TABLE sites ADD COLUMN settings TEXT NOT NULL DEFAULT '{}';
    ALTER TABLE visitors ADD COLUMN attributes TEXT NOT NULL DEFAULT '{}';
    ALTER TABLE conversations ADD COLUMN visitor_read_seq INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE conversations ADD COLUMN agent_read_seq INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE conversations ADD COLUMN rating INTEGER;
    ALTER TABLE conversations ADD COLUMN rating_comment TEXT;
    CREATE TABLE attachments (
        id TEXT PRIMARY KEY,
        site_id TEXT NOT NULL REFERENCES sites(id),
        uploader_id TEXT NOT NULL,
        name TEXT NOT NULL,
        content_type TEXT NOT NULL,
        size INTEGER NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE messages_v3 (
        conversation_id TEXT NOT NULL REFERENCES conversations(id),
        seq INTEGER NOT NULL,
        client_msg_id TEXT,
        kind TEXT NOT NULL,
        author_type TEXT NOT NULL CHECK (author_type IN ('visitor', 'agent', 'system')),
        author_id TEXT,
        author_name TEXT,
        body TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        data TEXT,
        PRIMARY KEY (conversation_id, seq)
    ) WITHOUT ROWID;
    INSERT INTO messages_v3(conversation_id, seq, client_msg_id, kind, author_type, author_id,
        author_name, body, created_at) SELECT * FROM messages;
    DROP TABLE messages;
    ALTER TABLE messages_v3 RENAME TO messages;
    CREATE UNIQUE INDEX messages_client_id ON messages(conversation_id, client_msg_id)
        WHERE client_msg_id IS NOT NULL;
    CREATE INDEX messages_author_client ON messages(author_id, client_msg_id)
        WHERE client_msg_id IS NOT NULL;
    """,
    # 5: the agent panel — tags, canned responses, and the visitor's context (browser, language,
    # time zone, the pages they visited).
    """
    CREATE TABLE conversation_tags (
        conversation_id TEXT NOT NULL REFERENCES conversations(id),
        tag TEXT NOT NULL,
        PRIMARY KEY (conversation_id, tag)
    ) WITHOUT ROWID;
    CREATE INDEX conversation_tags_tag ON conversation_tags(tag, conversation_id);
    CREATE TABLE canned (
        id TEXT PRIMARY KEY,
        site_id TEXT NOT NULL REFERENCES sites(id),
        -- NULL: shared with every agent of the site (admins manage those)
        owner_id TEXT REFERENCES agents(id),
        shortcut TEXT NOT NULL,
        body TEXT NOT NULL,
        updated_at INTEGER NOT NULL
    );
    CREATE UNIQUE INDEX canned_shortcut ON canned(site_id, coalesce(owner_id, ''), shortcut);
    ALTER TABLE visitors ADD COLUMN user_agent TEXT;
    ALTER TABLE visitors ADD COLUMN language TEXT;
    ALTER TABLE visitors ADD COLUMN timezone TEXT;
    ALTER TABLE visitors ADD COLUMN referrer TEXT;
    CREATE TABLE visitor_pages (
        visitor_id TEXT NOT NULL,
        at INTEGER NOT NULL,
        url TEXT NOT NULL,
        title TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (visitor_id, at, url)
    ) WITHOUT ROWID;
    CREATE INDEX conversations_site_updated ON conversations(site_id, updated_at);
    """,
    # 6: snooze, and full-text search over what people wrote (texts and notes).
    """
    ALTER TABLE conversations ADD COLUMN snoozed_until INTEGER;
    CREATE INDEX conversations_snoozed ON conversations(snoozed_until)
        WHERE snoozed_until IS NOT NULL;
    CREATE VIRTUAL TABLE messages_fts USING fts5(
        body, conversation_id UNINDEXED, seq UNINDEXED, tokenize = 'unicode61 remove_diacritics 2'
    );
    INSERT INTO messages_fts(body, conversation_id, seq)
        SELECT body, conversation_id, seq FROM messages WHERE kind IN ('text', 'note');
    """,
    # 7: teams — conversations can be assigned to one; reports per team.
    """
    CREATE TABLE teams (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE COLLATE NOCASE,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE team_members (
        team_id TEXT NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
        agent_id TEXT NOT NULL REFERENCES agents(id),
        PRIMARY KEY (team_id, agent_id)
    ) WITHOUT ROWID;
    ALTER TABLE conversations ADD COLUMN team_id TEXT REFERENCES teams(id) ON DELETE SET NULL;
    CREATE INDEX conversations_team ON conversations(team_id) WHERE team_id IS NOT NULL;
    """,
    # 8: the visitor's unseen messages, counted as they come rather than on every read of the
    # conversation (a count over the messages made each write cost more as a chat grew).
    """
    ALTER TABLE conversations ADD COLUMN unread INTEGER NOT NULL DEFAULT 0;
    UPDATE conversations SET unread = (SELECT count(*) FROM messages m
        WHERE m.conversation_id = conversations.id AND m.seq > conversations.agent_read_seq
        AND m.author_type = 'visitor' AND m.kind = 'text');
    """,
    # 9: messages waiting to be indexed for search. The write path records (conversation, seq)
    # here; the store's indexer moves them into messages_fts in bulk, where FTS5 is far cheaper
    # than one small segment per group commit.
    """
    CREATE TABLE fts_pending (
        conversation_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        PRIMARY KEY (conversation_id, seq)
    ) WITHOUT ROWID;
    """,
    # 10: agents' avatars — the picture an agent uploaded (a file in the uploads folder) and its
    # type, judged from its bytes; NULL: the panel and widget show a generated initial.
    """
    ALTER TABLE agents ADD COLUMN avatar_file TEXT;
    ALTER TABLE agents ADD COLUMN avatar_type TEXT;
    """,
    # 11: the store's high-water mark: every write transaction adds one, so that a database
    # copied back by hand (an older generation under the same epoch) can be detected at open.
    """
    INSERT OR IGNORE INTO meta(key, value) VALUES ('generation', '0');
    """,
    # 12: a team belongs to one site (teams were installation-wide: an agent saw other sites'
    # teams and could hand a conversation to one). The table is rebuilt, with foreign keys off
    # for this migration only (server/store/sqlite.py, migrate), because its name was unique
    # across sites. Each team goes to the site of most of its conversations, else of most of
    # its members, else the oldest site; members who do not work on that site leave it, and
    # conversations of another site lose the team.
    """
    -- foreign keys off
    CREATE TABLE teams_v2 (
        id TEXT PRIMARY KEY,
        site_id TEXT NOT NULL REFERENCES sites(id),
        name TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        UNIQUE (site_id, name COLLATE NOCASE)
    );
    INSERT INTO teams_v2 SELECT id, site, name, created_at FROM (
        SELECT t.id, t.name, t.created_at, coalesce(
            (SELECT c.site_id FROM conversations c WHERE c.team_id = t.id
             GROUP BY c.site_id ORDER BY count(*) DESC, c.site_id LIMIT 1),
            (SELECT s.site_id FROM team_members m JOIN agent_sites s ON s.agent_id = m.agent_id
             WHERE m.team_id = t.id GROUP BY s.site_id ORDER BY count(*) DESC, s.site_id LIMIT 1),
            (SELECT id FROM sites ORDER BY created_at, id LIMIT 1)) AS site
        FROM teams t) WHERE site IS NOT NULL;
    DELETE FROM team_members WHERE NOT EXISTS (
        SELECT 1 FROM teams_v2 t JOIN agents a ON a.id = team_members.agent_id
        WHERE t.id = team_members.team_id AND (a.role = 'admin' OR EXISTS (
            SELECT 1 FROM agent_sites s WHERE s.agent_id = a.id AND s.site_id = t.site_id)));
    UPDATE conversations SET team_id = NULL WHERE team_id IS NOT NULL AND site_id IS NOT (
        SELECT site_id FROM teams_v2 WHERE id = conversations.team_id);
    DROP TABLE teams;
    ALTER TABLE teams_v2 RENAME TO teams;
    CREATE INDEX teams_site ON teams(site_id);
    """,
    # 13: the last seq a visitor can receive, beside last_seq: a visitor's state must not count
    # internal notes (a last_seq the visitor never reaches would reveal that a note exists).
    """
    ALTER TABLE conversations ADD COLUMN visitor_seq INTEGER NOT NULL DEFAULT 0;
    UPDATE conversations SET visitor_seq = coalesce((SELECT max(m.seq) FROM messages m
        WHERE m.conversation_id = conversations.id AND m.kind != 'note'), 0);
    """,
    # 14: whether a visitor's name and email were signed by the site's backend (a JWT), or
    # only said beside an id-only hash: only signed ones are shown as verified. Names kept so
    # far came unsigned.
    """
    ALTER TABLE visitors ADD COLUMN claims_signed INTEGER NOT NULL DEFAULT 0;
    """,
    # 15: agent sessions kept on the server, so that signing out ends one for real (the signed
    # cookie names its row), and "sign out everywhere" ends them all.
    """
    CREATE TABLE agent_sessions (
        id TEXT PRIMARY KEY,
        agent_id TEXT NOT NULL REFERENCES agents(id),
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
    );
    CREATE INDEX agent_sessions_agent ON agent_sessions(agent_id);
    """,
    # 16: when an upload was first sent in a message: uploads never sent are deleted after a
    # grace period (LIVECHAT_UPLOAD_GRACE); and the bytes each uploader keeps, for the quota.
    """
    ALTER TABLE attachments ADD COLUMN attached_at INTEGER;
    UPDATE attachments SET attached_at = created_at WHERE id IN (
        SELECT json_extract(data, '$.attachment.id') FROM messages WHERE data IS NOT NULL);
    CREATE INDEX attachments_unattached ON attachments(created_at) WHERE attached_at IS NULL;
    CREATE INDEX attachments_uploader ON attachments(uploader_id);
    """,
    # 17: the visitor block list. An agent blocks a visitor of their site (for good, or for a
    # while), and may block the address the visitor came from for a while; ``visitors.last_ip``
    # is that address (never shown to agents).
    """
    ALTER TABLE visitors ADD COLUMN last_ip TEXT;
    CREATE TABLE blocks (
        id TEXT PRIMARY KEY,
        site_id TEXT NOT NULL REFERENCES sites(id),
        visitor_id TEXT NOT NULL,
        -- NULL: the visitor is blocked; else that address, whoever comes from it
        ip TEXT,
        until INTEGER,
        reason TEXT,
        created_by TEXT NOT NULL REFERENCES agents(id),
        created_at INTEGER NOT NULL
    );
    CREATE INDEX blocks_visitor ON blocks(visitor_id);
    CREATE INDEX blocks_ip ON blocks(site_id, ip) WHERE ip IS NOT NULL;
    """,
    # 18: one index for idempotency, not two. A visitor's resend is found through its
    # conversations (conversations_visitor) and messages_client_id; the (author, client id)
    # index cost a page at a random place in every commit and in the WAL (issue 11).
    """
    DROP INDEX messages_author_client;
    """,
)
