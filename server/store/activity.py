"""Lists of conversations by latest activity (``updated_at``), newest first, without an index
that every message moves.

Since schema step 30 only resolved conversations are indexed by ``updated_at``
(``conversations_resolved_updated``): they take no messages, so the index is written when a
conversation is resolved, not at every message. Open conversations (waiting or assigned) are
found by ``conversations_open`` (site, created_at: a partial index of the open ones only, so that
a database's statistics see few rows behind it), whose key no message changes, and sorted when a
list asks. A list of every status is the two arms in
one statement (one snapshot), each in order and cut at the page's size, merged by the outer
``ORDER BY``. Before step 30 two indexes keyed by ``updated_at`` were 41 % of the pages a
message's commit wrote (docs/benchmarks.md, issue 11)."""

from collections.abc import Sequence
from typing import Any

from server.store.base import CONV_COLS, CONV_FROM

#: An open conversation (waiting or assigned), word for word the condition of
#: ``conversations_open``: a partial index is used only for a query that says so itself.
OPEN = "c.status != 'resolved'"
#: Word for word the condition of ``conversations_resolved_updated``.
RESOLVED = "c.status = 'resolved'"
_ORDER = "ORDER BY c.updated_at DESC, c.id DESC LIMIT ?"


def newest_first(where: Sequence[str], params: Sequence[Any], status: str | None,
                 limit: int) -> tuple[str, tuple[Any, ...]]:
    """The statement and its parameters for ``CONV_COLS`` of the conversations (``c``, with
    ``CONV_FROM``'s joins) that meet every condition of ``where``, of one status or of any,
    newest activity first, at most ``limit``.

    The page is chosen by id and ``updated_at`` alone, then its rows are read: the open arm
    sorts every open conversation that qualifies, and reading all their columns first (names,
    tags, team) cost 2 ms for 2,000 of them."""
    conditions = " AND ".join(where)

    def arm(status_sql: str, *extra: Any) -> tuple[str, tuple[Any, ...]]:
        return (f"SELECT c.id, c.updated_at FROM {CONV_FROM} WHERE {conditions} "
                f"AND {status_sql} {_ORDER}", (*params, *extra, limit))

    if status == "resolved":
        page, page_params = arm(RESOLVED)
    elif status is not None:
        page, page_params = arm(f"{OPEN} AND c.status = ?", status)
    else:
        (open_sql, open_params), (resolved_sql, resolved_params) = arm(OPEN), arm(RESOLVED)
        # (Both databases sort a UNION ALL by the result's positions: updated_at, then id.)
        page = (f"SELECT * FROM ({open_sql}) AS o UNION ALL SELECT * FROM ({resolved_sql}) "
                "AS r ORDER BY 2 DESC, 1 DESC LIMIT ?")
        page_params = (*open_params, *resolved_params, limit)
    return (f"SELECT {CONV_COLS} FROM ({page}) AS page, {CONV_FROM} WHERE c.id = page.id "
            "ORDER BY c.updated_at DESC, c.id DESC", page_params)
