"""The `livechat` commands on PostgreSQL (LIVECHAT_DATABASE_URL=postgresql://…), and
`migrate-store` copying a whole SQLite store there. Split from tests/test_cli.py."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests import pg
from tests.live import ROOT
from tests.test_cli import livechat


def test_commands_on_postgresql_and_backup(tmp_path: Path) -> None:
    """With LIVECHAT_DATABASE_URL=postgresql://… the commands work on the database, backup too
    (tests/test_pg_backup.py); restore refuses a database that holds a record."""
    with pg.database() as url:
        made = livechat("site", "create", "Acme", "--origin", "https://acme.test",
                        db=None, LIVECHAT_DATABASE_URL=url)
        assert made.returncode == 0, made.stderr
        site_id = re.search(r"site key: (site_\S+)", made.stdout).group(1)  # type: ignore[union-attr]
        listed = livechat("site", "list", db=None, LIVECHAT_DATABASE_URL=url)
        assert f"{site_id}\tAcme\thttps://acme.test" in listed.stdout
        assert pg.rows(url, "SELECT name FROM sites") == [("Acme",)]
        assert not (tmp_path / "unused.db").exists()
        saved = livechat("backup", str(tmp_path / "b.db"), db=None,
                         LIVECHAT_DATABASE_URL=url)
        assert saved.returncode == 0, saved.stderr
        assert pg.rows(tmp_path / "b.db", "SELECT name FROM sites") == [("Acme",)]
        refused = livechat("restore", str(tmp_path / "b.db"), db=None,
                           LIVECHAT_DATABASE_URL=url)
        assert refused.returncode == 1 and "--replace" in refused.stderr
        keyless = subprocess.run(
            [sys.executable, "-m", "server", "site", "list"], capture_output=True, text=True,
            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "LIVECHAT_DATABASE_URL": url},
            timeout=60, cwd=tmp_path)
        assert keyless.returncode == 2 and "LIVECHAT_SECRET_KEYS" in keyless.stderr
        assert "Traceback" not in keyless.stderr


async def _seeded_sqlite(db: Path, uploads: Path) -> tuple[str, list[tuple[Any, ...]]]:
    """A store with tens of thousands of messages in a thousand conversations, notes, tags, an
    agent's picture and attachments (their files in ``uploads``)."""
    from server.store import SQLiteStore
    from server.store.filestore import LocalFiles

    store = SQLiteStore(db, clock=time.time)
    await store.open()
    try:
        site = await store.create_site("Acme", ["https://acme.test"])
        ana = await store.create_agent("ana@acme.test", "Ana", "h", "agent", [site.id])
        files = LocalFiles(uploads)
        for i in range(3):
            await files.put_bytes(f"file_{i}", f"file {i} ✓".encode())
            await store.add_attachment(site.id, "vis_0", f"f{i}.txt", "text/plain", 8,
                                       f"file_{i}")
        await files.put_bytes("avatar_ana", b"\x89PNG\r\n\x1a\n")
        await store.set_agent_avatar(ana.id, "avatar_ana", "image/png")
        for round_ in range(20):
            await asyncio.gather(*(store.append_visitor_message(
                site.id, f"vis_{v}", f"m{round_}", f"message {round_} from {v}: ça va? ✓")
                for v in range(1000)))
        first = await store.append_visitor_message(site.id, "vis_0", "att", "",
                                                   attachment_id="file_0")
        await store.add_note(ana, [site.id], first.conversation.id, "n", "a note")
        await store.set_tag([site.id], first.conversation.id, "vip", True)
        await store.claim(ana, [site.id], first.conversation.id)
        # The feature tables: an article (its search index is rebuilt in PostgreSQL), the
        # knowledge base's events (a log without a key, NULLs in it), a webhook and its events.
        article = await store.articles.save(site.id, lang="pt", title="Devoluções",
                                            body="Pode devolver em 30 dias.", status="published")
        await store.articles.record(site.id, "search", query="troca", results=0)
        await store.articles.record(site.id, "view", article_id=article.id, visitor_id="vis_0")
        from server.store.webhooks import Webhooks

        await Webhooks(store).create(site.id, "https://hooks.acme.test", ["message.created"])
        await store.append_visitor_message(site.id, "vis_0", "hooked", "for the webhook")
        return store.epoch, pg.rows(db, "SELECT conversation_id, seq, client_msg_id, kind, "
                                        "author_type, author_id, body, data FROM messages "
                                        "ORDER BY conversation_id, seq")
    finally:
        await store.close()


async def test_migrate_store_copies_everything_and_can_run_again(tmp_path: Path) -> None:
    db, uploads = tmp_path / "old.db", tmp_path / "old.db-files"
    epoch, messages = await _seeded_sqlite(db, uploads)
    assert len(messages) > 20_000
    with pg.database() as url:
        for run in range(3):  # again: it changes nothing and verifies again
            if run == 2:
                # What the source deleted since (an erasure: the visitor's row; a sign-out
                # would be so too) goes from the copy as well. Before: the catch-up run found
                # more rows in PostgreSQL and failed.
                victim = pg.rows(db, "SELECT visitor_id FROM conversations WHERE id != ? AND "
                                     "visitor_id != 'vis_0' LIMIT 1", (messages[0][0],))[0][0]
                gone = await asyncio.to_thread(livechat, "visitor", "erase", victim, db=db)
                assert gone.returncode == 0, gone.stderr
                with sqlite3.connect(db) as lite:  # and a picture taken down: its file goes
                    lite.execute("UPDATE agents SET avatar_file = NULL, avatar_type = NULL")
                messages = pg.rows(db, "SELECT conversation_id, seq, client_msg_id, kind, "
                                       "author_type, author_id, body, data FROM messages "
                                       "ORDER BY conversation_id, seq")
            moved = await asyncio.to_thread(
                livechat, "migrate-store", "--from", f"sqlite:///{db}", "--to", url, db=db)
            assert moved.returncode == 0, moved.stderr
            assert "verified every table" in moved.stderr
            assert "20004 messages" in moved.stdout and "2 kb_events" in moved.stdout
            assert f"{4 if run < 2 else 3} files" in moved.stdout, moved.stdout
            assert "1 webhook_outbox" in moved.stdout
        assert pg.rows(url, "SELECT count(*) FROM visitors WHERE id = ?", (victim,)) == [(0,)]
        assert pg.rows(url, "SELECT name FROM files ORDER BY name") == [
            ("file_0",), ("file_1",), ("file_2",)]
        assert pg.rows(url, "SELECT convert_from(content, 'UTF8') FROM files "
                            "WHERE name = 'file_1'") == [("file 1 ✓",)]
        copied = pg.rows(url, "SELECT conversation_id, seq, client_msg_id, kind, author_type, "
                              "author_id, body, data FROM messages "
                              'ORDER BY conversation_id COLLATE "C", seq')
        assert copied == messages  # message by message
        assert pg.rows(url, "SELECT value FROM meta WHERE key = 'epoch'") == [(epoch,)]
        from server.store.postgres import PostgresStore

        store = PostgresStore(url, clock=time.time)
        await store.open()
        try:  # the copy is a working store: the next message takes the next seq
            conv = messages[0][0]
            visitor_id = pg.rows(url, "SELECT visitor_id FROM conversations WHERE id = ?",
                                 (conv,))[0][0]
            site_id = pg.rows(url, "SELECT id FROM sites")[0][0]
            more = await store.append_visitor_message(site_id, visitor_id, "after", "hi")
            assert more.conversation.id == conv and more.messages[0].seq == 21
            assert store.epoch == epoch
            [found] = await store.articles.search(site_id, "devolucoes", "pt")
            assert found.article.title == "Devoluções"
            assert [h.conversation.id for h in await store.search([site_id], "note")] == [
                pg.rows(url, "SELECT conversation_id FROM messages WHERE kind = 'note'")[0][0]]
        finally:
            await store.close()
    refused = livechat("migrate-store", "--from", f"sqlite:///{db}", "--to", "mysql://x", db=db)
    assert refused.returncode == 2 and "postgresql://" in refused.stderr
    # A database that is not there: said in a line, not a traceback.
    missing = livechat("migrate-store", "--from", f"sqlite:///{db}", "--to",
                       pg.url_of("livechat_test_none"), db=db)
    assert missing.returncode == 1 and "cannot connect to PostgreSQL" in missing.stderr
    assert "Traceback" not in missing.stderr, missing.stderr
    # So is serving from it (it was uvicorn's traceback of the app's start-up, exit 3).
    served = livechat("serve", "--port", "9", db=None,
                      LIVECHAT_DATABASE_URL=pg.url_of("livechat_test_none"))
    assert served.returncode == 1 and "cannot connect to PostgreSQL" in served.stderr
    assert "Traceback" not in served.stderr, served.stderr
