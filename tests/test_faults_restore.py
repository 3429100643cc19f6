"""A restored backup, for real, and copies put back by hand: the clients start over at the
database's new epoch, and nothing acknowledged is lost or doubled (the checker in
tests/faults.py). Split from tests/test_faults.py."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.faults import (
    Chatter,
    log_count,
    processes,
)
from tests.live import (
    ROOT,
    SECRET,
    seed,
    visitor,
)

pytestmark = pytest.mark.slow


# --- backup and restore ------------------------------------------------------------------------


def livechat(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LIVECHAT_DB": str(db), "LIVECHAT_SECRET_KEYS": SECRET,
           "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "server", *args], env=env, cwd=db.parent,
                          capture_output=True, text=True, timeout=120)


async def test_a_restored_backup_gets_a_new_epoch_and_clients_start_over(tmp_path: Path) -> None:
    """Before: restoring an older copy kept the old epoch; clients kept their content at
    reused seqs and never received the new messages numbered up to their old last_seq."""
    db = tmp_path / "chat.db"
    seeded = await seed(db)
    backup = tmp_path / "backups" / "chat-backup.db"
    with processes(db, 1) as (server,):
        v = Chatter([server], seeded.site_id, "v")
        await v.chat(10)
        # A backup taken while the server serves, under load.
        talking = asyncio.create_task(Chatter([server], seeded.site_id, "w").chat(200))
        made = livechat(db, "backup", str(backup))
        assert made.returncode == 0, made.stderr
        assert "(100%)" in made.stderr, made.stderr
        await talking
        await v.chat(5)  # after the backup: lost by the restore
        refused = livechat(db, "restore", str(backup))  # not while a server has it open
        assert refused.returncode != 0 and "stop" in refused.stderr, refused
        old_epoch, old_last = v.epoch, v.last_seq
        assert old_last == 15
    restored = livechat(db, "restore", str(backup))
    assert restored.returncode == 0, restored.stderr
    with processes(db, 1) as (server,):
        client, welcome = await visitor(server, seeded.site_id, token=v.token,
                                        conversation_id=v.conversation_id, last_seq=old_last,
                                        epoch=old_epoch)
        assert welcome["epoch"] != old_epoch
        # Starting over from seq 1: the restored ten, nothing of the lost five.
        seen = [await client.of_type("message") for _ in range(10)]
        assert [m["body"] for m in seen] == [body for _, body in v.seen[:10]]
        more = await client.request({"type": "send", "id": "after", "body": "after restore"})
        assert more["seq"] == 11  # reused: which is why clients had to start over
        await client.close()


def _by_hand(source: Path, target: Path) -> None:
    """Copy a database file over another as an operator would, behind the server's back, the
    servers stopped: the write-ahead logs beside both (empty once their stores closed) gone."""
    for path in (source, target):
        for suffix in ("-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                Path(f"{path}{suffix}").unlink()
    shutil.copyfile(source, target)


async def test_a_database_copied_back_by_hand_is_detected_loudly(tmp_path: Path) -> None:
    db = tmp_path / "chat.db"
    seeded = await seed(db)
    with processes(db, 1) as (server,):
        v = Chatter([server], seeded.site_id, "v")
        await v.chat(5)
        assert livechat(db, "backup", str(tmp_path / "copy.db")).returncode == 0
        await v.chat(5)
    _by_hand(tmp_path / "copy.db", db)
    with processes(db, 1) as (server,):
        assert log_count(server, r"THE DATABASE WENT BACKWARDS") == 1, server.log()
        client, welcome = await visitor(server, seeded.site_id, token=v.token,
                                        conversation_id=v.conversation_id, last_seq=v.last_seq,
                                        epoch=v.epoch)
        assert welcome["epoch"] != v.epoch
        assert (await client.of_type("message"))["seq"] == 1
        await client.close()


async def test_a_copy_from_before_a_restore_put_back_by_hand_is_detected(
        tmp_path: Path) -> None:
    """Before: only a copy of the same epoch was caught; a copy taken before a restore has the
    epoch the restore replaced, and was taken silently (clients started over on the epoch, but
    nothing told the operator that what the restore brought back was gone again)."""
    db = tmp_path / "chat.db"
    seeded = await seed(db)
    with processes(db, 1) as (server,):
        v = Chatter([server], seeded.site_id, "v")
        await v.chat(5)
        assert livechat(db, "backup", str(tmp_path / "backup.db")).returncode == 0
        await v.chat(5)
    _by_hand(db, tmp_path / "before-restore.db")  # the operator's own copy
    assert livechat(db, "restore", str(tmp_path / "backup.db")).returncode == 0
    with processes(db, 1) as (server,):
        w = Chatter([server], seeded.site_id, "w")
        await w.chat(3)
    _by_hand(tmp_path / "before-restore.db", db)
    with processes(db, 1) as (server,):
        assert log_count(server, r"THE DATABASE WENT BACKWARDS: .* which a restore") == 1, (
            server.log())
        client, welcome = await visitor(server, seeded.site_id, token=w.token,
                                        conversation_id=w.conversation_id, last_seq=w.last_seq,
                                        epoch=w.epoch)
        assert welcome["epoch"] not in (v.epoch, w.epoch)
        await client.close()
