"""``livechat serve`` refusing to start, as an operator meets it: one line saying what is wrong, a
non-zero exit (so that systemd's ``Restart=on-failure`` fires), no traceback, and a process that
does end (the store's threads closed)."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.live import ROOT, SECRET, free_port


def serve(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {"PATH": "/usr/bin:/bin", "LIVECHAT_SECRET_KEYS": SECRET, "PYTHONPATH": str(ROOT),
               **env}
    # (The timeout is the deadline of a process that should end by itself; before the fix it
    # never did, and the test failed on it.)
    return subprocess.run([sys.executable, "-m", "server", "serve", "--port", str(free_port()),
                           "--db", str(tmp_path / "c.db"), *args],
                          capture_output=True, text=True, env=environ, cwd=tmp_path, timeout=60)


def assert_refused(result: subprocess.CompletedProcess[str], *said: str) -> None:
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    assert "Traceback" not in out, out
    for words in said:
        assert words in out, (words, out)


def test_an_unusable_uploads_folder_is_said_and_the_process_ends(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    for folder in (tmp_path / "a-file" / "uploads", Path("/proc/livechat-uploads")):
        result = serve(tmp_path, LIVECHAT_UPLOADS=str(folder))
        assert_refused(result, "LIVECHAT_UPLOADS", str(folder))
        assert result.returncode == 1  # (README: a folder it cannot make)


def test_an_unusable_metrics_folder_is_said(tmp_path: Path) -> None:
    result = serve(tmp_path, LIVECHAT_METRICS_DIR="/proc/livechat-metrics",
                   LIVECHAT_METRICS_TOKEN="m" * 20)
    assert_refused(result, "LIVECHAT_METRICS_DIR", "/proc/livechat-metrics")
    assert result.returncode == 1


def test_a_listener_whose_port_is_taken_is_said(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        result = serve(tmp_path, LIVECHAT_METRICS_LISTEN=address)
        assert_refused(result, "LIVECHAT_METRICS_LISTEN", address)
        assert result.returncode == 3  # (README: what fails once the server is starting)
        result = serve(tmp_path, LIVECHAT_SMTP_LISTEN=address,
                       LIVECHAT_EMAIL_REPLY_DOMAIN="reply.example.com")
        assert_refused(result, "LIVECHAT_SMTP_LISTEN", address)
        assert result.returncode == 3


def test_a_public_url_must_be_an_origin(tmp_path: Path) -> None:
    """Before, a public URL with a path was taken, and then every WebSocket was refused (4403:
    no browser's Origin has a path)."""
    from server.config import from_env

    for url in ("https://chat.example.com/sub/path", "https://chat.example.com/chat",
                "https://chat.example.com?x=1", "https://user@chat.example.com",
                "https://", "https://chat.example.com:99999", "https://chat.example.com#top"):
        result = serve(tmp_path, LIVECHAT_PUBLIC_URL=url)
        assert result.returncode == 2, (url, result.stderr)
        assert_refused(result, "LIVECHAT_PUBLIC_URL", "origin")
    for url, origin in (("https://chat.example.com/", "https://chat.example.com"),
                        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
                        ("https://[::1]:8443/", "https://[::1]:8443")):
        settings = from_env({"LIVECHAT_SECRET_KEYS": SECRET, "LIVECHAT_PUBLIC_URL": url,
                             "LIVECHAT_DB": str(tmp_path / "c.db")})
        assert settings.public_url == origin


def test_values_that_would_break_the_service_are_refused_at_start(tmp_path: Path) -> None:
    """Before, each was taken: every message too long, every visitor closed for no hello, an
    SMTP port that cannot be, switches that silently meant off, a sender no email can have."""
    email = {"LIVECHAT_EMAIL_REPLY_DOMAIN": "reply.example.com"}
    for env, said in (({"LIVECHAT_MAX_TEXT_CHARS": "0"}, "LIVECHAT_MAX_TEXT_CHARS"),
                      ({"LIVECHAT_HELLO_TIMEOUT": "0"}, "LIVECHAT_HELLO_TIMEOUT must be positive"),
                      # Not numbers to us, though Python parses them: a routing interval of nan
                      # stopped every sweep on a server that said it was healthy.
                      ({"LIVECHAT_ROUTING_INTERVAL": "nan"}, "LIVECHAT_ROUTING_INTERVAL"),
                      ({"LIVECHAT_REQUEUE_GRACE": "inf"}, "LIVECHAT_REQUEUE_GRACE"),
                      ({"LIVECHAT_BOT_REPLY_TIMEOUT": "-1"}, "LIVECHAT_BOT_REPLY_TIMEOUT"),
                      # (A timeout past a year overflowed the store's integers at each sweep.)
                      ({"LIVECHAT_BOT_REPLY_TIMEOUT": "1e300"}, "LIVECHAT_BOT_REPLY_TIMEOUT"),
                      ({"LIVECHAT_SMTP_LISTEN": "127.0.0.1:99999", **email},
                       "LIVECHAT_SMTP_LISTEN"),
                      ({"LIVECHAT_SMTP_LISTEN": "127.0.0.1:0", **email}, "LIVECHAT_SMTP_LISTEN"),
                      ({"LIVECHAT_COOKIE_SECURE": "banana"}, "LIVECHAT_COOKIE_SECURE"),
                      ({"LIVECHAT_COOKIE_SECURE": "ture"}, "LIVECHAT_COOKIE_SECURE"),
                      ({"LIVECHAT_WEBHOOK_ALLOW_PRIVATE": "banana"},
                       "LIVECHAT_WEBHOOK_ALLOW_PRIVATE"),
                      ({"LIVECHAT_EMAIL_FROM": "not an address"}, "LIVECHAT_EMAIL_FROM")):
        result = serve(tmp_path, **env)
        assert result.returncode == 2, (env, result.stdout + result.stderr)
        assert_refused(result, said)


def test_switches_take_the_documented_spellings() -> None:
    from server.config import from_env

    for name, field in (("LIVECHAT_COOKIE_SECURE", "cookie_secure"),
                        ("LIVECHAT_WEBHOOK_ALLOW_PRIVATE", "webhook_allow_private")):
        for value, meant in (("1", True), ("true", True), ("YES", True), ("On", True),
                             ("0", False), ("false", False), ("No", False), ("off", False),
                             ("", False)):
            settings = from_env({"LIVECHAT_SECRET_KEYS": SECRET, name: value})
            assert getattr(settings, field) is meant, (name, value)
    settings = from_env({"LIVECHAT_SECRET_KEYS": SECRET,
                         "LIVECHAT_EMAIL_FROM": "Acme Support <support@acme.example>"})
    assert settings.email_from == "Acme Support <support@acme.example>"


def test_a_flag_given_makes_its_variable_irrelevant(tmp_path: Path) -> None:
    """README: the flags of ``livechat serve`` override the rows that name them. Before,
    ``LIVECHAT_WORKERS=abc serve --workers 1`` started but ``PORT=abc serve --port N`` (and a
    bad LIVECHAT_LOG_FORMAT or LIVECHAT_LOG_LEVEL beside its flag) was refused."""
    for name, value, flag in (("PORT", "abc", []),
                              ("LIVECHAT_WORKERS", "abc", ["--workers", "1"]),
                              ("LIVECHAT_LOG_FORMAT", "xml", ["--log-format", "text"]),
                              ("LIVECHAT_LOG_LEVEL", "bogus", ["--log-level", "info"])):
        # (serve() gives --port; the server is made to fail at once after the flags are
        # read, on a taken metrics port, so that the test need not stop it.)
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            result = serve(tmp_path, *flag, **{name: value}, LIVECHAT_METRICS_LISTEN=(
                f"127.0.0.1:{taken.getsockname()[1]}"))
        assert_refused(result, "LIVECHAT_METRICS_LISTEN")
        assert name not in result.stderr, (name, result.stderr)


def test_a_failed_start_of_several_workers_exits_non_zero(tmp_path: Path) -> None:
    """With --workers 2, uvicorn's parent stopped when a worker failed to start and exited 0:
    systemd's Restart=on-failure would not fire."""
    from tests.redis_server import RedisServer

    redis = RedisServer(tmp_path).start()
    try:
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            address = f"127.0.0.1:{taken.getsockname()[1]}"
            result = serve(tmp_path, "--workers", "2", LIVECHAT_METRICS_LISTEN=address,
                           LIVECHAT_REDIS_URL=redis.url)
        assert_refused(result, "LIVECHAT_METRICS_LISTEN", address)
        assert result.returncode == 3
    finally:
        redis.stop()


def demo(tmp_path: Path, port: int, demo_port: int,
         **env: str) -> subprocess.CompletedProcess[str]:
    environ = {"PATH": "/usr/bin:/bin", "LIVECHAT_SECRET_KEYS": SECRET, "PYTHONPATH": str(ROOT),
               "LIVECHAT_DB": str(tmp_path / "demo.db"), **env}
    # (The timeout is the deadline of a process that should end by itself.)
    return subprocess.run([sys.executable, "-m", "server", "demo", "--port", str(port),
                           "--demo-port", str(demo_port), "--log-level", "warning"],
                          capture_output=True, text=True, env=environ, cwd=tmp_path, timeout=60)


def assert_free(port: int) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))  # (nothing of the demo's left listening on it)


def test_demo_refuses_an_unusable_uploads_folder_before_it_starts(tmp_path: Path) -> None:
    """Before, ``demo`` made its demo site and printed its banner, and the chat server then
    failed with uvicorn's tracebacks (exit 3); ``serve`` says it in a line, exit 1."""
    (tmp_path / "a-file").write_text("")
    folder = tmp_path / "a-file" / "uploads"
    result = demo(tmp_path, free_port(), free_port(), LIVECHAT_UPLOADS=str(folder))
    assert_refused(result, "LIVECHAT_UPLOADS", str(folder))
    assert result.returncode == 1
    assert result.stderr == (f"livechat: LIVECHAT_UPLOADS: cannot use {folder} as a folder: "
                             "Not a directory\n")
    assert "Live chat demo" not in result.stdout and not (tmp_path / "demo.db").exists()


def test_demo_makes_a_missing_uploads_folder(tmp_path: Path) -> None:
    from tests.live import ServerProcess

    folder = tmp_path / "new" / "uploads"
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "server", "demo", "--port", str(port), "--demo-port",
         str(free_port()), "--log-level", "warning"],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "LIVECHAT_SECRET_KEYS": SECRET,
             "LIVECHAT_DB": str(tmp_path / "demo.db"), "LIVECHAT_UPLOADS": str(folder)})
    try:
        ServerProcess(tmp_path / "demo.db", port=port, proc=proc).wait_ready()
        assert folder.is_dir() and (folder.stat().st_mode & 0o777) == 0o700
    finally:
        proc.terminate()
        proc.wait(10)


def test_demo_stops_both_servers_when_either_fails_to_start(tmp_path: Path) -> None:
    """Before, the chat server's failed start was uvicorn's SystemExit raised through the
    gathered servers: tracebacks, and the page server cancelled rather than stopped. Now either
    failing stops the other, the failure is said in a line, and the exit status is serve's (3)."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        address = f"127.0.0.1:{busy}"
        for port, demo_port, env, said in (
                (free_port(), free_port(), {"LIVECHAT_METRICS_LISTEN": address},
                 f"LIVECHAT_METRICS_LISTEN: cannot listen on {address}"),
                (busy, free_port(), {}, "address already in use"),
                (free_port(), busy, {}, "address already in use")):
            result = demo(tmp_path, port, demo_port, **env)
            assert_refused(result, said)
            assert result.returncode == 3, result.stdout + result.stderr
            for mine in {port, demo_port} - {busy}:
                assert_free(mine)


def test_a_refused_number_names_its_setting() -> None:
    """A black-box tester's: LIVECHAT_RETENTION_INTERVAL=0 was refused as "webhook timeouts,
    delays and concurrency must be positive", naming no setting (and another one's kind)."""
    from server.config import ConfigError, from_env

    for name in ("LIVECHAT_RETENTION_INTERVAL", "LIVECHAT_API_RATE_PER_SECOND",
                 "LIVECHAT_API_RATE_BURST", "LIVECHAT_WEBHOOK_POLL", "LIVECHAT_PRESENCE_TTL",
                 "LIVECHAT_SITE_NEW_VISITORS", "LIVECHAT_UPLOAD_QUOTA", "LIVECHAT_RATE_BURST",
                 "LIVECHAT_LOGIN_FAILURES_PER_IP", "LIVECHAT_HEADER_TIMEOUT"):
        with pytest.raises(ConfigError, match=f"^{name} must be positive, not 0"):
            from_env({"LIVECHAT_SECRET_KEYS": SECRET, name: "0"})
    with pytest.raises(ConfigError, match=r"^LIVECHAT_REQUEUE_GRACE cannot be negative"):
        from_env({"LIVECHAT_SECRET_KEYS": SECRET, "LIVECHAT_REQUEUE_GRACE": "-1"})
