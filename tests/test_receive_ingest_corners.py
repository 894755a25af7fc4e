"""The receiver's group commit (octoplan/receive/ingest.py), its guards (issue 22): a handler
that waits longer than its timeout is told "not committed in time" (the server answers 503),
and its event is still committed afterwards, once. A real SQLite state; the write lock is held
by the test, the way a concurrent apply holds it."""

from __future__ import annotations

import asyncio
import shutil
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from octoplan.events import dedup_key
from octoplan.receive.ingest import Ingest, NotStored
from octoplan.state.eventlog import RawEvent, StoredRawEvent
from octoplan.state.open import open_state

BODY = b'{"type": "delivery", "status": "delivered"}'


def test_a_callback_not_committed_in_time_is_not_acknowledged(tmp_path: Path) -> None:
    held = threading.Lock()
    held.acquire()
    ingest = Ingest(
        lambda: open_state(".octoplan/state.db", tmp_path), write_lock=lambda: held, timeout=0.2
    )
    ingest.start()
    event = RawEvent(
        dedup_key("application/json", BODY),
        datetime(2026, 12, 3, 9, tzinfo=UTC),
        "application/json",
        BODY,
    )
    with pytest.raises(NotStored) as raised:
        asyncio.run(ingest.store(event))
    assert str(raised.value) == "not committed in time"
    held.release()
    ingest.stop()
    pending = _pending(tmp_path)
    assert [(raw.content_type, raw.body) for raw in pending] == [("application/json", BODY)]


async def _store_after(ingest: Ingest, delay: float, number: int) -> str:
    """Event `number` handed to `ingest` after `delay` seconds: "stored", or why not."""
    await asyncio.sleep(delay)
    try:
        await ingest.store(_event(number))
    except NotStored as exc:
        return str(exc)
    return "stored"


def _pending(root: Path, state: str = ".octoplan/state.db") -> list[StoredRawEvent]:
    """The events a state holds, not interpreted yet (read through a store of its own)."""
    store = open_state(state, root)
    try:
        return store.pending_raw(10)
    finally:
        store.close()


def _pending_in_main_file_alone(root: Path) -> list[StoredRawEvent]:
    """`_pending` of a copy of the state's main file without its -wal file (a backup)."""
    alone = root / "copy" / "state.db"
    alone.parent.mkdir()
    shutil.copyfile(root / ".octoplan" / "state.db", alone)
    return _pending(alone.parent, str(alone))


def _event(number: int) -> RawEvent:
    body = b'{"type": "delivery", "status": "delivered", "n": %d}' % number
    return RawEvent(
        dedup_key("application/json", body),
        datetime(2026, 12, 3, 9, tzinfo=UTC),
        "application/json",
        body,
    )


def test_a_handler_that_gave_up_does_not_keep_the_next_one_of_its_batch_waiting(
    tmp_path: Path,
) -> None:
    """While the writer waits for the lock with a first event, two more queue up and are
    committed together. The first of those two has given up waiting by then (503); the
    second, still waiting, is acknowledged: settling a batch skips a gone handler and goes
    on. All three events are committed, once."""
    held = threading.Lock()
    held.acquire()
    ingest = Ingest(
        lambda: open_state(".octoplan/state.db", tmp_path), write_lock=lambda: held, timeout=2.0
    )
    ingest.start()

    async def release_after(delay: float) -> None:
        await asyncio.sleep(delay)
        held.release()

    async def scenario() -> list[str]:
        # 0: the writer takes it and waits for the lock; 1 and 2 queue behind it. At 2.4 s
        # the lock is free: 0 (waited 2.4 s) and 1 (2.3 s) have given up, 2 (0.8 s) waits.
        results = asyncio.gather(
            _store_after(ingest, 0, 0), _store_after(ingest, 0.1, 1), _store_after(ingest, 1.6, 2)
        )
        _, stored = await asyncio.gather(release_after(2.4), results)
        return list(stored)

    assert asyncio.run(scenario()) == ["not committed in time", "not committed in time", "stored"]
    ingest.stop()
    pending = _pending(tmp_path)
    assert sorted(raw.body for raw in pending) == [
        b'{"type": "delivery", "status": "delivered", "n": %d}' % n for n in range(3)
    ]


def test_the_worker_is_woken_once_a_commit_is_done(tmp_path: Path) -> None:
    """on_commit (the receiver wakes its matching worker with it) follows each commit that
    went through: one event, one commit, one call."""
    commits: list[int] = []
    ingest = Ingest(
        lambda: open_state(".octoplan/state.db", tmp_path),
        on_commit=lambda: commits.append(len(commits)),
    )
    ingest.start()
    asyncio.run(ingest.store(_event(0)))
    ingest.stop()
    assert commits == [0]


def test_a_stop_in_the_middle_of_a_burst_commits_it_all_and_closes_the_state(
    tmp_path: Path,
) -> None:
    """The receiver stops (SIGTERM) while a burst waits behind a held write lock: its
    handlers gave up (503) and uvicorn has stopped, but their events are still queued, the
    stop's marker behind them. Once the lock is free, the writer commits the first event, then
    the rest with the marker in the same take, and ends there: the state closed, so the main
    file alone (a backup without the -wal file) holds all three events."""
    held = threading.Lock()
    held.acquire()
    ingest = Ingest(
        lambda: open_state(".octoplan/state.db", tmp_path), write_lock=lambda: held, timeout=0.3
    )
    ingest.start()

    async def burst() -> list[str]:
        # 0 first, alone: the writer takes it and waits for the lock; 1 and 2 queue behind.
        return list(
            await asyncio.gather(
                _store_after(ingest, 0, 0),
                _store_after(ingest, 0.1, 1),
                _store_after(ingest, 0.1, 2),
            )
        )

    assert asyncio.run(burst()) == ["not committed in time"] * 3
    releasing = threading.Timer(0.3, held.release)  # after stop() has queued its marker
    releasing.start()
    ingest.stop()
    releasing.join()
    pending = _pending_in_main_file_alone(tmp_path)
    assert sorted(raw.body for raw in pending) == [
        b'{"type": "delivery", "status": "delivered", "n": %d}' % n for n in range(3)
    ]


def test_a_stop_closes_the_state_whole_in_its_main_file(tmp_path: Path) -> None:
    """Stopped with nothing queued, the writer ends and closes its state: the main file alone
    (a backup without the -wal file) holds what was committed."""
    ingest = Ingest(lambda: open_state(".octoplan/state.db", tmp_path))
    ingest.start()
    asyncio.run(ingest.store(_event(0)))
    ingest.stop()
    pending = _pending_in_main_file_alone(tmp_path)
    assert [raw.body for raw in pending] == [_event(0).body]


def test_a_handler_waits_0_9_s_for_its_commit_by_default(tmp_path: Path) -> None:
    """docs/receive.md: a callback the state cannot store within 0.9 s is answered 503. The
    write lock is held until the handler has given up (after 0.9 s, not 1.9: the bound leaves
    a busy machine room without a fixed release time to race), and its event is committed
    once the lock is free."""
    held = threading.Lock()
    held.acquire()
    ingest = Ingest(lambda: open_state(".octoplan/state.db", tmp_path), write_lock=lambda: held)
    ingest.start()

    async def scenario() -> tuple[str, float]:
        started = time.monotonic()
        try:
            await ingest.store(_event(0))
        except NotStored as exc:
            return str(exc), time.monotonic() - started
        return "stored", time.monotonic() - started

    outcome, waited = asyncio.run(scenario())
    held.release()
    assert outcome == "not committed in time"
    assert 0.9 <= waited < 1.8, waited
    ingest.stop()
    pending = _pending(tmp_path)
    assert [raw.body for raw in pending] == [_event(0).body]
