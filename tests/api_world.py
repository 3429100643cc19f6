"""What the REST API's tests share (docs/api.md): a served store, a token of every scope for
site A, Ana's panel and a visitor's widget open on a conversation of A, and one of site B."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from server.openapi import SCHEMAS
from tests.live import (
    ROOT,
    UNLIMITED,
    Client,
    Seed,
    ServerProcess,
    agent,
    api_token,
    login,
    open_store,
    server_env,
    serving,
    visitor,
)

ALL = ("conversations:read", "conversations:write", "visitors:read", "visitors:write",
       "reports:read", "webhooks", "articles:read", "articles:write")


@pytest.fixture
def server(db: Path, seeded: Seed) -> Iterator[ServerProcess]:
    with serving(db, **UNLIMITED) as proc:
        yield proc


def check(schema: str, data: Any) -> None:
    """``data`` matches the document's schema of that name (references resolved)."""
    jsonschema.validate(data, {"$ref": f"#/components/schemas/{schema}",
                               "components": {"schemas": SCHEMAS}})


@dataclass
class Api:
    server: ServerProcess
    token: str

    async def __call__(self, method: str, path: str, body: Any = None,
                       headers: dict[str, str] | None = None, **params: Any) -> httpx.Response:
        async with httpx.AsyncClient(base_url=self.server.http) as http:
            return await http.request(
                method, path, json=body, params=params or None,
                headers={"Authorization": f"Bearer {self.token}", **(headers or {})})


@dataclass
class World:
    """Site A with a conversation (Ana's panel and the visitor's widget open on it), site B with
    one of its own."""

    seed: Seed
    api: Api
    ana: Client
    ana_id: str
    bo_id: str
    widget: Client
    conversation_id: str
    visitor_id: str
    other_conversation_id: str
    other_visitor_id: str


async def new_conversation(server: ServerProcess, site_id: str, text: str) -> tuple[Client, str,
                                                                                 str]:
    """A visitor's new conversation: the widget's socket, its id and the visitor's id."""
    client, _ = await visitor(server, site_id)
    ack = await client.request({"type": "send", "id": "m1", "body": text})
    assert ack["type"] == "ack", ack
    async with open_store(server.db) as store:
        found = await store.conversation(ack["conversation_id"])
    assert found is not None
    return client, found.id, found.visitor_id


@pytest.fixture
async def world(server: ServerProcess, db: Path, seeded: Seed) -> AsyncIterator[World]:
    ana, welcome = await agent(server, await login(server, seeded.agent_email))
    ids = {a["name"]: a["id"] for a in welcome["agents"]}
    widget, conversation_id, visitor_id = await new_conversation(server, seeded.site_id, "hello A")
    other, other_conversation_id, other_visitor_id = await new_conversation(
        server, seeded.other_site_id, "hello B")
    await other.close()
    opened = await ana.request({"type": "open", "id": "o1", "conversation_id": conversation_id})
    assert opened["type"] == "ack"
    token = api_token(db, *ALL, site=seeded.site_id)
    yield World(seeded, Api(server, token), ana, welcome["agent"]["id"], ids["Bo"], widget,
                conversation_id, visitor_id, other_conversation_id, other_visitor_id)
    await ana.close()
    await widget.close()



def cli(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "server", *args, "--db", str(db)],
                          env=server_env(db), capture_output=True, text=True, cwd=ROOT)
