"""The group-commit writer both engines share (``server.store.sqlite``, ``server.store.postgres``).

A write is queued (``_submit``) to one writer task per process. The task takes whatever is
queued (no fixed timer, at most ``max_batch``), hands the whole batch to the engine's
``_run_in_writer`` — one transaction, a refused op undoing only itself, one commit — and only then
resolves the callers' futures: an ack always follows a commit, and a burst of writes costs one
commit. What differs between the databases is only how a batch is run (``_run_in_writer``) and
what makes a failure the store's trouble rather than the write's (``_unavailable_reason``).

A write refused because of where the store is (a full disk, a lock, an unreachable server, a
full queue, the store closing) raises ``Unavailable``; the episode is logged when it starts and
when it ends (``server.health.Episode``). ``write_health`` tells whether a write commits within
a bound, for ``/health``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from server.errors import Unavailable
from server.health import Episode, Health
from server.store.base import DB, RETRY_AFTER_MS, Op, StoreClosed, T

log = logging.getLogger("livechat.store")
Outcomes = list[tuple[bool, Any]]
#: A queued write: the op, its caller's future, whether it is quick (``_submit``), and when it
#: was queued (``time.monotonic()``: what it may still wait for a lock is counted from then).
Queued = tuple[Op, "asyncio.Future[Any]", bool, float]


class GroupWriter:
    """Part of each engine: the queue, the writer task, its health and its episodes. The engine
    calls ``_init_writer`` in its ``__init__``, starts ``_write_loop`` as ``_task`` when it opens,
    and implements ``_run_in_writer`` and ``_unavailable_reason``."""

    #: What a write that waits too long is blamed on, when no episode has said why.
    _slow_reason = "the database is slow"
    #: Whether the start of an episode's log line also shows the error itself.
    _refusal_shows_error = False
    #: Whether the writer lets the event loop run once between taking the first write and
    #: taking the rest: the callers that were ready queue theirs, and share the batch (for an
    #: engine whose batch runs on the loop itself, where nothing else queues meanwhile).
    _gather_first = False
    on_batch: Callable[[int, float], None] | None
    commit_hooks: list[Callable[[], None]]

    def _init_writer(self, *, max_batch: int, max_queue: int,
                     monotonic: Callable[[], float]) -> None:
        self._max_batch = max_batch
        self._max_queue = max_queue
        self._monotonic = monotonic
        #: The current outage of writes, if any (logged when it starts and when it ends; a
        #: full disk flickers, so it ends after a second of commits: server/health.py).
        self.trouble = Episode(monotonic, settle=1.0)
        self._overload = Episode(monotonic)
        self._queue: asyncio.Queue[Queued] = asyncio.Queue()
        #: Writes taken from the queue that the last batch left for the next (``_run_in_writer``
        #: may run a prefix of a batch only): they go before anything queued since.
        self._carried: list[Queued] = []
        #: The batch being written now: refused too when the writer is stopped mid-batch.
        self._inflight: list[Queued] = []
        self._task: asyncio.Task[None] | None = None
        self._failure: BaseException | None = None
        #: When the running batch was handed to the writer (None: the writer is idle).
        self._batch_since: float | None = None
        #: When the oldest write of the running batch was queued (``time.monotonic()``): a write
        #: queued behind another that waited for a lock waits only for what is left of its own
        #: bound (server/store/sqlite.py), not for a whole one more.
        self._batch_queued_at: float | None = None
        self._last_commit: float | None = None
        self._probe: asyncio.Future[None] | None = None

    async def _run_in_writer(self, ops: list[Op], quick: int) -> Outcomes:
        """Run ``ops`` in one transaction: ``(True, result)`` or ``(False, exception)`` each; an
        exception out of this means the transaction as a whole failed and nothing committed.
        The first ``quick`` ops were submitted as quick. The outcomes may be of a prefix of
        ``ops`` only (committed): the rest are run next, before anything queued since."""
        raise NotImplementedError

    def _unavailable_reason(self, exc: BaseException) -> str | None:
        """Why ``exc`` means the store cannot write now, or None when it is about the write."""
        raise NotImplementedError

    def _waiting_reason(self) -> str:
        """What the running batch is waiting for, when no episode has said why."""
        return self._slow_reason

    @property
    def healthy(self) -> bool:
        return self._task is not None and not self._task.done() and self._failure is None

    async def _stop_writer(self) -> None:
        """Stop the writer task; every write still queued is refused with ``StoreClosed``."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        # A batch stopped mid-write may have committed (the thread finishes what it began):
        # its callers are told StoreClosed and resend with the same ids, which is harmless.
        queued, self._carried, self._inflight = [*self._inflight, *self._carried], [], []
        while not self._queue.empty():
            queued.append(self._queue.get_nowait())
        for _, fut, _, _ in queued:
            if not fut.done():
                fut.set_exception(StoreClosed("store closed"))

    async def write_health(self, bound: float) -> Health:
        """Whether a write commits within ``bound`` seconds. A commit within the bound, with
        nothing waiting since, proves it; otherwise a probe write (an empty transaction, shared
        by concurrent callers) is queued like any other write and awaited for at most
        ``bound``. While an outage lasts (``trouble``: until a second of commits with no
        refusal among them), a commit proves nothing: down."""
        if not self.healthy:
            return Health(False, "the store is closed" if self._failure is None
                          else "the store's writer died", None)
        now = self._monotonic()
        if self._batch_since is not None and now - self._batch_since >= bound:
            # (Down for as long as the outage has lasted: writes refused before this one
            # waited too.)
            return Health(False, f"a write has been waiting {now - self._batch_since:.1f} s: "
                          f"{self.trouble.reason or self._waiting_reason()}",
                          max(now - self._batch_since, self.trouble.lasted()))
        if self._last_commit is not None and now - self._last_commit < bound \
                and self._batch_since is None and self.trouble.last_reason is None:
            return Health(True)  # committed within the bound, and nothing is waiting now
        if self._probe is None or self._probe.done():
            self._probe = asyncio.ensure_future(self._submit(lambda db: None, quick=True))
            # Its outcome is read here or, when it outlives the bound, dropped.
            self._probe.add_done_callback(lambda f: f.cancelled() or f.exception())
        try:
            async with asyncio.timeout(bound):
                await asyncio.shield(self._probe)
        except TimeoutError:
            return Health(False, f"no write committed within {bound:g} s: "
                          f"{self.trouble.reason or self._waiting_reason()}",
                          self.trouble.down_for() or bound)
        except Unavailable as exc:
            return Health(False, exc.reason, self.trouble.down_for())
        except Exception as exc:
            return Health(False, f"the probe write failed ({type(exc).__name__})", None)
        if (reason := self.trouble.last_reason) is not None:
            # The probe (an empty transaction) committed, but writes were refused within the
            # last second: on a nearly full disk small writes get through between refusals,
            # and this said ok for most of such an outage (tests/test_faults.py, full disk).
            return Health(False, reason, self.trouble.lasted())
        return Health(True)

    async def _submit(self, op: Callable[[DB], T], quick: bool = False) -> T:
        """Run ``op`` in the next write transaction; its result once that has committed.
        ``quick``: the op is one of the message path's few short statements, never a bulk write
        (an engine may run quick ops on the event loop itself)."""
        if not self.healthy:
            raise StoreClosed("the store is not accepting writes") from self._failure
        if self._queue.qsize() >= self._max_queue:
            if self._overload.fail("overloaded"):
                log.error("writes refused: %d are already waiting; clients are told to retry",
                          self._max_queue)
            raise Unavailable("the store is overloaded", RETRY_AFTER_MS)
        fut: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((op, fut, quick, time.monotonic()))
        return await fut

    def _outage_edge(self) -> None:
        """Called when writes start being refused, and when they commit again (an engine with
        a pool of readers checks it then: server/store/postgres.py)."""

    def _refused(self, reason: str, count: int, exc: BaseException) -> None:
        # (Not committing since the refused batch began: it may have waited for a lock.)
        if self.trouble.fail(reason, count, since=self._batch_since):
            self._outage_edge()
            if self._refusal_shows_error:
                log.error("writes refused: %s (%s); clients are told to retry "
                          "(error 'unavailable') until it recovers", reason, exc)
            else:
                log.error("writes refused: %s; clients are told to retry (error 'unavailable') "
                          "until it recovers", reason)

    def _committed(self) -> None:
        self._last_commit = self._monotonic()
        ended = self.trouble.recover()
        if ended is not None:
            self._outage_edge()
            log.warning("writes commit again, after %.1f s of %s (%d writes refused)",
                        ended.lasted, ended.reason, ended.refused)
        if self._overload.down and self._queue.qsize() < self._max_queue // 2:
            overloaded = self._overload.recover()
            if overloaded is not None:
                log.warning("writes accepted again after %.1f s of overload", overloaded.lasted)

    async def _write_loop(self) -> None:
        try:
            while True:
                batch, self._carried = self._carried or [await self._queue.get()], []
                self._inflight = batch  # the same list, as it grows
                if self._gather_first:
                    await asyncio.sleep(0)
                while len(batch) < self._max_batch and not self._queue.empty():
                    batch.append(self._queue.get_nowait())
                quick = next((i for i, (_, _, q, _) in enumerate(batch) if not q), len(batch))
                started = self._batch_since = self._monotonic()
                self._batch_queued_at = min(at for _, _, _, at in batch)
                try:
                    outcomes = await self._run_in_writer([op for op, _, _, _ in batch], quick)
                    self._carried, batch = batch[len(outcomes):], batch[:len(outcomes)]
                except Exception as exc:  # the transaction as a whole failed: nothing committed
                    reason = self._unavailable_reason(exc)
                    if reason is None:
                        log.error("write transaction failed: %s", type(exc).__name__)
                        outcomes = [(False, exc)] * len(batch)
                    else:
                        self._refused(reason, len(batch), exc)
                        outcomes = [(False, Unavailable(reason, RETRY_AFTER_MS))] * len(batch)
                else:
                    self._committed()
                    for hook in self.commit_hooks:
                        hook()
                    if self.on_batch is not None:
                        self.on_batch(len(batch), self._monotonic() - started)
                finally:
                    self._batch_since = self._batch_queued_at = None
                for (_, fut, _, _), (ok, value) in zip(batch, outcomes, strict=True):
                    if fut.done():
                        continue
                    if ok:
                        fut.set_result(value)
                    else:
                        fut.set_exception(value)
                self._inflight = []
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            self._failure = exc
            log.critical("store writer died", exc_info=exc)
            raise
