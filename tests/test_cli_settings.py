"""The ``livechat`` commands and the settings they are given, as an operator meets them: which
database a command uses, and a mistake said in one line (no traceback) with the documented exit
status."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests import pg
from tests.live import ROOT, SECRET, ServerProcess


def livechat(*args: str, cwd: Path, stdin: str = "",
             **env: str) -> subprocess.CompletedProcess[str]:
    environ = {"PATH": "/usr/bin:/bin", "LIVECHAT_SECRET_KEYS": SECRET, "PYTHONPATH": str(ROOT),
               **env}
    return subprocess.run([sys.executable, "-m", "server", *args], input=stdin, cwd=cwd,
                          capture_output=True, text=True, env=environ, timeout=60)


def test_a_db_given_wins_over_a_postgresql_url(tmp_path: Path) -> None:
    """README: "a ``--db`` given to a command wins"; docs/deployment.md: a backup is "the way
    back from PostgreSQL" with ``livechat --db PATH serve``. Before, with
    ``LIVECHAT_DATABASE_URL=postgresql://…`` set, ``--db`` was ignored by every command."""
    copy = tmp_path / "copy.db"
    with pg.database() as url:
        made = livechat("site", "create", "InPostgres", cwd=tmp_path, LIVECHAT_DATABASE_URL=url)
        assert made.returncode == 0, made.stderr
        made = livechat("--db", str(copy), "site", "create", "InTheCopy", cwd=tmp_path,
                        LIVECHAT_DATABASE_URL=url)
        assert made.returncode == 0, made.stderr
        assert pg.rows(url, "SELECT name FROM sites") == [("InPostgres",)]
        assert pg.rows(copy, "SELECT name FROM sites") == [("InTheCopy",)]
        for where in (("--db", str(copy), "site", "list"), ("site", "list", "--db", str(copy))):
            listed = livechat(*where, cwd=tmp_path, LIVECHAT_DATABASE_URL=url)
            assert "InTheCopy" in listed.stdout and "InPostgres" not in listed.stdout, listed
        listed = livechat("site", "list", cwd=tmp_path, LIVECHAT_DATABASE_URL=url)
        assert "InPostgres" in listed.stdout and "InTheCopy" not in listed.stdout, listed
        checked = livechat("--db", str(copy), "doctor", cwd=tmp_path, LIVECHAT_DATABASE_URL=url)
        assert checked.stdout.splitlines()[0] == f"livechat doctor: {copy}", checked.stdout
        server = ServerProcess(copy, env={"LIVECHAT_DATABASE_URL": url}, log_level="info",
                               args=["--db", str(copy)])
        try:
            server.start()
            assert f"livechat ready (store {copy}," in server.log(), server.log()
        finally:
            server.stop()
