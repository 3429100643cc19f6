"""The `livechat` command and the installed package, as a new user meets them. The commands on
PostgreSQL, and `migrate-store`, are in tests/test_cli_postgres.py."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path

import httpx
import pytest

from tests.live import ROOT, SECRET, ServerProcess, free_port


def livechat(*args: str, db: Path | None, stdin: str = "",
             **env: str) -> subprocess.CompletedProcess[str]:
    """``livechat --db DB …`` (``db=None``: no ``--db``, which would win over a
    LIVECHAT_DATABASE_URL)."""
    environ = {"PATH": "/usr/bin:/bin", "LIVECHAT_SECRET_KEYS": SECRET, "PYTHONPATH": str(ROOT),
               **env}
    return subprocess.run([sys.executable, "-m", "server",
                           *(("--db", str(db)) if db is not None else ()), *args],
                          input=stdin, capture_output=True, text=True, env=environ, timeout=60)


def test_sites_and_agents(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    made = livechat("site", "create", "Acme", "--origin", "https://Acme.test",
                    "--origin", "http://localhost:3000", db=db)
    assert made.returncode == 0, made.stderr
    site_id = re.search(r"site key: (site_\S+)", made.stdout).group(1)  # type: ignore[union-attr]
    assert f'data-site="{site_id}"' in made.stdout and "<script async src=" in made.stdout
    listed = livechat("site", "list", db=db)
    assert f"{site_id}\tAcme\thttps://acme.test http://localhost:3000\tauto-assign off" in (
        listed.stdout)
    changed = livechat("site", "set", site_id, "--auto-assign", "on", db=db)
    assert changed.stdout.startswith(f"{site_id}\tAcme\n")
    assert "  auto-assign:  on\n" in changed.stdout
    assert "  identity:     optional (no secret)\n" in changed.stdout
    refused = livechat("site", "set", site_id, "--identity-mode", "mandatory", db=db)
    assert refused.returncode == 2 and "needs an identity secret" in refused.stderr
    secured = livechat("site", "set", site_id, "--identity-secret", "new", "--identity-mode",
                       "mandatory", db=db)
    assert "  identity:     mandatory\n" in secured.stdout
    # First, so that `| head` cannot lose it (it came after the site's settings: a tester).
    first_line = secured.stdout.splitlines()[0]
    assert re.fullmatch(r"identity secret .*: [A-Za-z0-9_-]{43}", first_line), secured.stdout
    assert livechat("site", "set", site_id, db=db).returncode == 2
    styled = livechat("site", "set", site_id, "--greeting", "Olá! Em que podemos ajudar?",
                      "--color", "#0B7A4B", "--logo", "https://acme.test/logo.png",
                      "--hours", "mon-fri 09:00-18:00; sat 10:00-13:00", "--timezone",
                      "Europe/Lisbon", "--prechat", "name,email", "--offline", "chat",
                      "--origin", "https://acme.test", "--origin", "https://www.acme.test",
                      db=db)
    assert styled.returncode == 0, styled.stderr
    for line in ("origins:      https://acme.test https://www.acme.test",
                 "greeting:     Olá! Em que podemos ajudar?", "colour:       #0b7a4b",
                 "logo:         https://acme.test/logo.png",
                 "hours:        mon 09:00-18:00; tue 09:00-18:00; wed 09:00-18:00; "
                 "thu 09:00-18:00; fri 09:00-18:00; sat 10:00-13:00 (Europe/Lisbon)",
                 "pre-chat:     name, email", "when offline: chat and wait"):
        assert f"  {line}\n" in styled.stdout + "\n", line
    for bad, why in ((["--hours", "9 to 5"], "09:00-18:00"), (["--color", "blue"], "#rrggbb"),
                     (["--timezone", "Nowhere/Land"], "unknown time zone"),
                     (["--prechat", "phone"], "pre-chat fields"),
                     (["--origin", "https://x.test/path"], "not an origin")):
        refused = livechat("site", "set", site_id, *bad, db=db)
        assert refused.returncode == 2 and why in refused.stderr, (bad, refused.stderr)
    assert "  theme:        auto" in styled.stdout  # follows each visitor's system
    dark = livechat("site", "set", site_id, "--theme", "dark", db=db)
    assert "  theme:        dark" in dark.stdout
    assert livechat("site", "set", site_id, "--theme", "purple", db=db).returncode == 2
    cleared = livechat("site", "set", site_id, "--hours", "", "--prechat", "none", db=db)
    assert "hours:        always open" in cleared.stdout
    assert "pre-chat:     none" in cleared.stdout
    assert "auto-assign on" in livechat("site", "list", db=db).stdout
    bad = livechat("site", "create", "X", "--origin", "https://x.test/path", db=db)
    assert bad.returncode == 2 and bad.stderr.startswith("livechat: not an origin"), bad.stderr
    idle = livechat("site", "set", site_id, db=db)
    assert idle.returncode == 2 and idle.stderr.startswith("livechat: nothing to change"), idle

    agent = livechat("agent", "create", "--email", "ana@acme.test", "--name", "Ana",
                     "--site", site_id, "--capacity", "2", "--password-stdin", db=db,
                     stdin="long enough pw\n")
    assert agent.returncode == 0, agent.stderr
    short = livechat("agent", "create", "--email", "b@acme.test", "--name", "B",
                     "--password-stdin", db=db, stdin="short\n")
    assert short.returncode == 2, short.stderr
    assert short.stderr == "livechat: the password needs at least 8 characters\n", short.stderr
    dup = livechat("agent", "create", "--email", "ANA@acme.test", "--name", "Again",
                   "--password-stdin", db=db, stdin="long enough pw\n")
    assert dup.returncode == 2 and "an agent with the email ANA@acme.test exists" in dup.stderr
    # Refused before anything is written (a negative capacity made the agent, then refused).
    for bad_args, why in ((["--capacity", "-3"], "is 0 to 100"),
                          (["--capacity", "101"], "is 0 to 100"),
                          (["--email", "not-an-email"], "not an email address")):
        refused = livechat("agent", "create", "--email", "w@acme.test", "--name", "W",
                           *bad_args, "--password-stdin", db=db, stdin="long enough pw\n")
        assert refused.returncode == 2 and why in refused.stderr, refused.stderr
    nosite = livechat("agent", "create", "--email", "c@acme.test", "--name", "C", "--site",
                      "site_nope", "--password-stdin", db=db, stdin="long enough pw\n")
    assert nosite.returncode == 2 and "no such site" in nosite.stderr
    listed = livechat("agent", "list", db=db).stdout
    assert f"ana@acme.test\tAna\tagent\tactive\t{site_id}\tcapacity 2" in listed
    assert "w@acme.test" not in listed and "not-an-email" not in listed


def test_memory_broker_with_several_workers_is_refused(tmp_path: Path) -> None:
    result = livechat("serve", "--workers", "2", db=tmp_path / "w.db")
    assert result.returncode == 2
    assert "memory broker only works inside one process" in result.stderr


def test_bad_configuration_is_refused(tmp_path: Path) -> None:
    assert livechat("site", "create", "Acme", "--origin", "https://acme.test",
                    db=tmp_path / "w.db").returncode == 0
    result = livechat("serve", db=tmp_path / "w.db", LIVECHAT_SECRET_KEYS="short")
    assert result.returncode == 2 and "16+ characters" in result.stderr
    # Before: doctor passed these, serve then stopped (a bad level without naming it), and a
    # bad PORT or LIVECHAT_WORKERS was every command's traceback. A command that does not
    # serve does not mind what serving would read.
    for name, value, said in (("LIVECHAT_LOG_FORMAT", "xml", "one of text, json"),
                              ("LIVECHAT_LOG_LEVEL", "bogus", "one of critical"),
                              ("PORT", "abc", "a port number"),
                              ("LIVECHAT_WORKERS", "abc", "must be an integer")):
        for command in (["doctor"], ["serve"]):
            refused = livechat(*command, db=tmp_path / "w.db", **{name: value})
            assert refused.returncode == 2, (command, name, refused.stderr)
            assert name in refused.stdout + refused.stderr and said in (
                refused.stdout + refused.stderr), (command, name, refused.stderr)
            assert "Traceback" not in refused.stderr, refused.stderr
        listed = livechat("site", "list", db=tmp_path / "w.db", **{name: value})
        assert "Traceback" not in listed.stderr, listed.stderr
        if name != "LIVECHAT_WORKERS":  # (every command reads that one)
            assert listed.returncode == 0, listed.stderr
    result = livechat("serve", db=tmp_path / "w.db", LIVECHAT_RATE_BURST="lots")
    assert result.returncode == 2 and "LIVECHAT_RATE_BURST must be an integer" in result.stderr


def test_secret_key_is_generated_once_when_not_configured(tmp_path: Path) -> None:
    from server.config import from_env

    db = tmp_path / "k.db"
    first = from_env({"LIVECHAT_DB": str(db)})
    second = from_env({"LIVECHAT_DB": str(db)})
    assert first.secret_keys == second.secret_keys and len(first.secret_keys[0]) >= 32
    assert (db.with_name("k.db.secret").stat().st_mode & 0o777) == 0o600


def test_demo_prints_what_to_open_and_serves_both_origins(tmp_path: Path) -> None:
    port, demo_port = free_port(), free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "server", "demo", "--port", str(port), "--demo-port",
         str(demo_port), "--log-level", "warning"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
    )
    try:
        assert proc.stdout is not None
        banner = ""
        while "Ctrl-C" not in banner:
            line = proc.stdout.readline()
            assert line, banner
            banner += line
        assert f"http://127.0.0.1:{port}/agent" in banner
        assert f"http://127.0.0.1:{demo_port}/" in banner
        assert "demo@example.com" in banner and "demo-password" in banner
        server = ServerProcess(tmp_path / "livechat.db", port=port, proc=proc)
        server.wait_ready()
        page = httpx.get(f"http://127.0.0.1:{demo_port}/").text
        assert f'src="http://127.0.0.1:{port}/widget.js"' in page
        login = httpx.post(f"http://127.0.0.1:{port}/api/agent/login",
                           json={"email": "demo@example.com", "password": "demo-password"},
                           headers={"Origin": f"http://127.0.0.1:{port}"})
        assert login.status_code == 200
        # and a help centre, in English and Portuguese
        help_home = httpx.get(f"http://127.0.0.1:{port}/help/demo/pt")
        assert help_home.status_code == 200 and "Devoluções e reembolsos" in help_home.text
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()


@pytest.mark.slow
def test_pip_install_serves_the_widget_and_panel_from_the_package(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                            str(wheels), str(ROOT)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    (wheel,) = wheels.glob("livechat-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for path in ("server/_static/widget/widget.js", "server/_static/widget/frame.html",
                 "server/_static/widget/static/frame/main.js",
                 "server/_static/widget/static/frame/lang/ar.js",
                 "server/_static/agent_ui/index.html", "server/_static/agent_ui/static/main.js",
                 "server/_static/agent_ui/static/lang/el.js", "server/store/sqlite.py"):
        assert path in names, path
    target = tmp_path / "site-packages"
    installed = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q",
                                "--target", str(target), str(wheel)],
                               capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, installed.stderr
    port = free_port()
    run_dir = tmp_path / "elsewhere"
    run_dir.mkdir()
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(target), "LIVECHAT_SECRET_KEYS": SECRET,
           "LIVECHAT_DB": str(run_dir / "x.db")}
    proc = subprocess.Popen([sys.executable, "-m", "server", "serve", "--port", str(port),
                             "--log-level", "warning"], cwd=run_dir, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        server = ServerProcess(run_dir / "x.db", port=port, proc=proc)
        server.wait_ready()
        check = subprocess.run([sys.executable, "-c", "import server; print(server.__file__)"],
                               cwd=run_dir, env=env, capture_output=True, text=True)
        assert check.stdout.startswith(str(target))
        for path in ("/widget.js", "/agent", "/widget/static/frame/main.js",
                     "/agent/static/panel.css"):
            assert httpx.get(f"{server.http}{path}").status_code == 200, path
    finally:
        proc.terminate()
        proc.wait(10)


def livechat_after(*args: str, db: Path, stdin: str = "",
                   **env: str) -> subprocess.CompletedProcess[str]:
    """``livechat SUBCOMMAND … --db X``: options after the subcommand, as README readers type."""
    environ = {"PATH": "/usr/bin:/bin", "LIVECHAT_SECRET_KEYS": SECRET, "PYTHONPATH": str(ROOT),
               **env}
    return subprocess.run([sys.executable, "-m", "server", *args, "--db", str(db)],
                          input=stdin, capture_output=True, text=True, env=environ, timeout=60)


def test_options_after_the_subcommand(tmp_path: Path) -> None:
    db = tmp_path / "after.db"
    made = livechat_after("site", "create", "Acme", "--origin", "https://acme.test", db=db)
    assert made.returncode == 0, made.stderr
    site_id = re.search(r"site key: (site_\S+)", made.stdout).group(1)  # type: ignore[union-attr]
    assert db.exists() and not (tmp_path / "livechat.db").exists()
    assert site_id in livechat_after("site", "list", db=db).stdout
    changed = livechat_after("site", "set", site_id, "--auto-assign", "on", db=db)
    assert changed.returncode == 0 and "auto-assign:  on" in changed.stdout, changed.stderr
    agent = livechat_after("agent", "create", "--email", "ana@acme.test", "--name", "Ana",
                           "--site", site_id, "--password-stdin", db=db, stdin="long enough pw\n")
    assert agent.returncode == 0, agent.stderr
    assert "ana@acme.test" in livechat_after("agent", "list", db=db).stdout
    doctor = livechat_after("doctor", db=db)
    assert str(db) in doctor.stdout, doctor.stdout + doctor.stderr
    # Before the subcommand still works too, and the later one wins.
    other = tmp_path / "other.db"
    both = livechat("site", "list", "--db", str(other), db=db)
    assert both.returncode == 1 and f"no database at {other}" in both.stderr, both
    assert not other.exists()
    assert "--db" in livechat_after("serve", "--help", db=db).stdout
    # serve and demo: the server really opens the database named after the subcommand.
    for command in ("serve", "demo"):
        served = tmp_path / f"{command}.db"
        port = free_port()
        extra = ["--demo-port", str(free_port())] if command == "demo" else []
        proc = subprocess.Popen(
            [sys.executable, "-m", "server", command, "--port", str(port), "--log-level",
             "warning", *extra, "--db", str(served)],
            cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "LIVECHAT_SECRET_KEYS": SECRET})
        try:
            ServerProcess(served, port=port, proc=proc).wait_ready()
            assert served.exists(), command
        finally:
            proc.terminate()
            proc.wait(10)
    assert not (tmp_path / "livechat.db").exists()


def test_commands_use_the_database_url_as_the_server_does(tmp_path: Path) -> None:
    """Before: ``LIVECHAT_DATABASE_URL=sqlite:///…`` was the server's database but not the
    commands': they used (and made) ``livechat.db`` in the working directory, so a site made
    with them was not in the database served, and a backup found no database."""
    db = tmp_path / "chat.db"

    def run(*args: str, url: str) -> subprocess.CompletedProcess[str]:
        environ = {"PATH": "/usr/bin:/bin", "LIVECHAT_SECRET_KEYS": SECRET,
                   "PYTHONPATH": str(ROOT), "LIVECHAT_DATABASE_URL": url}
        return subprocess.run([sys.executable, "-m", "server", *args], cwd=tmp_path,
                              capture_output=True, text=True, env=environ, timeout=60)

    made = run("site", "create", "Acme", "--origin", "https://acme.test", url=f"sqlite:///{db}")
    assert made.returncode == 0, made.stderr
    assert "Acme" in run("site", "list", url="sqlite:///chat.db").stdout  # (relative)
    assert "Acme" in livechat("site", "list", db=db).stdout  # the same file as --db
    backed = run("backup", str(tmp_path / "copy.db"), url=f"sqlite:///{db}")
    assert backed.returncode == 0, backed.stderr
    assert not (tmp_path / "livechat.db").exists()


def test_site_create_refuses_a_site_without_a_name(tmp_path: Path) -> None:
    """Before, ``site create ""`` made a site named nothing (the admin API refused it)."""
    db = tmp_path / "names.db"
    for name in ("", "   ", "x" * 101):
        refused = livechat("site", "create", name, "--origin", "https://acme.test", db=db)
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert refused.stderr == "livechat: a site name is 1 to 100 characters\n"
        assert refused.stdout == ""
    assert not db.exists()  # (refused before the database is opened)
    made = livechat("site", "create", " Acme ", db=db)
    assert made.returncode == 0, made.stderr
    assert "\tAcme\t" in livechat("site", "list", db=db).stdout


def test_site_create_says_when_the_public_url_is_unknown(tmp_path: Path) -> None:
    db = tmp_path / "url.db"
    made = livechat("site", "create", "Acme", "--origin", "https://acme.test", db=db)
    assert made.returncode == 0, made.stderr
    assert "https://YOUR-CHAT-SERVER/widget.js" in made.stdout
    assert "LIVECHAT_PUBLIC_URL is not set" in made.stderr
    assert "YOUR-CHAT-SERVER" in made.stderr  # what to replace, and how not to have to
    known = livechat("site", "create", "Bikes", db=db,
                     LIVECHAT_PUBLIC_URL="https://chat.acme.test")
    assert '<script async src="https://chat.acme.test/widget.js"' in known.stdout
    assert "LIVECHAT_PUBLIC_URL" not in known.stderr


def test_site_and_agent_lists_as_json(tmp_path: Path) -> None:
    import json

    db = tmp_path / "json.db"
    made = livechat("site", "create", "Acme", "--origin", "https://acme.test", db=db)
    assert json.loads(livechat("agent", "list", "--json", db=db).stdout) == []
    site_id = re.search(r"site key: (site_\S+)", made.stdout).group(1)  # type: ignore[union-attr]
    livechat("site", "set", site_id, "--identity-secret", "new", "--greeting", "Hi!", db=db)
    livechat("agent", "create", "--email", "ana@acme.test", "--name", "Ana", "--site", site_id,
             "--capacity", "3", "--password-stdin", db=db, stdin="long enough pw\n")
    sites = json.loads(livechat("site", "list", "--json", db=db).stdout)
    assert len(sites) == 1
    site = sites[0]
    assert site["id"] == site_id and site["name"] == "Acme"
    assert site["allowed_origins"] == ["https://acme.test"] and site["auto_assign"] is False
    assert site["greeting"] == "Hi!" and site["identity_secret"] is True  # never the secret
    agents = json.loads(livechat("agent", "list", "--json", db=db).stdout)
    assert agents == [{"id": agents[0]["id"], "email": "ana@acme.test", "name": "Ana",
                       "role": "agent", "active": True, "sites": [site_id], "capacity": 3,
                       "invited": False, "avatar": agents[0]["avatar"], "has_avatar": False}]
    raw = livechat("agent", "list", "--json", db=db).stdout
    assert "scrypt" not in raw and "password" not in raw


def test_a_database_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    """Going back to an older livechat after an upgrade: its code does not know the newer schema
    (an index it relies on may be gone), so it refuses to start and says why, instead of
    serving from a database it misreads."""

    from server.store.migrations import MIGRATIONS

    db = tmp_path / "newer.db"
    assert livechat("site", "create", "Acme", "--origin", "https://acme.test",
                    db=db).returncode == 0
    with sqlite3.connect(db) as conn:
        conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    for args in (("site", "list"), ("serve", "--port", str(free_port()))):
        refused = livechat(*args, db=db)
        assert refused.returncode == 1, refused
        assert (f"schema version {len(MIGRATIONS) + 1}, newer than this livechat's "
                f"({len(MIGRATIONS)})") in refused.stderr
        assert "Traceback" not in refused.stderr


def test_output_cut_short_by_its_reader_ends_quietly(tmp_path: Path) -> None:
    """``livechat site list | head -1``: the reader stops early; the command ends with 141
    (as a shell tool killed by SIGPIPE does) and no traceback."""

    db = tmp_path / "many.db"
    assert livechat("site", "create", "Acme", db=db).returncode == 0
    with sqlite3.connect(db) as conn:  # enough sites for more output than a pipe holds
        columns = [r[1] for r in conn.execute("PRAGMA table_info(sites)")]
        row = conn.execute(f"SELECT {', '.join(columns)} FROM sites").fetchone()
        conn.executemany(
            f"INSERT INTO sites({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
            [tuple(f"site_many{i:05d}" if c == "id" else v for c, v in zip(columns, row,
                                                                         strict=True))
             for i in range(3000)])
    environ = {"PATH": "/usr/bin:/bin", "LIVECHAT_SECRET_KEYS": SECRET, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "server", "--db", str(db), "site", "list"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=environ)
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline().startswith(b"site_")
    proc.stdout.close()  # the reader is gone
    with proc.stderr:
        err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141, err
    assert "Traceback" not in err and "BrokenPipe" not in err, err


def test_a_backup_onto_the_store_and_a_restore_of_no_backup_are_refused(tmp_path: Path) -> None:
    """A black-box tester's: ``livechat backup`` given the store's own file replaced the live
    database under the running server (what it acknowledged next was lost at its restart), and
    ``restore`` of a file that is no backup ended in a traceback. Each is refused in a line."""
    db = tmp_path / "chat.db"
    assert livechat("site", "create", "Acme", "--origin", "https://acme.test",
                    db=db).returncode == 0
    good = tmp_path / "good.db"
    assert livechat("backup", str(good), db=db).returncode == 0
    truncated = tmp_path / "truncated.db"
    truncated.write_bytes(good.read_bytes()[:6000])
    junk, empty = tmp_path / "junk.db", tmp_path / "empty.db"
    junk.write_text("not a db")
    empty.write_bytes(b"")
    (tmp_path / "link.db").symlink_to(db)
    before = db.read_bytes()

    def refused(*args: str) -> str:
        done = livechat(*args, db=db)
        assert done.returncode == 1, done
        assert done.stderr.startswith("livechat: ") and done.stderr.count("\n") == 1, done.stderr
        return done.stderr

    for own in (db, Path(f"{db}-wal"), Path(f"{db}.hwm"), tmp_path / "link.db"):
        assert "is the store's own file" in refused("backup", str(own))
    assert "is a folder" in refused("backup", str(tmp_path))
    assert "is the store's own database" in refused("restore", str(db))
    for bad in (junk, empty, truncated):
        assert "is not a livechat backup" in refused("restore", str(bad))
    assert "is a folder" in refused("restore", str(tmp_path))
    assert db.read_bytes() == before
    assert "Acme" in livechat("site", "list", db=db).stdout

    # A mistyped --db: refused, and nothing is made there (before: an empty store, with a
    # signing key of its own).
    typo = tmp_path / "typo"
    typo.mkdir()
    for args in (("token", "list"), ("visitor", "export", "vis_x", "--out", "v.zip"),
                 ("site", "list", "--json"), ("bot", "remove", "--site", "site_x")):
        missing = livechat(*args, db=typo / "chat.db")
        assert missing.returncode == 1, missing
        assert missing.stderr.startswith(f"livechat: no database at {typo / 'chat.db'} "), missing
        assert list(typo.iterdir()) == []
