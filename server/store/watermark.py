"""The store's high-water mark, kept beside the database in ``<db>.hwm``.

Each process bumps ``generation`` in the database's ``meta`` table (when it committed anything
since its last bump) and then writes ``{"epoch", "generation"}`` here, every second and at
close. A database opened with the same epoch but a smaller generation than this file records
went backwards — an older copy put back by hand — and ``SQLiteStore.open`` says so and gives it
a new epoch, so that clients do not keep content at sequence numbers that are about to be
reused. (``livechat restore`` does the same on purpose.) The file also keeps the epochs it
held before (``retired``): a database opened with one of those is a copy from before a restore
(or before an earlier copy was detected), put back by hand, and is treated the same.
It is a best effort: a copy put back together with its ``.hwm`` file cannot be told apart.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Mark:
    epoch: str
    generation: int
    #: The epochs this file held before, newest last (at most ``RETIRED_KEPT``).
    retired: tuple[str, ...] = ()


RETIRED_KEPT = 32


def path_for(db_path: str | Path) -> Path:
    return Path(f"{db_path}.hwm")


def read(db_path: str | Path) -> Mark | None:
    try:
        data = json.loads(path_for(db_path).read_text())
        return Mark(str(data["epoch"]), int(data["generation"]),
                    tuple(str(e) for e in data.get("retired", ())))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


_calls = itertools.count()


def write(db_path: str | Path, mark: Mark) -> None:
    """Record ``mark`` unless the file already holds a higher generation of the same epoch
    (several processes write it); a new epoch retires the one the file held. Atomic: a crash
    leaves the old file or the new one."""
    old = read(db_path)
    if old is not None and old.epoch == mark.epoch and old.generation >= mark.generation:
        return
    retired = list(old.retired if old is not None else ()) + list(mark.retired)
    if old is not None and old.epoch != mark.epoch:
        retired.append(old.epoch)
    retired = list(dict.fromkeys(e for e in retired if e != mark.epoch))[-RETIRED_KEPT:]
    target = path_for(db_path)
    # (Unique per call: two stores of one process, on two threads, may write one mark.)
    tmp = target.with_name(f"{target.name}.{os.getpid()}.{next(_calls)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump({"epoch": mark.epoch, "generation": mark.generation,
                       "retired": retired}, f)
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
