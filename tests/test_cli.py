"""The `livechat` command and the installed package, as a new user meets them."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import pg
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
    assert both.returncode == 0 and site_id not in both.stdout and other.exists()
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
    assert json.loads(livechat("site", "list", "--json", db=db).stdout) == []
    made = livechat("site", "create", "Acme", "--origin", "https://acme.test", db=db)
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


def test_a_database_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    """Going back to an older livechat after an upgrade: its code does not know the newer schema
    (an index it relies on may be gone), so it refuses to start and says why, instead of
    serving from a database it misreads."""
    import sqlite3

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
    import sqlite3

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
