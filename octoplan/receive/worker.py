"""Interpreting stored callbacks: raw events -> facts -> matched events, recorded in state.

`Interpreter.run_once` takes the oldest raw events not interpreted yet, reads them
(`octoplan.events`), matches each fact to its request (`matcher`) and records the lot in one
transaction that also marks them interpreted. A crash between two rounds loses nothing: what
was not marked is read again on the next start. A delivery report matched to an unconfirmed or
in-doubt request settles it as accepted (audited as `accepted-by-report`).

`Worker` runs rounds in a background thread of the receive server; `ingest_all` runs them to
the end in the calling thread (the embedded sandbox's reports, read by `status --sandbox`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime

from octoplan import clock
from octoplan.events import Fact, Kind, interpret
from octoplan.receive.matcher import Matcher
from octoplan.state.base import StateStore
from octoplan.state.eventlog import EventRecord, Recorded, StoredRawEvent

log = logging.getLogger("octoplan.receive")

ROUND = 256  # raw events per transaction: short transactions, so callbacks never wait long
ACTOR = "octoplan receive"
_LINKED = (Kind.DELIVERY, Kind.STOP, Kind.REPLY)


class Interpreter:
    def __init__(
        self,
        store: StateStore,
        region: str,
        *,
        actor: str = ACTOR,
        write_lock: Callable[[], AbstractContextManager[object]] = nullcontext,
        now: Callable[[], datetime] = clock.now,
    ) -> None:
        self.store = store
        self.region = region
        self.actor = actor
        self.matcher = Matcher(store)
        self._write_lock = write_lock
        self._now = now

    def run_once(self, limit: int = ROUND) -> int:
        """Interpret up to `limit` stored callbacks; how many there were."""
        raws = self.store.pending_raw(limit)
        if not raws:
            return 0
        self.matcher.refresh()
        records: list[EventRecord] = []
        settle: list[str] = []
        for raw in raws:
            for fact in self._facts(raw):
                records.append(self._record(raw.id, fact, settle))
        with self._write_lock():
            recorded = self.store.record_events(
                [raw.id for raw in raws], records, settle, self._now(), self.actor
            )
        self._log(recorded)
        return len(raws)

    def _facts(self, raw: StoredRawEvent) -> list[Fact]:
        if raw.problem:
            return [Fact(Kind.OVERSIZED, problem=raw.problem)]
        try:
            return interpret(raw.content_type, raw.body, raw.received_at, self.region)
        except Exception as exc:  # a bug must not stop every later callback
            log.exception("callback %s could not be interpreted", raw.id)
            problem = f"could not be interpreted ({type(exc).__name__})"
            return [Fact(Kind.MALFORMED, problem=problem)]

    def _record(self, raw_id: int, fact: Fact, settle: list[str]) -> EventRecord:
        batch = None
        if fact.kind in _LINKED and fact.problem is None:
            batch = self.matcher.match(fact)
        problem = fact.problem
        if batch is None and problem is None and fact.kind in _LINKED:
            problem = "no request to this recipient on this channel before its date"
        if batch is not None and fact.kind is Kind.DELIVERY and Matcher.unconfirmed(batch):
            settle.append(batch.request_id)
            self.matcher.settled(batch.request_id)
        return EventRecord(
            raw_id=raw_id,
            kind=fact.kind.value,
            channel=fact.channel,
            recipient_key=fact.recipient,
            status=fact.status,
            message_id=fact.message_id,
            occurred_at=fact.occurred_at,
            request_id=None if batch is None else batch.request_id,
            campaign_id=None if batch is None else batch.campaign_id,
            problem=problem,
            final=fact.final,
        )

    def _log(self, recorded: Recorded) -> None:
        if recorded.opted_out:
            log.info("%d number(s) opted out by STOP reply", recorded.opted_out)
        for request_id in recorded.settled:
            log.info("request %s settled as accepted by a delivery report", request_id)


def ingest_all(interpreter: Interpreter) -> int:
    """Interpret every stored callback now; how many there were."""
    total = 0
    while True:
        done = interpreter.run_once()
        if not done:
            return total
        total += done


class Worker:
    """Rounds of `Interpreter.run_once` in a thread, woken when callbacks were stored."""

    def __init__(
        self,
        open_store: Callable[[], StateStore],
        region: str,
        *,
        write_lock: Callable[[], AbstractContextManager[object]] = nullcontext,
        idle: float = 0.5,
        gather: float = 0.05,
    ) -> None:
        self._open_store = open_store
        self._region = region
        self._write_lock = write_lock
        self._idle = idle
        self._gather = gather
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="octoplan-interpret", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        store: StateStore | None = None
        while not self._stop.is_set():
            try:
                if store is None:
                    store = self._open_store()
                    interpreter = Interpreter(store, self._region, write_lock=self._write_lock)
                done = interpreter.run_once()
            except Exception:
                # State unreachable for a while (PostgreSQL restarting...): callbacks are
                # still stored by ingest; try again, from a fresh connection.
                log.exception("interpreting callbacks failed; retrying in 1 s")
                if store is not None:
                    _close(store)
                    store = None
                self._stop.wait(1.0)
                continue
            if done < ROUND:
                # Caught up: wait for callbacks, then a little more so that a burst is read
                # in a few large rounds (one commit each) rather than many small ones.
                if self._wake.wait(self._idle):
                    self._stop.wait(self._gather)
                self._wake.clear()
        if store is not None:
            _close(store)


def _close(store: StateStore) -> None:
    try:
        store.close()
    except Exception:
        log.exception("closing the state failed")
