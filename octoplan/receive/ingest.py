"""Storing raw callbacks durably before they are acknowledged: group commit.

A request handler calls `await ingest.store(event)`; it returns once the event is committed
(fsync'd: SQLite runs with synchronous=FULL, PostgreSQL commits synchronously), and only then
does the server answer 204. One thread owns the writing connection: it takes whatever is
queued (up to `MAX_BATCH`), inserts it in one transaction, commits, and wakes every waiting
handler. Alone, a callback is one small insert; under load, hundreds share one commit, which
is what lets a disk that does a few hundred fsyncs a second take thousands of callbacks.

A failed commit fails every handler of that batch (they answer 503 and Octopush may retry:
nothing was acknowledged). A handler that waited longer than `timeout` answers 503 too; its
event may still be committed after, and a retry is then one event again (dedup_key).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext

from octoplan.state.base import StateStore
from octoplan.state.eventlog import RawEvent

log = logging.getLogger("octoplan.receive")

MAX_BATCH = 1000
_Item = tuple[RawEvent, "asyncio.Future[None]", asyncio.AbstractEventLoop]


class NotStored(Exception):
    """The event could not be stored (in time): do not acknowledge it."""


class Ingest:
    def __init__(
        self,
        open_store: Callable[[], StateStore],
        *,
        on_commit: Callable[[], None] = lambda: None,
        write_lock: Callable[[], AbstractContextManager[object]] = nullcontext,
        timeout: float = 0.9,
    ) -> None:
        self._open_store = open_store
        self._on_commit = on_commit
        self._write_lock = write_lock
        self._timeout = timeout
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="octoplan-ingest", daemon=True)
        self._store: StateStore | None = None

    def start(self) -> None:
        self._thread.start()  # it opens its own connection: a state is used by one thread

    def stop(self, timeout: float = 10.0) -> None:
        """Commit what is queued, then close."""
        self._queue.put(None)
        self._thread.join(timeout)

    async def store(self, event: RawEvent) -> None:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._queue.put((event, future, loop))
        try:
            async with asyncio.timeout(self._timeout):  # no task per callback, unlike wait_for
                await future
        except TimeoutError:
            raise NotStored("not committed in time") from None

    # -- the writing thread -----------------------------------------------------------------
    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                break
            items = [first]
            while len(items) < MAX_BATCH:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                items.append(item)
            self._commit(items)
        if self._store is not None:
            try:
                self._store.close()
            except Exception:
                log.exception("closing the state failed")

    def _commit(self, items: list[_Item]) -> None:
        error: Exception | None = None
        try:
            if self._store is None:
                self._store = self._open_store()
            with self._write_lock():
                self._store.append_raw([event for event, _, _ in items])
        except Exception as exc:
            log.exception("storing %d callback(s) failed: they were not acknowledged", len(items))
            error = exc
            self._reopen()
        by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
        for _, future, loop in items:
            by_loop.setdefault(loop, []).append(future)
        for loop, futures in by_loop.items():
            # A closed loop: nobody waits any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_settle, futures, error)
        if error is None:
            self._on_commit()

    def _reopen(self) -> None:
        store, self._store = self._store, None
        if store is not None:
            try:
                store.close()
            except Exception:
                log.exception("closing the state failed")


def _settle(futures: list[asyncio.Future[None]], error: Exception | None) -> None:
    for future in futures:
        if future.done():  # its handler gave up waiting (timeout)
            continue
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(NotStored(str(error)))
