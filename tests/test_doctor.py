"""``livechat doctor`` on a machine set up right, and on one set up wrong, as an operator runs
it: a real Redis (and a port where none answers), real files with real modes, real limits."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from server.doctor import (
    descriptor_findings,
    metrics_findings,
    public_url_findings,
    redact_url,
)
from server.store.migrations import MIGRATIONS
from tests import pg
from tests.live import ROOT, SECRET, free_port
from tests.redis_server import RedisServer


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path).start()
    yield server
    server.stop()


def limit(files: int) -> Callable[[], None]:
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (files, files))
    return apply


def doctor(db: Path, *args: str, files: int = 8192,
           **env: str) -> subprocess.CompletedProcess[str]:
    """``livechat doctor --db DB`` (with LIVECHAT_DATABASE_URL=postgresql://… no ``--db``,
    which would win over it: in DB's folder)."""
    environ = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), **env}
    given = () if env.get("LIVECHAT_DATABASE_URL", "").startswith("postgres") else (
        "--db", str(db))
    return subprocess.run([sys.executable, "-m", "server", "doctor", *given, *args],
                          capture_output=True, text=True, env=environ, timeout=60,
                          preexec_fn=limit(files), cwd=None if given else db.parent)


def make_db(db: Path) -> None:
    made = subprocess.run([sys.executable, "-m", "server", "--db", str(db), "site", "create", "A"],
                          capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT),
                               "LIVECHAT_SECRET_KEYS": SECRET})
    assert made.returncode == 0, made.stderr


def test_a_sound_setup_has_nothing_to_fix(tmp_path: Path, redis: RedisServer) -> None:
    db = tmp_path / "data" / "chat.db"
    make_db(db)
    db.chmod(0o600)
    result = doctor(db, LIVECHAT_SECRET_KEYS=SECRET, LIVECHAT_PUBLIC_URL="https://chat.acme.test",
                    LIVECHAT_COOKIE_SECURE="1", LIVECHAT_REDIS_URL=redis.url)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"livechat doctor: {db}"
    for topic in ("configuration", "public URL", "cookies", "secret keys", "database", "uploads",
                  "Redis", "open files", "metrics"):
        assert any(line.startswith("ok") and topic in line for line in lines), (topic, lines)
    assert "nothing to fix." in result.stdout
    assert "checking Redis" in result.stderr  # progress, on stderr


def test_a_careless_setup_is_told_what_to_fix(tmp_path: Path) -> None:
    db = tmp_path / "chat.db"
    make_db(db)
    db.chmod(0o644)
    uploads = tmp_path / "files"
    uploads.mkdir()
    uploads.chmod(0o777)
    dead_redis = f"redis://:hunter2hunter2@127.0.0.1:{free_port()}/0"
    result = doctor(db, files=256, LIVECHAT_PUBLIC_URL="https://chat.acme.test",
                    LIVECHAT_REDIS_URL=dead_redis, LIVECHAT_UPLOADS=str(uploads))
    out = result.stdout
    assert result.returncode == 2, out + result.stderr
    for level, words, fix in (
            ("error", "not marked Secure", "LIVECHAT_COOKIE_SECURE=1"),
            ("error", "cannot reach Redis at redis://:***@127.0.0.1", "start Redis"),
            ("warn", "can be read by other users", f"chmod 600 {db}"),
            ("error", "anyone on this machine can write", f"chmod 700 {uploads}"),
            ("warn", "at most 256 open files", "LimitNOFILE=65536"),
            ("warn", "LIVECHAT_SECRET_KEYS is not set", "secrets.token_urlsafe")):
        at = next((i for i, line in enumerate(out.splitlines())
                   if line.startswith(level) and words in line), None)
        assert at is not None, (words, out)
        assert fix in out.splitlines()[at + 1], (fix, out)
    assert "hunter2" not in out + result.stderr  # the Redis password is never printed
    assert "errors, " in out and "fix the errors before going live" in out
    # Looking made nothing: no key file, no upgrade.
    assert not db.with_name("chat.db.secret").exists()
    # The secret key file is checked when it is what the server uses.
    key = db.with_name("chat.db.secret")
    key.write_text("k" * 40)
    key.chmod(0o644)
    loose = doctor(db, "--json", LIVECHAT_COOKIE_SECURE="1",
                   LIVECHAT_PUBLIC_URL="https://chat.acme.test")
    findings = json.loads(loose.stdout)
    assert {"level": "error", "topic": "secret keys",
            "message": f"{key} can be read by other users (mode 644): anyone who reads it can "
                       "forge sessions", "fix": f"chmod 600 {key}"} in findings
    assert loose.returncode == 2


def test_warnings_only_and_an_invalid_configuration(tmp_path: Path) -> None:
    db = tmp_path / "new" / "chat.db"
    plain = doctor(db, LIVECHAT_SECRET_KEYS=SECRET)
    assert plain.returncode == 1, plain.stdout  # no public URL, cookies not Secure: warnings
    assert "will be created at the first start" in plain.stdout
    assert "0 errors, 2 warnings." in plain.stdout
    short = doctor(db, LIVECHAT_SECRET_KEYS="short")  # one error, not also an "ok" for it
    assert short.returncode == 2 and "ok    secret keys" not in short.stdout, short.stdout
    assert "shorter than 16 characters" in short.stdout, short.stdout
    broken = doctor(db, LIVECHAT_SECRET_KEYS=SECRET, LIVECHAT_WORKERS="3")
    assert broken.returncode == 2
    assert "the server would refuse to start: the memory broker only works" in broken.stdout
    assert not db.parent.exists()


def test_the_decisions() -> None:
    assert public_url_findings("http://chat.acme.test")[0].level == "warn"
    assert public_url_findings("http://localhost:8000")[0].level == "ok"
    assert descriptor_findings(1024, resource.RLIM_INFINITY)[0].level == "ok"
    assert descriptor_findings(1024, 2048)[0].level == "warn"
    assert redact_url("redis://user:pw@h:6380/1") == "redis://user:***@h:6380/1"
    assert redact_url("redis://h:6380/1") == "redis://h:6380/1"
    token = "t" * 20
    assert metrics_findings("", "", "")[0].level == "ok"
    for open_to_all in ("0.0.0.0:9100", "[::]:9100", "93.184.216.34:9100"):
        found = metrics_findings("", open_to_all, "")[0]
        assert found.level == "warn" and "LIVECHAT_METRICS_TOKEN" in found.fix, open_to_all
        assert metrics_findings(token, open_to_all, "")[0].level == "ok"
    for private in ("127.0.0.1:9100", "10.0.0.5:9100", "[::1]:9100", "localhost:9100"):
        assert metrics_findings("", private, "")[0].level == "ok", private
    assert metrics_findings(token, "", "http://chat.acme.test")[0].level == "warn"
    assert metrics_findings(token, "", "https://chat.acme.test")[0].level == "ok"
    assert metrics_findings(token, "", "http://localhost:8000")[0].level == "ok"


def test_upgrading_an_old_database_shows_progress(tmp_path: Path) -> None:
    import sqlite3

    from server.store.migrations import MIGRATIONS
    from server.store.sqlite import migrate

    db = tmp_path / "old.db"
    conn = sqlite3.connect(db, isolation_level=None)
    assert migrate(conn, MIGRATIONS[:6]) == 6
    conn.close()
    listed = subprocess.run([sys.executable, "-m", "server", "site", "list", "--db", str(db)],
                            capture_output=True, text=True, timeout=60,
                            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT),
                                 "LIVECHAT_SECRET_KEYS": SECRET})
    assert listed.returncode == 0, listed.stderr
    latest = len(MIGRATIONS)
    steps = [line for line in listed.stderr.splitlines() if line.startswith("upgrading")]
    assert steps == [f"upgrading the database to schema version {n} of {latest}…"
                     for n in range(7, latest + 1)]
    assert f"database upgraded to schema version {latest}" in listed.stderr
    assert listed.stdout == ""  # results alone on stdout
    again = subprocess.run([sys.executable, "-m", "server", "site", "list", "--db", str(db)],
                           capture_output=True, text=True, timeout=60,
                           env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT),
                                "LIVECHAT_SECRET_KEYS": SECRET})
    assert again.stderr == ""


def test_postgresql_is_looked_at_for_real(tmp_path: Path) -> None:
    """With LIVECHAT_DATABASE_URL the database check is PostgreSQL's: reachable, the step its
    schema is at, and the keys every machine must share."""
    with pg.database() as url:
        new = doctor(tmp_path / "x.db", LIVECHAT_DATABASE_URL=url, LIVECHAT_SECRET_KEYS=SECRET)
        assert "ok    database      PostgreSQL " in new.stdout, new.stdout
        # Its first line names what it looks at (it named the unused SQLite file).
        assert new.stdout.splitlines()[0] == f"livechat doctor: {url}", new.stdout
        assert "(will be created at the first start)" in new.stdout
        made = subprocess.run([sys.executable, "-m", "server", "site", "create", "A"],
                              capture_output=True, text=True, timeout=60, cwd=tmp_path,
                              env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT),
                                   "LIVECHAT_SECRET_KEYS": SECRET,
                                   "LIVECHAT_DATABASE_URL": url})
        assert made.returncode == 0, made.stderr
        ready = doctor(tmp_path / "x.db", LIVECHAT_DATABASE_URL=url, LIVECHAT_SECRET_KEYS=SECRET)
        assert f"(schema step {len(MIGRATIONS)})" in ready.stdout, ready.stdout
        keyless = doctor(tmp_path / "x.db", LIVECHAT_DATABASE_URL=url)
        assert keyless.returncode == 2
        assert "error secret keys   LIVECHAT_SECRET_KEYS is not set" in keyless.stdout
    gone = doctor(tmp_path / "x.db", LIVECHAT_DATABASE_URL=url, LIVECHAT_SECRET_KEYS=SECRET)
    assert gone.returncode == 2 and "error database      cannot reach PostgreSQL" in gone.stdout


def test_a_database_the_server_cannot_start_on_is_an_error(tmp_path: Path) -> None:
    """Before, doctor said "ok" for both, and serve then failed: a file that is not an SQLite
    database (doctor only looked at its mode), and a PostgreSQL user who may not create the
    store's tables ("will be created at the first start"; serve: InsufficientPrivilege)."""
    notdb = tmp_path / "notdb.db"
    notdb.write_text("hello, not a database\n" * 100)
    notdb.chmod(0o600)
    result = doctor(notdb, LIVECHAT_SECRET_KEYS=SECRET)
    assert result.returncode == 2, result.stdout
    assert f"error database      {notdb} is not an SQLite database" in result.stdout, result.stdout
    with pg.weak_user() as weak:
        result = doctor(tmp_path / "x.db", LIVECHAT_DATABASE_URL=weak,
                        LIVECHAT_SECRET_KEYS=SECRET)
        assert result.returncode == 2, result.stdout
        assert "error database      PostgreSQL user" in result.stdout, result.stdout
        assert "may not create" in result.stdout, result.stdout
        assert "will be created at the first start" not in result.stdout
