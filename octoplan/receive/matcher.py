"""Which request a callback concerns: the latest one to that number on that channel before it.

A report names the recipient's number and a per-message id, never our request_id or the
ticket (FACTS.md). So a report dated D for number N on channel C belongs to the request to N
on C that went out last at or before D: its `send_at` if it was scheduled, else the first time
it left (`first_sent_at`). Requests that may have been accepted are candidates: accepted ones,
and unconfirmed or in-doubt ones that did leave (a report for one of those proves it was
accepted). Refused, cancelled and not-sent requests never are.

STOPs and replies carry no channel that matters: they belong to the latest request to that
number on any channel using the number (sms, voice_sms, rcs).

Limits: a report whose date is more than `CLOCK_TOLERANCE` earlier than our record of the
send is unmatched (the API's clock and ours differ by seconds, and its dates have no
fraction); two requests to one number on one channel within the tolerance cannot be told
apart (the later one is chosen).

The index of recipients is built from state once, then grows with the batches journaled since
(`seq` only grows); the batches' small rows (status, times) are read again on every refresh.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from octoplan.events import PHONE_CHANNELS, Fact, Kind
from octoplan.state.base import StateStore
from octoplan.state.eventlog import SentBatch

CLOCK_TOLERANCE = timedelta(seconds=60)
_CANDIDATES = frozenset({"accepted", "intent", "in_doubt"})
_UNCONFIRMED = frozenset({"intent", "in_doubt"})


def goes_out(batch: SentBatch) -> datetime | None:
    """When the request's messages left: its send_at if scheduled, else its first attempt."""
    if batch.first_sent_at is None:
        return None  # journaled but never sent: it cannot have been delivered
    if batch.send_at:
        # The journal holds only send_at values it parsed when recording (state/sql.py,
        # `due_of`), as plan.py relies on too.
        return max(batch.first_sent_at, datetime.fromisoformat(batch.send_at))
    return batch.first_sent_at


class Matcher:
    def __init__(self, store: StateStore) -> None:
        self._store = store
        self._seq = 0
        # recipient key -> request_id, or the list of them when there are several: most
        # recipients are in one request, and a million lists would double the memory.
        self._members: dict[str, str | list[str]] = {}
        self._batches: dict[str, SentBatch] = {}
        self._serial = -1

    def refresh(self) -> None:
        """Catch up with the journal, if it moved (its serial) since the last look."""
        serial = self._store.info().serial
        if serial == self._serial:
            return
        self._serial = serial
        members = self._members
        for seq, request_id, keys in self._store.batch_members_since(self._seq):
            for key in keys:
                known = members.get(key)
                if known is None:
                    members[key] = request_id
                elif isinstance(known, str):
                    members[key] = [known, request_id]
                else:
                    known.append(request_id)
            self._seq = max(self._seq, seq)
        self._batches = {batch.request_id: batch for batch in self._store.sent_batches()}

    def match(self, fact: Fact) -> SentBatch | None:
        if fact.recipient is None or fact.occurred_at is None:
            return None
        known = self._members.get(fact.recipient)
        if known is None:
            return None
        request_ids = [known] if isinstance(known, str) else known
        if fact.kind is Kind.DELIVERY:
            channels: tuple[str | None, ...] = (fact.channel,)
        else:
            channels = PHONE_CHANNELS
        latest = fact.occurred_at + CLOCK_TOLERANCE
        best: SentBatch | None = None
        best_at: datetime | None = None
        for request_id in request_ids:
            batch = self._batches.get(request_id)
            if batch is None or batch.status not in _CANDIDATES or batch.channel not in channels:
                continue
            at = goes_out(batch)
            if at is None or at > latest:
                continue
            if best is None or best_at is None or (at, batch.seq) > (best_at, best.seq):
                best, best_at = batch, at
        return best

    @staticmethod
    def unconfirmed(batch: SentBatch) -> bool:
        return batch.status in _UNCONFIRMED

    def settled(self, request_id: str) -> None:
        """The request is now accepted (settled by a report)."""
        batch = self._batches.get(request_id)
        if batch is not None:
            self._batches[request_id] = replace(batch, status="accepted")
