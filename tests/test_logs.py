"""The server's logs over a whole session — visitors, agents, an admin, files, verified
identities, bad input, a restart — in both formats: every JSON line parses and says which request
and connection it belongs to, and no log holds a token, cookie, password, secret, message body,
file name, file content or file id that the session used."""

from __future__ import annotations

import json
import logging
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from server import logs
from server.auth import identity_hash
from tests.live import (
    PASSWORD,
    SECRET,
    Client,
    ServerProcess,
    add_admin,
    agent,
    login,
    open_store,
    seed,
    visitor,
)

IDENTITY_SECRET = "identity-secret-" + uuid.uuid4().hex


async def full_session(server: ServerProcess, site_id: str, agent_email: str) -> list[str]:
    """Everything a day of use does; returns every secret and body it used."""
    mark = uuid.uuid4().hex[:10]
    secrets: list[str] = [SECRET, PASSWORD, IDENTITY_SECRET]
    async with httpx.AsyncClient(base_url=server.http, headers={"Origin": server.http}) as http:
        wrong = f"wrong-password-{mark}"
        refused = await http.post("/api/agent/login",
                                  json={"email": agent_email, "password": wrong})
        assert refused.status_code == 401
        secrets.append(wrong)
        assert (await http.get("/no/such/page")).status_code == 404
        assert (await http.get("/widget.js")).status_code == 200
        assert (await http.get("/widget/frame", params={"site": site_id})).status_code == 200

    cookie = await login(server, agent_email)
    secrets.append(cookie)
    v, welcome = await visitor(server, site_id)
    token = welcome["token"]
    secrets.append(token)
    body = f"my card number is 4111-{mark}"
    preview = f"half typed {mark}"
    secrets += [body, preview]
    conv = (await v.request({"type": "send", "id": "m1", "body": body}))["conversation_id"]
    await v.send({"type": "typing", "active": True, "text": preview})
    name, email = f"Maria {mark}", f"maria-{mark}@example.com"
    secrets += [name, email]
    await v.request({"type": "profile", "id": "p1", "name": name, "email": email})
    await v.send({"type": "context", "url": f"https://shop.test/cart?session={mark}",
                  "title": f"Cart {mark}", "language": "pt-PT"})
    secrets.append(f"session={mark}")

    # A file: its name, its bytes and its id (the key to it) stay out of the logs.
    file_name, content = f"passport-{mark}.txt", f"passport number P{mark}".encode()
    secrets += [file_name, content.decode()]
    async with httpx.AsyncClient(base_url=server.http) as http:
        up = await http.post("/api/files", content=content,
                             headers={"Origin": server.http, "Authorization": f"Bearer {token}",
                                      "X-File-Name": file_name})
        assert up.status_code == 201, up.text
        file_id = up.json()["id"]
        secrets.append(file_id)
        assert (await http.get(f"/files/{file_id}")).status_code == 200
    await v.request({"type": "send", "id": "m2", "attachment": file_id})

    a, _ = await agent(server, cookie)
    await a.request({"type": "open", "id": "o1", "conversation_id": conv})
    await a.request({"type": "claim", "id": "c1", "conversation_id": conv})
    reply, note = f"agent reply {mark}", f"internal note {mark}"
    secrets += [reply, note]
    await a.request({"type": "send", "id": "r1", "conversation_id": conv, "body": reply})
    await a.request({"type": "note", "id": "n1", "conversation_id": conv, "body": note})
    await v.of_type("message", id="r1")

    # Bad input on both sockets: refused with codes, logged without content.
    garbage = f'{{"type": "send", "body": "{mark}-garbage"'
    secrets.append(f"{mark}-garbage")
    await v.send(garbage)
    await v.next(lambda f: f.get("type") == "error" and f.get("code") == "bad_json")
    await a.send({"type": "nonsense", "id": "x1", "body": f"{mark}-unknown"})
    secrets.append(f"{mark}-unknown")
    await a.next(lambda f: f.get("type") == "error")
    await v.close()
    await a.close()

    # The visitor comes back with their token; a forged token is turned away.
    again = await Client.open(f"{server.ws}/ws/visitor", origin=server.http)
    await again.send({"type": "hello", "v": 1, "site": site_id, "token": token})
    await again.of_type("welcome")
    await again.close()
    forged = await Client.open(f"{server.ws}/ws/visitor", origin=server.http)
    forged_token = token[:-6] + "AAAAAA"
    secrets.append(forged_token)
    await forged.send({"type": "hello", "v": 1, "site": site_id, "token": forged_token})
    assert await forged.closed() == 4401

    # A verified identity, and a forged one.
    expires = int(time.time()) + 600
    good_hash = identity_hash(IDENTITY_SECRET, f"user-{mark}", expires)
    secrets.append(good_hash)
    signed = await Client.open(f"{server.ws}/ws/visitor", origin=server.http)
    await signed.send({"type": "hello", "v": 1, "site": site_id, "user_id": f"user-{mark}",
                       "user_expires": expires, "user_hash": good_hash})
    await signed.of_type("welcome")
    await signed.close()
    bad = await Client.open(f"{server.ws}/ws/visitor", origin=server.http)
    await bad.send({"type": "hello", "v": 1, "site": site_id, "user_id": "u",
                    "user_expires": expires, "user_hash": "0" * 64})
    assert await bad.closed() == 4402

    # An admin: a new identity secret (shown once), an invitation, its acceptance.
    admin_cookie = await login(server, await add_admin(server.db, f"root-{mark}@acme.test"))
    secrets.append(admin_cookie)
    new_password = f"new-password-{mark}"
    secrets.append(new_password)
    async with httpx.AsyncClient(base_url=server.http, headers={"Origin": server.http},
                                 cookies={"livechat_agent": admin_cookie}) as http:
        changed = await http.patch(f"/api/admin/sites/{site_id}", json={"identity_secret": "new"})
        secrets.append(changed.json()["identity_secret"])
        invited = await http.post("/api/admin/agents", json={"email": f"cy-{mark}@acme.test",
                                                             "name": "Cy", "sites": [site_id]})
        invite_token = invited.json()["invite_url"].split("#invite=")[1]
        secrets.append(invite_token)
    async with httpx.AsyncClient(base_url=server.http, headers={"Origin": server.http}) as http:
        accepted = await http.post("/api/agent/accept",
                                   json={"token": invite_token, "password": new_password})
        assert accepted.status_code == 200
        secrets.append(accepted.cookies["livechat_agent"])
    return secrets


def lines_of(server: ServerProcess) -> list[str]:
    return [line for line in server.log().splitlines() if line.strip()]


@pytest.mark.parametrize("log_format", ["json", "text"])
async def test_logs_of_a_whole_session(tmp_path: Path, log_format: str) -> None:
    db = tmp_path / "chat.db"
    seeded = await seed(db)
    async with open_store(db) as store:
        await store.set_site_options(seeded.site_id, identity_secret=IDENTITY_SECRET)
        await store.set_site_profile(seeded.site_id, typing_preview=True)
    server = ServerProcess(db, env={"LIVECHAT_LOG_FORMAT": log_format}, log_level="debug")
    server.start()
    try:
        secrets = await full_session(server, seeded.site_id, seeded.agent_email)
    finally:
        server.stop()
    lines = lines_of(server)
    text = "\n".join(lines)
    for secret in secrets:
        assert secret not in text, f"{secret!r} is in the {log_format} log"
    assert "Traceback" not in text

    if log_format == "text":
        assert any(" GET /widget.js 200" in line for line in lines)
        return
    records: list[dict[str, Any]] = []
    for line in lines:
        record = json.loads(line)  # every line, or this fails
        assert isinstance(record, dict), line
        assert {"time", "level", "logger", "event"} <= set(record), line
        records.append(record)
    access = [r for r in records if r["logger"] == "livechat.access"]
    http = [r for r in access if r["kind"] == "http"]
    sockets = [r for r in access if r["kind"] == "websocket"]
    assert all(len(r["request"]) == 16 for r in access)
    assert len({r["request"] for r in access}) == len(access)  # one id per request
    logins = [(r["status"], r["method"]) for r in http if r["path"] == "/api/agent/login"]
    assert (401, "POST") in logins and (200, "POST") in logins
    assert any(r["path"] == "/no/such/page" and r["status"] == 404 for r in http)
    files = [r for r in http if r["path"].startswith("/files/")]
    assert files and all(r["path"] == "/files/…" for r in files)
    assert all(isinstance(r["ms"], float) and r["client"] == "127.0.0.1" for r in access)
    # Every socket: its connection id, who it was, how it ended.
    assert all(r["conn"][0] in "va" and r["status"] in (101, 403) for r in sockets)
    visitors = [r for r in sockets if r["path"] == "/ws/visitor"]
    assert {r["close"] for r in visitors} >= {1000, 4401, 4402}
    assert all(r.get("site") == seeded.site_id for r in visitors if r["close"] == 1000)
    assert any(r["path"] == "/ws/agent" and r.get("agent", "").startswith("agent_")
               for r in sockets)
    assert any(r["event"].startswith("livechat ready") for r in records)
    assert any(r["logger"].startswith("uvicorn") for r in records)


_FAILING_START = """
import contextlib, sys
import uvicorn
from starlette.applications import Starlette
from server import logs

@contextlib.asynccontextmanager
async def lifespan(app):
    raise RuntimeError("the start failed here")
    yield

uvicorn.run(Starlette(lifespan=lifespan), host="127.0.0.1", port=0,
            log_config=logs.config("json", "info"))
"""


def test_a_traceback_logged_by_uvicorn_is_in_exception(tmp_path: Path) -> None:
    """docs/deployment.md, Logs: "errors have the traceback in ``exception``". uvicorn logs an
    application's failed start-up with the traceback in the message's text: it was all in
    ``event``. (The server's own start-up failures are one line: tests/test_startup.py.)"""
    import subprocess
    import sys

    from tests.live import ROOT

    ran = subprocess.run([sys.executable, "-c", _FAILING_START], capture_output=True, text=True,
                         timeout=60, cwd=tmp_path, env={"PYTHONPATH": str(ROOT),
                                                        "PATH": "/usr/bin:/bin"})
    assert ran.returncode != 0
    lines = [json.loads(line) for line in ran.stderr.splitlines()]
    failed = [line for line in lines if "the start failed here" in json.dumps(line)]
    assert len(failed) == 1, ran.stderr
    assert "Traceback" not in failed[0]["event"], failed[0]
    assert failed[0]["event"] == "RuntimeError: the start failed here", failed[0]
    assert failed[0]["exception"].startswith("Traceback (most recent call last):"), failed[0]
    assert failed[0]["level"] == "error" and failed[0]["logger"] == "uvicorn.error"


def test_a_message_quoting_the_traceback_words_stays_whole() -> None:
    """Only uvicorn's records whose text has a traceback beginning a line are split: a line
    of the server's own that merely quotes the words keeps them in ``event``."""
    formatter = logs.JsonFormatter()

    def formatted(name: str, message: str) -> dict[str, Any]:
        record = logging.LogRecord(name, logging.ERROR, __file__, 1, message, None, None)
        return json.loads(formatter.format(record))

    quoted = "a webhook answered 'Traceback (most recent call last):' in its body"
    assert formatted("livechat.webhooks", quoted)["event"] == quoted
    assert "exception" not in formatted("livechat.webhooks", quoted)
    assert formatted("uvicorn.error", quoted)["event"] == quoted  # not at a line's start
    trace = "Traceback (most recent call last):\n  File \"x\", line 1\nValueError: no"
    own = formatted("livechat.app", "failed\n" + trace)
    assert own["event"] == "failed\n" + trace and "exception" not in own
    split = formatted("uvicorn.error", "failed\n" + trace)
    assert split["event"] == "failed" and split["exception"] == trace
