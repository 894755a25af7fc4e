"""The state contract shared by the SQLite and PostgreSQL backends.

State is a write-ahead journal of requests ("batches"). A batch is committed as an *intent*
(request_id, exact payload, recipients) before its request leaves; its *outcome* is committed
after. Every write is one transaction (or part of one `grouped` transaction) and bumps
`serial`, so a saved plan can tell whether state moved since it was made. `lineage` is a random
id fixed when the state is created: a plan made against one state is never applied to another.

Schema version 2 keeps a batch's status in a small `batches` row and what never changes (its
recipients, their content hashes, the body) in `batch_bodies`, written once: a recipient's
status is its batch's, so 500 recipients are one row to write and to read, not 500. Version 3
adds what happened after the send (raw callbacks, events, deliveries, opt-outs: the `EventLog`
part, octoplan/state/eventlog.py). Version 4 adds each batch's `purpose` (the frequency cap
counts marketing sends across campaigns), `due_at` (when its messages go out: send_at, else
when it was journaled) and `cost_estimated` (its cost is octoplan's estimate: the API's answer
was lost, or the request was confirmed by "request_id already used", or resolved by hand).
Version 5 adds the key its content hashes were made with (`options`), so that another
campaign's plan can tell whether it would send a recipient the very same text
(octoplan.repeats). Version 6 adds the rollout `stage` a batch was sent in (octoplan/rollout.py).

Batch status transitions::

    intent ──> accepted          2xx, or "request_id already used" (code 120)
       │──> refused           4xx refusal, recipients were not sent
       │──> in_doubt          unconfirmed past the API's 24 h request_id window
    in_doubt ──> accepted | not_sent      only by `octoplan state resolve`
    accepted ──> cancelled    a scheduled send cancelled through the API
    intent ──> skipped        recipients over the frequency cap: no request, never sent
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import NamedTuple

from octoplan.errors import StateError
from octoplan.partition import Partition
from octoplan.state.eventlog import EventLog, EventReader

SCHEMA_VERSION = 6


class BatchStatus(StrEnum):
    INTENT = "intent"
    ACCEPTED = "accepted"
    REFUSED = "refused"
    IN_DOUBT = "in_doubt"
    NOT_SENT = "not_sent"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"  # over the frequency cap when the campaign was applied: never sent


# For one recipient with several batches, the record that decides whether it is "sent":
# the first status in this order wins.
STATUS_PRECEDENCE: tuple[BatchStatus, ...] = (
    BatchStatus.ACCEPTED,
    BatchStatus.INTENT,
    BatchStatus.IN_DOUBT,
    BatchStatus.SKIPPED,
    BatchStatus.REFUSED,
    BatchStatus.CANCELLED,
    BatchStatus.NOT_SENT,
)


@dataclass(frozen=True, slots=True)
class BatchIntent:
    """What is about to be sent; committed before the request leaves."""

    request_id: str
    campaign_id: str
    channel: str
    endpoint: str  # API path, e.g. "sms-campaign/send"
    payload: str  # the JSON body exactly as sent (recipients included, never credentials)
    recipients: Sequence[str]  # recipient keys
    content_hashes: Sequence[str]  # what each recipient gets, in the same order
    send_at: str | None
    estimated_cost: float
    purpose: str = "wholesale"  # what the API reads (omitted: wholesale, marketing)
    # The campaign's options digest, hex (ids.options_digest): the key of its content hashes.
    options: str | None = None
    stage: str | None = None  # the rollout stage it belongs to ("seed", "5%"; None: no rollout)


@dataclass(frozen=True, slots=True)
class BatchRecord:
    request_id: str
    campaign_id: str
    channel: str
    endpoint: str
    status: BatchStatus
    recipients_count: int
    created_at: datetime  # intent committed (UTC)
    updated_at: datetime
    first_sent_at: datetime | None  # first time the request left (start of the 24 h window)
    attempts: int
    send_at: str | None
    estimated_cost: float
    ticket: str | None
    cost: float | None
    error_code: int | None
    error_message: str | None
    purpose: str = "wholesale"
    cost_estimated: bool = False  # `cost` is the estimate: the API's answer was not had
    stage: str | None = None  # the rollout stage it was sent in (None: no rollout)


class RecipientRecord(NamedTuple):
    """The deciding record of one recipient in one campaign (see STATUS_PRECEDENCE)."""

    recipient_key: str
    content_hash: str
    request_id: str
    status: BatchStatus


class RecipientState(NamedTuple):
    """A campaign's recipients by deciding status (see STATUS_PRECEDENCE)."""

    sent: dict[str, str]  # recipient_key -> content_hash, for those accepted
    others: dict[str, tuple[str, str, str]]  # the rest: -> (content_hash, request_id, status)


class RecentBatch(NamedTuple):
    """A request whose recipients got its text, or may have, lately (`recent_batches`)."""

    request_id: str
    campaign_id: str
    endpoint: str
    status: BatchStatus
    at: datetime  # when its recipients got it: its send_at if scheduled, else when it left


class SentContents(NamedTuple):
    """What a request's recipients got (`sent_contents`)."""

    keys: list[str]
    content_hashes: list[str]  # in the order of keys
    options: str | None  # the key of the content hashes; None: journaled before schema 3


@dataclass(frozen=True, slots=True)
class StageReports:
    """The recipients of one rollout stage's accepted batches, and their reports."""

    sent: int
    deliveries: dict[str, int]  # deciding delivery status -> recipients
    final: int  # recipients whose deciding report is final (delivered or not)
    stops: int  # distinct recipients who replied STOP to a request of the stage


@dataclass(frozen=True, slots=True)
class StateInfo:
    lineage: str
    serial: int
    schema_version: int
    url: str  # where the state is, with any password removed


@dataclass(frozen=True, slots=True)
class CampaignSummary:
    campaign_id: str
    batches: int
    recipients_sent: int  # accepted
    recipients_pending: int  # intent or in_doubt
    recipients_refused: int
    cost: float
    last_activity: datetime | None


@dataclass(frozen=True, slots=True)
class LockInfo:
    holder: str  # e.g. "octoplan apply by alice"
    host: str
    pid: int
    acquired_at: datetime


@dataclass(frozen=True, slots=True)
class AuditEntry:
    at: datetime
    action: str  # "unlock", "resolve", ...
    detail: str


def describe_lock(info: LockInfo) -> str:
    """Who holds a lock, for messages and the audit log."""
    return (
        f"{info.holder} (pid {info.pid} on {info.host}, "
        f"since {info.acquired_at:%Y-%m-%d %H:%M:%S} UTC)"
    )


class LockHeld(StateError):
    def __init__(
        self,
        info: LockInfo | None,
        waited: float,
        why: str = "",
        advice: str = "Wait for it to finish, or run `octoplan state unlock` if it is gone.",
    ) -> None:
        self.info = info
        holder = "another process" if info is None else describe_lock(info)
        super().__init__(f"state is locked by {holder}{why}; waited {waited:g}s. {advice}")


class LockFileReplaced(LockHeld):
    """SQLite: the lock file was deleted or replaced while its holder still runs on this host,
    so the OS lock alone would have let a second apply in."""

    def __init__(self, info: LockInfo, waited: float, lock_path: Path) -> None:
        super().__init__(
            info,
            waited,
            why=f", which is still running though its lock file {lock_path} was deleted or "
            "replaced",
            advice="Let it finish (never delete files in the state's directory while an apply "
            "runs), then run again.",
        )


class StorageFault(StateError):
    """The state's storage failed under a command that had opened it (disk full, read-only,
    files deleted, I/O error). What was committed before is kept: the message never advises
    moving the state away, which would forget what was sent."""

    def __init__(self, where: str, what: str) -> None:
        super().__init__(
            f"{where}: {what}. Everything recorded before is kept in it: do not move it away or "
            "delete it (a new state would not know what was sent, and would send it again). "
            "Fix the cause (free disk space, make it writable), then run the command again"
        )


class StateReader(EventReader, ABC):
    """What planning, explaining and reporting may do with a state: read it. The planner
    is handed one of these (mypy then refuses a write there); only apply, the receiver and
    the `state` commands hold a `StateStore`."""

    @abstractmethod
    def info(self) -> StateInfo: ...

    @abstractmethod
    def recipients(self, campaign_id: str) -> dict[str, RecipientRecord]:
        """recipient_key -> deciding record, for every recipient ever batched in the campaign."""

    @abstractmethod
    def campaign_ids(self) -> list[str]:
        """Every campaign with a batch in state (without `campaigns()`'s counting)."""

    @abstractmethod
    def recipient_state(self, campaign_id: str, *renamed_from: str) -> RecipientState:
        """`recipients` in the planner's terms, as plain strings and tuples: half a million of
        them are read in a fraction of the time. `renamed_from`: earlier ids of the campaign,
        whose batches are its history too (each recipient's deciding record across all)."""

    @abstractmethod
    def batches(
        self,
        campaign_id: str | tuple[str, ...] | None = None,
        statuses: Sequence[BatchStatus] | None = None,
        *,
        scheduled: bool = False,
    ) -> list[BatchRecord]:
        """Batches in journal order, of one campaign (or of several ids: a campaign and its
        earlier ids) or of all; `scheduled`: only those with a send_at and a ticket (the ones
        a plan may cancel), without reading every sent body."""

    @abstractmethod
    def recent_batches(self, since: datetime) -> list[RecentBatch]:
        """Every campaign's batches whose recipients got their text at `since` or later, or
        may have: accepted, in doubt, or unconfirmed after an attempt. No recipients read."""

    @abstractmethod
    def sent_contents(self, request_ids: Sequence[str]) -> dict[str, SentContents]:
        """The recipients, content hashes and hash key of these batches."""

    @abstractmethod
    def batch(self, request_id: str) -> BatchRecord | None: ...

    @abstractmethod
    def payload(self, request_id: str) -> str:
        """The body of one request exactly as journaled (and sent)."""

    @abstractmethod
    def batch_recipients(self, request_id: str) -> list[tuple[str, str]]:
        """(recipient_key, content_hash) of one batch."""

    @abstractmethod
    def campaigns(self) -> list[CampaignSummary]: ...

    @abstractmethod
    def marketing_sends(self, since: datetime) -> list[tuple[datetime, list[str]]]:
        """(when it goes out, recipient keys) of every marketing batch, any campaign, that was
        or may have been sent (accepted, intent, in doubt) and goes out at `since` or later:
        the frequency cap's ledger (octoplan/frequency.py)."""

    @abstractmethod
    def audit_log(self) -> list[AuditEntry]: ...

    @abstractmethod
    def stage_reports(self, campaign_ids: Sequence[str], stage: str) -> StageReports:
        """What the delivery reports say of the recipients of the campaign's accepted batches
        sent in rollout stage `stage` (its gate, octoplan/rollout.py)."""

    @abstractmethod
    def lock_info(self) -> LockInfo | None: ...

    def lock_holders(self) -> list[LockInfo]:
        """Every live holder of the apply lock: several sharded applies (`--shard I/N`, on
        PostgreSQL) hold it at once."""
        info = self.lock_info()
        return [] if info is None else [info]

    @abstractmethod
    def close(self) -> None: ...


class StateStore(StateReader, EventLog, ABC):
    """One state (a SQLite file or a PostgreSQL database). Not shared between threads.

    What happened after the send (callbacks, opt-outs) is its `EventLog` part."""

    # -- writing: each call is one transaction and bumps serial ----------------------------
    @abstractmethod
    def grouped(self) -> AbstractContextManager[None]:
        """The writes made inside share one transaction, committed at the end (one commit,
        one fsync, for apply's outcome of one request and intent of the next); should one
        fail, none of them is kept."""

    @abstractmethod
    def record_test(self, now: datetime, actor: str, detail: str) -> None:
        """A `send-test`, in the audit log (masked `detail`): never a send to a recipient."""

    @abstractmethod
    def record_intent(self, intent: BatchIntent, now: datetime, *, attempt: bool = False) -> None:
        """Commit the intent. Raises StateError if request_id exists with another payload.
        `attempt`: the request leaves right after, so `mark_attempt` is done in the same
        transaction (one commit instead of two)."""

    @abstractmethod
    def mark_attempt(self, request_id: str, now: datetime) -> None:
        """The request is leaving now: attempts += 1, first_sent_at set if unset."""

    @abstractmethod
    def withdraw_attempt(self, request_id: str, now: datetime) -> None:
        """Undo the attempt counted by `record_intent(attempt=True)` or `mark_attempt` for a
        request that did not leave after all (apply journals one request ahead)."""

    @abstractmethod
    def record_outcome(
        self,
        request_id: str,
        status: BatchStatus,
        now: datetime,
        *,
        ticket: str | None = None,
        cost: float | None = None,
        error_code: int | None = None,
        error_message: str | None = None,
        cost_estimated: bool = False,
    ) -> None:
        """`cost`: what the API answered; `cost_estimated`: it is octoplan's estimate
        instead (the answer was lost: "request_id already used")."""

    @abstractmethod
    def resolve(self, request_id: str, sent: bool, now: datetime, actor: str) -> None:
        """Settle an intent/in_doubt batch by hand; audited."""

    @abstractmethod
    def resolve_cancelled(self, request_id: str, now: datetime, actor: str) -> None:
        """Settle by hand a scheduled batch the API cancelled without state recording it (the
        apply that cancelled it could not write); audited. Its recipients are then sent again,
        as after any cancel."""

    @abstractmethod
    def move_campaign(
        self, old: str, new: str, now: datetime, actor: str, *, merge: bool = False
    ) -> int:
        """Give campaign `old`'s batches to `new` (`state mv`); audited. Refused if `new` has
        batches of its own, unless `merge`. Returns how many batches moved."""

    @abstractmethod
    def forget_campaign(
        self,
        campaign_id: str,
        now: datetime,
        actor: str,
        *,
        force: bool = False,
        dry_run: bool = False,
    ) -> CampaignSummary:
        """Delete a campaign's batches (`state rm`); audited. Refused while one of them is
        unconfirmed, in doubt or scheduled to go out later, unless `force`. Returns what was
        forgotten; `dry_run`: what would be, refused alike, and nothing is deleted."""

    # -- locking ---------------------------------------------------------------------------
    @abstractmethod
    def acquire_lock(self, holder: str, timeout: float, partition: Partition | None = None) -> None:
        """Wait up to timeout seconds; take over a lock whose process is dead (SQLite);
        raise LockHeld naming the holder. `partition`: the lock of a sharded apply (`--shard
        I/N`): on PostgreSQL, shards of one N run at once; SQLite takes the whole lock."""

    @abstractmethod
    def release_lock(self) -> None: ...

    @abstractmethod
    def unlock(self, actor: str, force: bool = False) -> LockInfo | None:
        """Remove a lock left behind; audited. Returns what was removed."""

    def unlock_all(self, actor: str, force: bool = False) -> list[LockInfo]:
        """`unlock` of every lock left behind (sharded applies leave one each)."""
        removed = self.unlock(actor, force)
        return [] if removed is None else [removed]

    @contextmanager
    def locked(
        self, holder: str, timeout: float, partition: Partition | None = None
    ) -> Iterator[None]:
        self.acquire_lock(holder, timeout, partition)
        try:
            yield
        finally:
            self.release_lock()
