"""Each site's help-centre address (``/help/<slug>``), a part of the knowledge base
(server/store/articles.py) on the store's writer and reader."""

from __future__ import annotations

from typing import TYPE_CHECKING

from server import kb
from server.errors import ChatError, Code
from server.store.base import DB

if TYPE_CHECKING:
    from server.store.base import Base


class HelpCentres:
    """``ArticleStore``'s help-centre addresses (a part of ``Articles``)."""

    _store: Base

    async def help_slug(self, site_id: str) -> str | None:
        rows = await self._store._all("SELECT slug FROM help_centres WHERE site_id = ?", (site_id,))
        return str(rows[0][0]) if rows else None

    async def site_for_slug(self, slug: str) -> str | None:
        """The site whose help centre is at ``/help/<slug>`` (its own slug, or its id)."""
        rows = await self._store._all("SELECT site_id FROM help_centres WHERE slug = ? UNION ALL "
                               "SELECT id FROM sites WHERE id = ?", (slug, slug))
        return str(rows[0][0]) if rows else None

    async def set_help_slug(self, site_id: str, slug: str) -> str:
        chosen = kb.slugify(slug)
        if chosen != slug.strip().lower():
            raise ValueError("a help centre's address is lowercase letters, digits and dashes")

        def op(db: DB) -> str:
            if db.execute("SELECT 1 FROM sites WHERE id = ?", (site_id,)).fetchone() is None:
                raise ChatError(Code.NOT_FOUND, "no such site")
            taken = db.execute("SELECT site_id FROM help_centres WHERE slug = ?",
                               (chosen,)).fetchone()
            if taken is not None and taken[0] != site_id:
                raise ValueError(f"/help/{chosen} is another site's")
            db.execute("INSERT INTO help_centres(site_id, slug) VALUES (?, ?) "
                       "ON CONFLICT (site_id) DO UPDATE SET slug = excluded.slug",
                       (site_id, chosen))
            return chosen

        result: str = await self._store._submit(op)
        return result
