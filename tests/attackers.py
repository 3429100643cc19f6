"""Attacks for the abuse tests, run in a process of their own (as a real attacker would be), so
that the test's own event loop measures only the server: ``python -m tests.attackers KIND URL
[ARG …]``. Each prints ``started`` once the attack is under way, then one JSON line with what
it saw, and exits; the attacks that hold connections hold them until their standard input
closes."""

from __future__ import annotations

import asyncio
import collections
import json
import socket
import sys
from typing import Any

import httpx
import orjson
from websockets.asyncio.client import connect


def started() -> None:
    print("started", flush=True)


def report(result: dict[str, Any]) -> None:
    print(json.dumps(result), flush=True)


async def until_stdin_closes() -> None:
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


async def logins(url: str, count: str) -> None:
    """``count`` concurrent wrong logins, again and again until stdin closes."""
    statuses: collections.Counter[int] = collections.Counter()
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=int(count) + 10),
                                 timeout=120) as http:
        async def guess(i: int) -> int:
            r = await http.post(f"{url}/api/agent/login",
                                json={"email": "nobody@acme.test", "password": f"guess {i}"},
                                headers={"Origin": url})
            return r.status_code

        stop = asyncio.create_task(until_stdin_closes())
        first = True
        while first or not stop.done():
            wave = [asyncio.create_task(guess(i)) for i in range(int(count))]
            if first:
                started()
                first = False
            statuses.update(await asyncio.gather(*wave))
    report({"statuses": statuses, "waves": sum(statuses.values()) // int(count)})


async def idle(url: str, count: str, slow: str = "0", until: str = "stdin") -> None:
    """``count`` TCP connections that never send a byte (or, with ``slow`` > 0, send a request
    header one byte every ``slow`` seconds), held until stdin closes (``until`` ``closed``: until
    the server has closed them all); how many the server closed."""
    host, port = url.split("//", 1)[1].split(":")
    socks: list[socket.socket] = []
    refused = 0
    loop = asyncio.get_running_loop()
    for _ in range(int(count)):
        s = socket.socket()
        s.setblocking(False)
        try:
            await loop.sock_connect(s, (host, int(port)))
            socks.append(s)
        except OSError:
            refused += 1
            s.close()
    started()
    closed: set[int] = set()

    async def watch(index: int, s: socket.socket) -> None:
        header = b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"X-Slow: " + b"a" * 10_000
        try:
            if float(slow) > 0:
                for byte in header:
                    await loop.sock_sendall(s, bytes([byte]))
                    await asyncio.sleep(float(slow))
            while await loop.sock_recv(s, 4096):
                pass
        except OSError:
            pass
        closed.add(index)

    watchers = [asyncio.create_task(watch(i, s)) for i, s in enumerate(socks)]
    if until == "closed":
        await asyncio.gather(*watchers)
    else:
        await until_stdin_closes()
    for w in watchers:
        w.cancel()
    for s in socks:
        s.close()
    report({"opened": len(socks), "refused": refused, "closed_by_server": len(closed)})


async def flood(url: str, token: str, site: str, sockets: str, per_socket: str) -> None:
    """One visitor token on ``sockets`` sockets, each sending ``per_socket`` messages as fast as
    it can; how many were acknowledged."""
    results: collections.Counter[str] = collections.Counter()

    async def one(index: int) -> None:
        try:
            async with connect(f"{url.replace('http', 'ws')}/ws/visitor", origin=url,
                               compression=None) as ws:  # type: ignore[arg-type]
                await ws.send(orjson.dumps({"type": "hello", "v": 1, "site": site,
                                            "token": token}).decode())
                for i in range(int(per_socket)):
                    await ws.send(orjson.dumps({"type": "send", "id": f"f{index}-{i}",
                                                "body": "flood"}).decode())
                while True:
                    frame = orjson.loads(await asyncio.wait_for(ws.recv(), 3))
                    if frame["type"] in ("ack", "error"):
                        results[frame["type"] if frame["type"] == "ack"
                                else frame["code"]] += 1
        except Exception as exc:  # closed by the server, or quiet for 3 s: done
            results[f"ended:{type(exc).__name__}"] += 1

    tasks = [asyncio.create_task(one(i)) for i in range(int(sockets))]
    started()
    await asyncio.gather(*tasks)
    report(dict(results))


async def visitors(url: str, site: str, count: str, send: str = "no") -> None:
    """``count`` new visitors as fast as possible (each opening a conversation when ``send`` is
    ``yes``); how each ended."""
    results: collections.Counter[str] = collections.Counter()

    async def one(index: int) -> None:
        try:
            async with connect(f"{url.replace('http', 'ws')}/ws/visitor", origin=url,
                               compression=None) as ws:  # type: ignore[arg-type]
                await ws.send(orjson.dumps({"type": "hello", "v": 1, "site": site}).decode())
                frame = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
                if frame["type"] != "welcome":
                    results[frame.get("code", frame["type"])] += 1
                    return
                if send == "yes":
                    await ws.send(orjson.dumps({"type": "send", "id": "m",
                                                "body": "hello"}).decode())
                    while True:
                        frame = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
                        if frame["type"] in ("ack", "error"):
                            results["conversation" if frame["type"] == "ack"
                                    else frame["code"]] += 1
                            return
                results["welcome"] += 1
        except Exception as exc:
            code = getattr(getattr(exc, "rcvd", None), "code", None)
            results[f"closed:{code}" if code else type(exc).__name__] += 1

    started()
    for start in range(0, int(count), 50):  # fifty at a time
        await asyncio.gather(*(one(i) for i in range(start, min(int(count), start + 50))))
    report(dict(results))


KINDS = {"logins": logins, "idle": idle, "flood": flood, "visitors": visitors}

if __name__ == "__main__":
    asyncio.run(KINDS[sys.argv[1]](*sys.argv[2:]))  # type: ignore[operator]
