"""What happened after the send, as state keeps it (schema version 3).

- `raw_events`: every callback as received (bytes, content type, time), one row per
  `dedup_key` (a repeated callback is one row). Written by `octoplan receive` in small
  transactions that never touch `meta`: a callback does not change what apply would send, so
  it does not bump `serial` (a saved plan stays valid) and, on PostgreSQL, never waits for an
  apply's transaction.
- `events`: what each callback said (delivery report, STOP, reply), linked to the request and
  campaign it concerns, or unmatched with the reason.
- `deliveries`: each recipient's deciding delivery status per campaign (a final status beats an
  interim one, then the later report wins), so `status` is one GROUP BY.
- `opt_outs`: numbers that replied STOP, with the date of their first STOP.

Recording interpretations is one transaction; it bumps `serial` only when it changes what a
plan would do: a new opt-out, or a request settled as accepted by a delivery report.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class RawEvent:
    """A callback as received, before anything is read from it."""

    dedup_key: str
    received_at: datetime
    content_type: str
    body: bytes
    problem: str | None = None  # known at the door (e.g. oversized)


@dataclass(frozen=True, slots=True)
class StoredRawEvent:
    id: int
    received_at: datetime
    content_type: str
    body: bytes
    problem: str | None


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One interpreted fact, as stored (`octoplan.events.Fact` plus what it matched)."""

    raw_id: int
    kind: str
    channel: str | None
    recipient_key: str | None
    status: str | None
    message_id: str | None
    occurred_at: datetime | None
    request_id: str | None  # None: unmatched
    campaign_id: str | None
    problem: str | None
    final: bool = False  # a final delivery status (for `deliveries`)


@dataclass(frozen=True, slots=True)
class SentBatch:
    """What matching needs of a batch (all of them are read at once: one small row each)."""

    request_id: str
    campaign_id: str
    channel: str
    status: str
    first_sent_at: datetime | None
    send_at: str | None
    seq: int


@dataclass(frozen=True, slots=True)
class Recorded:
    events: int
    opted_out: int  # numbers opted out for the first time
    settled: tuple[str, ...]  # request_ids settled as accepted by a delivery report


@dataclass(frozen=True, slots=True)
class CampaignEvents:
    """Counts for `octoplan status`, per campaign."""

    deliveries: dict[str, int]  # deciding status -> recipients
    stops: int  # distinct recipients
    replies: int


@dataclass(frozen=True, slots=True)
class RecipientDelivery:
    campaign_id: str
    request_id: str
    status: str
    final: bool
    occurred_at: datetime


class EventReader(ABC):
    """The events part of a state, read only: what planning and reporting may see."""

    @abstractmethod
    def pending_raw(self, limit: int) -> list[StoredRawEvent]:
        """Stored callbacks not interpreted yet, oldest first."""

    @abstractmethod
    def sent_batches(self) -> list[SentBatch]: ...

    @abstractmethod
    def batch_members_since(self, seq: int) -> list[tuple[int, str, list[str]]]:
        """(seq, request_id, recipient keys) of every batch journaled after `seq`."""

    @abstractmethod
    def opted_out(self) -> dict[str, datetime]:
        """Numbers that replied STOP -> the date of their first STOP."""

    @abstractmethod
    def campaign_events(self) -> dict[str, CampaignEvents]: ...

    @abstractmethod
    def unmatched_events(self) -> dict[str, int]:
        """Events linked to no request, by kind (delivery, stop, reply, unknown, ...)."""

    @abstractmethod
    def recipient_deliveries(self, recipient_key: str) -> list[RecipientDelivery]: ...

    @abstractmethod
    def recipient_events(self, recipient_key: str) -> list[EventRecord]: ...

    @abstractmethod
    def batches_of_recipient(self, recipient_key: str) -> list[str]:
        """The request_ids of every batch that lists the recipient, in journal order."""


class EventLog(EventReader, ABC):
    """The events part of a state (see the module docstring): reading, and storing
    callbacks and what they mean."""

    @abstractmethod
    def append_raw(self, events: Sequence[RawEvent]) -> None:
        """Store callbacks as received, in one transaction; the ones already stored (same
        dedup_key) are skipped: a repeated callback is one event."""

    @abstractmethod
    def record_events(
        self,
        raw_ids: Sequence[int],
        events: Sequence[EventRecord],
        settle: Sequence[str],
        now: datetime,
        actor: str,
    ) -> Recorded:
        """One transaction: store `events`, update deliveries and opt-outs, settle the
        intent/in-doubt requests `settle` as accepted (audited), mark `raw_ids` interpreted."""
