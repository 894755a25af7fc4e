"""The receiver's group commit (octoplan/receive/ingest.py), its guards (issue 22): a handler
that waits longer than its timeout is told "not committed in time" (the server answers 503),
and its event is still committed afterwards, once. A real SQLite state; the write lock is held
by the test, the way a concurrent apply holds it."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from octoplan.events import dedup_key
from octoplan.receive.ingest import Ingest, NotStored
from octoplan.state.eventlog import RawEvent
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
    store = open_state(".octoplan/state.db", tmp_path)
    try:
        pending = store.pending_raw(10)
    finally:
        store.close()
    assert [(raw.content_type, raw.body) for raw in pending] == [("application/json", BODY)]
