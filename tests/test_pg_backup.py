"""``livechat backup`` and ``livechat restore`` with the PostgreSQL store
(server/store/pg_backup.py), for real: a backup taken while messages are being written, put
back into another database and compared message by message, and the refusals."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from server.errors import Unavailable
from server.store.filestore import DatabaseFiles
from server.store.postgres import PostgresStore
from server.store.sqlite import SQLiteStore
from tests import pg
from tests.live import ROOT, SECRET

MESSAGES = ("SELECT conversation_id, seq, client_msg_id, kind, author_type, author_id, body, "
            'data FROM messages ORDER BY conversation_id COLLATE "C", seq')


def livechat(*args: str, url: str, db: Path) -> subprocess.CompletedProcess[str]:
    """``livechat`` on the PostgreSQL database at ``url`` (empty: on the SQLite file ``db``,
    as ``--db``, which would win over the URL)."""
    environ = {"PATH": "/usr/bin:/bin", "LIVECHAT_SECRET_KEYS": SECRET, "PYTHONPATH": str(ROOT)}
    if url:
        environ["LIVECHAT_DATABASE_URL"] = url
    return subprocess.run([sys.executable, "-m", "server", *(() if url else ("--db", str(db))),
                           *args], capture_output=True, text=True, env=environ, timeout=120,
                          cwd=db.parent if url else None)


def lite_rows(path: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as db:
        return [tuple(r) for r in db.execute(sql.replace(' COLLATE "C"', ""))]


async def _seed(store: PostgresStore) -> str:
    site = await store.create_site("Acme", ["https://acme.test"])
    ana = await store.create_agent("ana@acme.test", "Ana", "h", "agent", [site.id])
    files = DatabaseFiles(store)
    for i in range(3):
        await files.put_bytes(f"file_{i}", f"file {i} ✓".encode() * 1000)
        await store.add_attachment(site.id, "vis_0", f"f{i}.txt", "text/plain", 8, f"file_{i}")
    await files.put_bytes("avatar_ana", b"\x89PNG\r\n\x1a\n")
    await store.set_agent_avatar(ana.id, "avatar_ana", "image/png")
    for round_ in range(10):
        await asyncio.gather(*(store.append_visitor_message(
            site.id, f"vis_{v}", f"m{round_}", f"message {round_} from {v}: ça va? ✓")
            for v in range(200)))
    first = await store.append_visitor_message(site.id, "vis_0", "att", "",
                                               attachment_id="file_0")
    await store.add_note(ana, [site.id], first.conversation.id, "n", "a note")
    await store.claim(ana, [site.id], first.conversation.id)
    await store.articles.save(site.id, lang="pt", title="Devoluções", keywords="troca",
                              body="Pode devolver em 30 dias.", status="published")
    return site.id


async def test_backup_while_writing_and_restore_message_by_message(tmp_path: Path) -> None:
    unused, path = tmp_path / "unused.db", tmp_path / "backups" / "chat.db"
    with pg.database() as source, pg.database() as target:
        store = PostgresStore(source, clock=time.time)
        await store.open()
        try:
            site_id = await _seed(store)
            seeded = len(pg.rows(source, MESSAGES))
            backing_up = asyncio.create_task(asyncio.to_thread(
                livechat, "backup", str(path), url=source, db=unused))
            written = 0
            while not backing_up.done():  # writes go on during the whole backup
                await asyncio.gather(*(store.append_visitor_message(
                    site_id, f"vis_{v}", f"live{written}", f"live {written}") for v in range(20)))
                written += 1
            made = await backing_up
            source_epoch = store.epoch
        finally:
            await store.close()
        assert made.returncode == 0, made.stderr
        assert f"backed up {source} to {path}" in made.stderr and "(100%)" in made.stderr
        assert made.stdout == f"and 4 attachment files in {path}-files (4 copied)\n"
        assert not unused.exists()

        # One snapshot: what was committed before it is in, what after it is out, and every
        # write is whole (a conversation's last_seq is its last message).
        backed = lite_rows(path, MESSAGES)
        everything = pg.rows(source, MESSAGES)
        assert seeded < len(everything) and len(backed) < len(everything)
        assert set(backed) <= set(everything)
        assert lite_rows(path, "SELECT c.id, c.last_seq FROM conversations c ORDER BY c.id") == \
            lite_rows(path, "SELECT conversation_id, max(seq) FROM messages "
                            "GROUP BY conversation_id ORDER BY conversation_id")
        assert (path.parent / "chat.db-files" / "file_1").read_bytes() == "file 1 ✓".encode() * 1000
        assert (path.stat().st_mode & 0o777) == 0o600

        restored = livechat("restore", str(path), url=target, db=unused)
        assert restored.returncode == 0, restored.stderr
        assert f"restored {path} into {target}" in restored.stderr
        epoch = re.search(r"new epoch (\w+): every widget", restored.stdout).group(1)  # type: ignore[union-attr]
        assert pg.rows(target, MESSAGES) == backed  # message by message
        assert pg.rows(target, "SELECT value FROM meta WHERE key = 'epoch'") == [(epoch,)]
        assert epoch != source_epoch
        assert pg.rows(target, "SELECT name, content FROM files ORDER BY name") == \
            pg.rows(source, "SELECT name, content FROM files ORDER BY name")

        # The refusals: a database that holds a record (without --replace), one in use.
        again = livechat("restore", str(path), url=target, db=unused)
        assert again.returncode == 1
        assert "already holds a record" in again.stderr and "--replace" in again.stderr
        serving = PostgresStore(target, clock=time.time)
        await serving.open()
        try:
            busy = await asyncio.to_thread(livechat, "restore", "--replace", str(path),
                                           url=target, db=unused)
            assert busy.returncode == 1 and "stop every `livechat serve`" in busy.stderr
            assert serving.epoch == epoch  # nothing changed
        finally:
            await serving.close()
        missing = livechat("restore", str(tmp_path / "nope.db"), url=target, db=unused)
        assert missing.returncode == 1 and "no backup at" in missing.stderr

        replaced = livechat("restore", "--replace", str(path), url=target, db=unused)
        assert replaced.returncode == 0, replaced.stderr
        assert pg.rows(target, MESSAGES) == backed
        store = PostgresStore(target, clock=time.time)
        await store.open()
        try:  # a working store under a new epoch: the next message takes the next seq
            assert store.epoch not in (epoch, source_epoch)
            conv, last = backed[-1][0], max(seq for c, seq, *_ in backed if c == backed[-1][0])
            visitor = pg.rows(target, "SELECT visitor_id FROM conversations WHERE id = ?",
                              (conv,))[0][0]
            more = await store.append_visitor_message(site_id, visitor, "after", "hi")
            assert more.conversation.id == conv and more.messages[0].seq == last + 1
            [found] = await store.articles.search(site_id, "devolucoes", "pt")
            assert found.article.title == "Devoluções"
        finally:
            await store.close()

    # The backup is an SQLite store as it is (the way back from PostgreSQL).
    listed = livechat("site", "list", url="", db=path)
    assert f"{site_id}\tAcme\thttps://acme.test" in listed.stdout, listed.stderr
    lite = SQLiteStore(path, clock=time.time)
    await lite.open()
    try:  # its search indexes too
        [found] = await lite.articles.search(site_id, "troca", "pt")
        assert found.article.title == "Devoluções"
        assert [h.conversation.id for h in await lite.search([site_id], "note")] == [
            c for c, _, _, kind, *_ in backed if kind == "note"]
    finally:
        await lite.close()


async def test_a_process_cut_off_during_a_restore_says_so_when_it_is_back(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The serving lock lives on the writer's connection: a process whose connection was down
    when the restore began cannot be seen. When it reconnects it finds the new epoch and says,
    loudly, to restart it."""
    unused, path = tmp_path / "unused.db", tmp_path / "b.db"
    with pg.database() as url:
        cut_off = PostgresStore(url, clock=time.time)
        await cut_off.open()
        try:
            site = await cut_off.create_site("Acme", [])
            assert livechat("backup", str(path), url=url, db=unused).returncode == 0
            refused = await asyncio.to_thread(livechat, "restore", "--replace", str(path),
                                              url=url, db=unused)
            assert refused.returncode == 1 and "open in another process" in refused.stderr
            pg.rows(url, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                         "WHERE application_name = 'livechat-writer' AND datname = "
                         "current_database()")
            restored = await asyncio.to_thread(livechat, "restore", "--replace", str(path),
                                               url=url, db=unused)
            assert restored.returncode == 0, restored.stderr
            with pytest.raises(Unavailable):  # the write that finds the connection gone
                await cut_off.append_visitor_message(site.id, "vis_1", "a", "hello")
            caplog.set_level("CRITICAL", logger="livechat.store")
            await cut_off.append_visitor_message(site.id, "vis_1", "a", "hello")
            assert "THE STORE WAS RESTORED while this process was cut off" in caplog.text
        finally:
            await cut_off.close()
