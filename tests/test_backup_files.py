"""A backup's files folder and a restore's files, after an erasure: a backup made after it (to a
path used before) holds none of the erased visitor's files, and a restore puts back only the
files its database names (SQLite's store and PostgreSQL's). A visitor's export, personal data,
is written private (0600)."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import stat
import time
from pathlib import Path

from server.store.filestore import DatabaseFiles
from server.store.postgres import PostgresStore
from tests import pg
from tests.browser import png
from tests.live import UNLIMITED, Seed, serving, visitor
from tests.test_cli import livechat
from tests.test_pg_backup import livechat as pg_livechat
from tests.test_privacy import upload


async def _sends_a_file(server: object, site_id: str, name: str) -> str:
    widget, welcome = await visitor(server, site_id)  # type: ignore[arg-type]
    file_id = await upload(server, welcome["token"], png(4, 4), name)  # type: ignore[arg-type]
    sent = await widget.request({"type": "send", "id": "m1", "body": "here it is",
                                 "attachment": file_id})
    assert sent["type"] == "ack", sent
    await widget.close()
    return file_id


def _visitor_of(db: Path, file_id: str) -> str:
    with sqlite3.connect(db) as lite:
        row = lite.execute("SELECT uploader_id FROM attachments WHERE id = ?", (file_id,))
        return str(row.fetchone()[0])


def _names(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


async def test_a_backup_after_an_erasure_and_its_restore_hold_none_of_the_erased_files(
        db: Path, seeded: Seed, tmp_path: Path) -> None:
    same = tmp_path / "x" / "same.db"
    folder = Path(f"{same}-files")
    with serving(db, **UNLIMITED) as server:
        erased = await _sends_a_file(server, seeded.site_id, "erased.png")
        kept = await _sends_a_file(server, seeded.site_id, "kept.png")
        first = await asyncio.to_thread(livechat, "backup", str(same), db=db)
        assert first.returncode == 0, first.stderr
        assert _names(folder) == {erased, kept}
        assert first.stdout == f"and 2 attachment files in {folder} (2 copied)\n"
        # Something of the operator's in the folder, not named like a file of ours: left alone.
        (folder / "NOTES.txt").write_text("mine")
        gone = await asyncio.to_thread(livechat, "visitor", "erase", _visitor_of(db, erased),
                                       db=db)
        assert gone.returncode == 0 and "1 file " in gone.stdout, gone
        again = await asyncio.to_thread(livechat, "backup", str(same), db=db)
        assert again.returncode == 0, again.stderr
        assert _names(folder) == {kept, "NOTES.txt"}  # before: the erased file too
        # The file it holds, of which none copied this time (before: "and 0 attachment files",
        # or nothing said when none was copied).
        assert again.stdout == f"and 1 attachment file in {folder} (0 copied)\n"
    restored_db = tmp_path / "rt.db"
    done = await asyncio.to_thread(livechat, "restore", str(same), db=restored_db)
    assert done.returncode == 0, done.stderr
    assert _names(Path(f"{restored_db}-files")) == {kept}
    # A restore copies only the files its database names, whatever else the folder holds (an
    # older backup's, put there by hand): before, the whole folder.
    shutil.copy(Path(f"{db}-files") / kept, folder / erased)
    uploads = Path(f"{restored_db}-files")
    (uploads / kept).unlink()
    # The replaced store's own files, which the restored database does not name (uploaded
    # after the backup, or another store's): deleted with it. Anything not named like ours stays.
    stray = "file_" + "A" * 24
    (uploads / stray).write_bytes(b"the replaced store's")
    (uploads / "README").write_text("the operator's")
    done = await asyncio.to_thread(livechat, "restore", str(same), db=restored_db)
    assert done.returncode == 0, done.stderr
    assert _names(uploads) == {kept, "README"}  # before: the stray file too


async def test_a_backup_says_which_named_files_it_could_not_hold(db: Path, seeded: Seed,
                                                                  tmp_path: Path) -> None:
    """A file the database names but the uploads folder lost (removed by hand) is not in the
    backup, and the backup says so (before: nothing said, and "N attachment files" short)."""
    with serving(db, **UNLIMITED) as server:
        lost = await _sends_a_file(server, seeded.site_id, "lost.png")
        await _sends_a_file(server, seeded.site_id, "kept.png")
    (Path(f"{db}-files") / lost).unlink()
    target = tmp_path / "b.db"
    made = await asyncio.to_thread(livechat, "backup", str(target), db=db)
    assert made.returncode == 0, made.stderr
    assert made.stdout == f"and 1 attachment file in {target}-files (1 copied)\n"
    assert made.stderr.endswith(
        f"livechat: warning: 1 attachment file the database names is not in {db}-files, so "
        "not in the backup\n"), made.stderr


async def test_a_visitors_export_is_written_private(db: Path, seeded: Seed,
                                                    tmp_path: Path) -> None:
    with serving(db, **UNLIMITED) as server:
        file_id = await _sends_a_file(server, seeded.site_id, "mine.png")
    out = tmp_path / "vis.zip"
    made = await asyncio.to_thread(livechat, "visitor", "export", _visitor_of(db, file_id),
                                   "--out", str(out), db=db)
    assert made.returncode == 0, made.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600  # before: 0644 (the umask's)


async def test_a_postgresql_backup_after_an_erasure_and_its_restore_hold_none_of_the_erased_files(
        tmp_path: Path) -> None:
    """The same with the PostgreSQL store (server/store/pg_backup.py: its files out of the
    table ``files``, the folder pruned with ``prune_files``; a restore, server/store/copy.py,
    takes only the files the backup's database names)."""
    same, unused = tmp_path / "x" / "same.db", tmp_path / "unused.db"
    folder = Path(f"{same}-files")
    erased, kept = "file_" + "E" * 24, "file_" + "K" * 24  # (named like ours: pruned if unnamed)
    with pg.database() as url, pg.database() as target:
        store = PostgresStore(url, clock=time.time)
        await store.open()
        try:
            site = await store.create_site("Acme", [])
            for visitor_id, name in (("vis_erased", erased), ("vis_kept", kept)):
                await DatabaseFiles(store).put_bytes(name, name.encode())
                await store.add_attachment(site.id, visitor_id, "a.txt", "text/plain",
                                           len(name), name)
                await store.append_visitor_message(site.id, visitor_id, "m1", "",
                                                   attachment_id=name)
        finally:
            await store.close()
        first = pg_livechat("backup", str(same), url=url, db=unused)
        assert first.returncode == 0, first.stderr
        assert _names(folder) == {erased, kept}
        assert first.stdout == f"and 2 attachment files in {folder} (2 copied)\n"
        (folder / "NOTES.txt").write_text("mine")
        gone = pg_livechat("visitor", "erase", "vis_erased", url=url, db=unused)
        assert gone.returncode == 0 and "1 file " in gone.stdout, gone
        assert pg.rows(url, "SELECT name FROM files") == [(kept,)]
        again = pg_livechat("backup", str(same), url=url, db=unused)
        assert again.returncode == 0, again.stderr
        assert _names(folder) == {kept, "NOTES.txt"}
        assert again.stdout == f"and 1 attachment file in {folder} (0 copied)\n"
        done = pg_livechat("restore", str(same), url=target, db=unused)
        assert done.returncode == 0, done.stderr
        assert pg.rows(target, "SELECT name, content FROM files") == [(kept, kept.encode())]
        # A file put back in the folder by hand that the backup's database does not name is
        # not restored.
        (folder / erased).write_bytes(b"put back by hand")
        done = pg_livechat("restore", "--replace", str(same), url=target, db=unused)
        assert done.returncode == 0, done.stderr
        assert pg.rows(target, "SELECT name FROM files") == [(kept,)]
