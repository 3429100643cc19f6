"""The ``livechat`` commands and the settings they are given, as an operator meets them: which
database a command uses, and a mistake said in one line (no traceback) with the documented exit
status."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests import pg
from tests.live import ROOT, SECRET, ServerProcess, free_port


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


def assert_one_line(result: subprocess.CompletedProcess[str], status: int, *said: str) -> None:
    assert result.returncode == status, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("livechat: "), result.stderr
    for words in said:
        assert words in lines[0], (words, lines[0])


def test_ordinary_mistakes_are_one_line_not_a_traceback(tmp_path: Path) -> None:
    """Before, each of these was Python's traceback (exit 1). A database that cannot be opened
    or reached, a file that cannot be read or written: exit status 1 and one line saying what."""
    # PostgreSQL: nothing listening, no such database, no right to create the store's tables.
    down = f"postgresql://postgres@127.0.0.1:{free_port()}/livechat"
    missing = pg.url_of("livechat_test_none")
    for url in (down, missing):
        listed = livechat("site", "list", cwd=tmp_path, LIVECHAT_DATABASE_URL=url)
        assert_one_line(listed, 1, "cannot connect to PostgreSQL")
    with pg.weak_user() as weak:
        listed = livechat("site", "list", cwd=tmp_path, LIVECHAT_DATABASE_URL=weak)
        assert_one_line(listed, 1, "PostgreSQL", "permission denied")
    # A file that is not a database, for a command and for serve.
    (tmp_path / "notdb.db").write_text("hello, not a database\n" * 100)
    for command in (("site", "list"), ("serve", "--port", str(free_port()))):
        result = livechat("--db", "notdb.db", *command, cwd=tmp_path)
        assert_one_line(result, 1, "notdb.db", "not a database")
    # A database where nothing can be made (its generated key file, its folder).
    result = livechat("--db", "/proc/x.db", "site", "list", cwd=tmp_path,
                      LIVECHAT_SECRET_KEYS="")
    assert_one_line(result, 1, "/proc/x.db")
    # Files named by options.
    made = livechat("--db", "c.db", "site", "create", "Acme", cwd=tmp_path)
    site = re.search(r"site key: (site_\S+)", made.stdout)
    assert site is not None, made.stdout
    result = livechat("--db", "c.db", "article", "create", "--site", site.group(1), "--title",
                      "T", "--lang", "en", "--body-file", "/nonexistent.md", cwd=tmp_path)
    assert_one_line(result, 1, "/nonexistent.md")
    visitor_id = "vis_0123456789abcdef"
    with sqlite3.connect(tmp_path / "c.db") as db:
        db.execute("INSERT INTO visitors(id, site_id, created_at) VALUES (?, ?, 0)",
                   (visitor_id, site.group(1)))
    db.close()
    result = livechat("--db", "c.db", "visitor", "export", visitor_id, "--out",
                      "/nonexistent/dir/v.zip", cwd=tmp_path)
    assert_one_line(result, 1, "/nonexistent/dir/v.zip")


def test_refused_settings_make_no_files(tmp_path: Path) -> None:
    """Before, the key file (``<db>.secret``) was generated before the settings were checked:
    a refused start left ``livechat.db.secret`` behind, a refused copy ``nonexist.db.secret``."""
    empty = tmp_path / "empty"
    empty.mkdir()
    for env in ({"LIVECHAT_DATABASE_URL": "garbage"}, {"LIVECHAT_MAX_FRAME_BYTES": "1"}):
        refused = livechat("serve", cwd=empty, LIVECHAT_SECRET_KEYS="", **env)
        assert refused.returncode == 2, refused.stderr
        assert list(empty.iterdir()) == [], (env, list(empty.iterdir()))
    refused = livechat("migrate-store", "--from", "sqlite:///nonexist.db", "--to",
                       pg.url_of("livechat_test_none"), cwd=empty, LIVECHAT_SECRET_KEYS="")
    assert refused.returncode == 1 and "nonexist.db does not exist" in refused.stderr
    assert list(empty.iterdir()) == []
    # A start that is not refused makes the key file, as before.
    made = livechat("site", "create", "Acme", "--origin", "https://acme.test", cwd=empty,
                    LIVECHAT_SECRET_KEYS="")
    assert made.returncode == 0, made.stderr
    assert (empty / "livechat.db.secret").exists()


def test_a_password_is_never_taken_unconfirmed(tmp_path: Path) -> None:
    """README: "the password is asked for twice, or read from standard input with
    ``--password-stdin``". Before, without a terminal and without ``--password-stdin``, the
    first line was taken, unconfirmed."""
    args = ("--db", "c.db", "agent", "create", "--email", "e@acme.example", "--name", "E")
    refused = livechat(*args, cwd=tmp_path, stdin="abcdefgh1\nabcdefgh2\n")
    assert_one_line(refused, 2, "--password-stdin")
    assert "e@acme.example" not in livechat("--db", "c.db", "agent", "list", cwd=tmp_path).stdout
    made = livechat(*args, "--password-stdin", cwd=tmp_path, stdin="abcdefgh1\n")
    assert made.returncode == 0, made.stderr
