"""``livechat serve`` refusing to start, as an operator meets it: one line saying what is wrong, a
non-zero exit (so that systemd's ``Restart=on-failure`` fires), no traceback, and a process that
does end (the store's threads closed)."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

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


def test_an_unusable_metrics_folder_is_said(tmp_path: Path) -> None:
    result = serve(tmp_path, LIVECHAT_METRICS_DIR="/proc/livechat-metrics",
                   LIVECHAT_METRICS_TOKEN="m" * 20)
    assert_refused(result, "LIVECHAT_METRICS_DIR", "/proc/livechat-metrics")


def test_a_listener_whose_port_is_taken_is_said(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        result = serve(tmp_path, LIVECHAT_METRICS_LISTEN=address)
        assert_refused(result, "LIVECHAT_METRICS_LISTEN", address)
        result = serve(tmp_path, LIVECHAT_SMTP_LISTEN=address,
                       LIVECHAT_EMAIL_REPLY_DOMAIN="reply.example.com")
        assert_refused(result, "LIVECHAT_SMTP_LISTEN", address)


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
