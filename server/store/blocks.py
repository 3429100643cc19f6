"""The visitor block list."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Protocol

from server.errors import ChatError, Code
from server.store.base import (
    DB,
    Base,
    block_row,
)
from server.store.models import (
    Agent,
    Block,
)

_BLOCK_COLS = ("b.id, b.site_id, b.visitor_id, v.name, b.ip IS NOT NULL, b.until, b.reason, "
               "a.name, b.created_at")
_BLOCK_FROM = ("blocks b LEFT JOIN visitors v ON v.id = b.visitor_id "
               "JOIN agents a ON a.id = b.created_by")



class BlockStore(Protocol):
    """What ``Blocks`` offers (``server.store.Store`` is every such protocol)."""

    async def block(self, agent: Agent, site_ids: Sequence[str], conversation_id: str, *,
                    until: int | None, address_until: int | None,
                    reason: str | None) -> list[Block]: ...
    async def unblock(self, site_ids: Sequence[str], block_id: str) -> None: ...
    async def blocks(self, site_ids: Sequence[str]) -> list[Block]: ...
    async def blocked(self, site_id: str, visitor_id: str, ip: str) -> bool: ...


class Blocks(Base):
    async def block(self, agent: Agent, site_ids: Sequence[str], conversation_id: str, *,
                    until: int | None, address_until: int | None,
                    reason: str | None) -> list[Block]:
        """Block the conversation's visitor (until ``until`` ms, None: for good) and, when
        ``address_until`` is given, the address the visitor last came from until then."""
        now = self._now()

        def op(db: DB) -> list[Block]:
            conv = self._authorized(db, conversation_id, site_ids)
            made = [self._ids("block")]
            db.execute("INSERT INTO blocks VALUES (?, ?, ?, NULL, ?, ?, ?, ?)",
                       (made[0], conv.site_id, conv.visitor_id, until, reason, agent.id, now))
            if address_until is not None:
                row = db.execute("SELECT last_ip FROM visitors WHERE id = ?",
                                 (conv.visitor_id,)).fetchone()
                if row is None or row[0] is None:
                    raise ChatError(Code.NOT_FOUND, "this visitor's address is not known")
                made.append(self._ids("block"))
                db.execute("INSERT INTO blocks VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                           (made[1], conv.site_id, conv.visitor_id, row[0], address_until,
                            reason, agent.id, now))
            blocks = [self._load_block(db, block_id) for block_id in made]
            if address_until is not None:
                blocks[1] = dataclasses.replace(blocks[1], ip=row[0])
            return blocks

        return await self._submit(op)

    @staticmethod
    def _load_block(db: DB, block_id: str) -> Block:
        row = db.execute(f"SELECT {_BLOCK_COLS} FROM {_BLOCK_FROM} WHERE b.id = ?",
                         (block_id,)).fetchone()
        return block_row(row)

    async def unblock(self, site_ids: Sequence[str], block_id: str) -> None:
        marks = ",".join("?" * len(site_ids)) or "NULL"

        def op(db: DB) -> None:
            if db.execute(f"DELETE FROM blocks WHERE id = ? AND site_id IN ({marks})",
                          (block_id, *site_ids)).rowcount != 1:
                raise ChatError(Code.NOT_FOUND, "no such block")

        await self._submit(op)

    async def blocks(self, site_ids: Sequence[str]) -> list[Block]:
        """The blocks in force on these sites, newest first."""
        marks = ",".join("?" * len(site_ids)) or "NULL"
        rows = await self._all(
            f"SELECT {_BLOCK_COLS} FROM {_BLOCK_FROM} WHERE b.site_id IN ({marks}) "
            "AND (b.until IS NULL OR b.until > ?) ORDER BY b.created_at DESC, b.id",
            (*site_ids, self._now()))
        return [block_row(r) for r in rows]

    async def blocked(self, site_id: str, visitor_id: str, ip: str) -> bool:
        """Whether this visitor, or anyone from this address, is blocked on the site now."""
        row = await self._one(
            "SELECT 1 FROM blocks WHERE site_id = ? AND (until IS NULL OR until > ?) AND "
            "((ip IS NULL AND visitor_id = ?) OR ip = ?) LIMIT 1",
            (site_id, self._now(), visitor_id, ip))
        return row is not None
