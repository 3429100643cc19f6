"""Agents' avatars: an agent uploads their own picture (images only, judged by the bytes), and
visitors and colleagues see it beside the agent's messages and in the chat's header; without one,
a generated initial. What visitors learn is a name and an avatar URL, which names no account."""

from __future__ import annotations

from pathlib import Path

import httpx

from server.avatars import avatar_url
from tests.browser import png
from tests.live import Seed, ServerProcess, agent, login, open_store, visitor


async def put_avatar(server: ServerProcess, cookie: str | None, content: bytes,
                     origin: str | None = None) -> httpx.Response:
    cookies = {"livechat_agent": cookie} if cookie else None
    async with httpx.AsyncClient(cookies=cookies) as http:
        return await http.post(f"{server.http}/api/agent/avatar", content=content,
                               headers={"Origin": origin or server.http})


async def test_an_agent_uploads_their_avatar(server: ServerProcess, seeded: Seed,
                                             db: Path) -> None:
    cookie = await login(server, seeded.agent_email)
    picture = png(64, 64)
    made = await put_avatar(server, cookie, picture)
    assert made.status_code == 200, made.text
    me = made.json()["agent"]
    assert me["avatar"].startswith("/avatars/") and me["id"] not in me["avatar"]
    async with httpx.AsyncClient(base_url=server.http) as http:
        got = await http.get(me["avatar"])
        assert got.status_code == 200 and got.content == picture
        assert got.headers["content-type"] == "image/png"
        assert got.headers["x-content-type-options"] == "nosniff"
        assert "sandbox" in got.headers["content-security-policy"]
        # Another agent, who has none: a generated initial.
        async with open_store(db) as store:
            bo = await store.agent_by_email(seeded.agent2_email)
        assert bo is not None
        initial = await http.get(avatar_url(bo.id))
        assert initial.status_code == 200
        assert initial.headers["content-type"].startswith("image/svg+xml")
        assert ">B</text>" in initial.text and "<script" not in initial.text
        assert (await http.get("/avatars/0123456789abcdef01234567")).status_code == 404

    # Only images, only from our pages, only signed in, not too big.
    for content, status in ((b"%PDF-1.7\n", 415), (b"hello", 415),
                            (b"<svg xmlns='http://www.w3.org/2000/svg'/>", 415)):
        assert (await put_avatar(server, cookie, content)).status_code == status
    assert (await put_avatar(server, None, picture)).status_code == 401
    assert (await put_avatar(server, cookie, picture, origin="http://evil.test")).status_code == 403
    big = picture + bytes(3 * 1024 * 1024)
    assert (await put_avatar(server, cookie, big)).status_code == 413

    # A new picture replaces the old one (whose file is removed); removing it brings the initial.
    files_dir = db.with_name(db.name + "-files")
    before = {p.name for p in files_dir.iterdir()}
    assert len(before) == 1
    again = await put_avatar(server, cookie, png(32, 32))
    assert again.json()["agent"]["avatar"] == me["avatar"]  # the same URL, a new picture
    after = {p.name for p in files_dir.iterdir()}
    assert len(after) == 1 and after != before
    async with httpx.AsyncClient(base_url=server.http, cookies={"livechat_agent": cookie},
                                 headers={"Origin": server.http}) as http:
        removed = await http.delete("/api/agent/avatar")
        assert removed.status_code == 200
        assert (await http.get(me["avatar"])).headers["content-type"].startswith("image/svg")
    assert not any(files_dir.iterdir())


async def test_visitors_and_colleagues_see_name_and_avatar(server: ServerProcess,
                                                            seeded: Seed) -> None:
    cookie = await login(server, seeded.agent_email)
    await put_avatar(server, cookie, png(16, 16))
    v, first = await visitor(server, seeded.site_id)
    conv = (await v.request({"type": "send", "id": "m1", "body": "Hi"}))["conversation_id"]
    a, welcome = await agent(server, cookie)
    url = welcome["agent"]["avatar"]
    assert all(c["avatar"].startswith("/avatars/") for c in welcome["agents"])
    await a.request({"type": "claim", "id": "c1", "conversation_id": conv})
    await a.request({"type": "send", "id": "r1", "conversation_id": conv, "body": "Hello!"})
    joined = await v.next(lambda f: f.get("type") == "message" and f["kind"] == "joined")
    reply = await v.of_type("message", id="r1")
    for frame in (joined, reply):
        assert frame["author"]["name"] == "Ana" and frame["author"]["avatar"] == url
    summary = (await a.next(lambda f: f.get("type") == "conversation"
                            and f["conversation"]["assignee"] is not None))["conversation"]
    assert summary["assignee"]["avatar"] == url
    # A returning visitor learns who is answering, with the picture.
    await v.close()
    back, again = await visitor(server, seeded.site_id, token=first["token"])
    assert again["conversation"]["assignee"] == {"name": "Ana", "avatar": url, "bot": False}
    await back.close()
    await a.close()
