"""A plan: what apply will do, as frozen data (built by octoplan/planner.py).

For each campaign the planner sorts every desired message into one of:

- already sent (state: accepted): never planned again, whatever its text is now;
- pending (state: intent, inside the API's 24 h request_id window): its journaled request is
  resent as-is, same request_id, so the API deduplicates it if it did arrive;
- in doubt (state: intent past the window, or in_doubt): never resent; `state resolve` decides;
- to send: new batches of up to `batch_size` recipients sharing one request text
  (octoplan/batches.py).

The plan carries full request bodies in memory (apply needs them); its JSON form masks every
recipient and holds no body, and `apply FILE` rebuilds the plan from the inputs and refuses
unless it gets the same request_ids against the same state serial.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cached_property
from typing import Any, Protocol

from octoplan import ids
from octoplan.errors import Diagnostic, count_of
from octoplan.messages import Messages
from octoplan.partition import Partition
from octoplan.rollout import RolloutSpec, RolloutView
from octoplan.sentdiff import TextChange
from octoplan.state.base import BatchStatus, RecipientState, StateInfo
from octoplan.target import Destination

FORMAT_VERSION = "1"
Where = tuple[str, int | None, int | None]

# The API forgets a request_id after 24 h; we stop trusting a resend an hour before that.
REQUEST_ID_WINDOW = timedelta(hours=23)


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    NOOP = "no-op"
    CANCEL = "cancel"
    BLOCKED = "blocked"


SYMBOLS = {
    Action.CREATE: "+",
    Action.UPDATE: "~",
    Action.NOOP: " ",
    Action.CANCEL: "-",
    Action.BLOCKED: "!",
}


@dataclass(frozen=True)
class CampaignSpec:
    """Everything the planner needs from one campaign, independent of the file format."""

    id: str
    file: str
    channel: str
    endpoint: str
    send_at: datetime | None
    batch_size: int
    make_body: Callable[[str, list[Mapping[str, str]]], dict[str, Any]]  # (text, recipients)
    request_id_in_metadata: bool  # multi-channel/send: metadata.request_id; else top level
    recipient_fields: tuple[str, ...]  # the recipient fields the API gets
    messages: Messages
    duplicates: int = 0
    excluded: int = 0
    warnings: Sequence[Diagnostic] = ()
    errors: Sequence[Diagnostic] = ()
    # What state held of the campaign when its messages were built and compared with it
    # (`messages.sent`); None: they were built before the state was read, and the planner
    # reads and compares it.
    state: RecipientState | None = None
    purpose: str = "wholesale"
    enabled: bool = True  # false: cancel what is scheduled, send nothing new
    # Where a key of the campaign was written (`CampaignSource.where`), for policy errors.
    locate: Callable[..., Where] | None = None
    regions: frozenset[str | None] = frozenset()  # destination regions of its messages
    # The options digest the campaign's content hashes would have had with another send_at
    # (None: no send_at): tells a moved send_at from a changed text.
    options_at: Callable[[str | None], bytes] | None = None
    renamed_from: tuple[str, ...] = ()  # earlier ids: their batches are this one's history
    allow_repeat: bool = False  # exempt from the 30-day guard (octoplan.repeats)
    id_at: Where | None = None  # where its `id` is, for errors about it
    # Its stages, when the campaign has `rollout:` (octoplan/rollout.py).
    rollout: RolloutSpec | None = None

    def where(self, *keys: str | int) -> Where:
        return self.locate(*keys) if self.locate is not None else (self.file, None, None)

    @property
    def marketing(self) -> bool:
        return self.purpose == "wholesale"

    @property
    def history(self) -> tuple[str, ...]:
        """The ids its batches in state are recorded under."""
        return (self.id, *self.renamed_from)


class BatchKind(StrEnum):
    NEW = "new"
    RESUME = "resume"  # journaled, unconfirmed, inside the window: resent unchanged
    CANCEL = "cancel"
    SKIP = "skip"  # recipients over the frequency cap: journaled as skipped, never sent


SENDS = (BatchKind.NEW, BatchKind.RESUME)


@dataclass(frozen=True)
class PlannedBatch:
    kind: BatchKind
    request_id: str
    endpoint: str
    recipients: tuple[str, ...]  # recipient keys (clear: never written to plan files)
    # -> (the exact request body as JSON (for cancel: ticket and channel), each recipient's
    # content hash): built when apply needs them, so a plan of a million recipients holds no
    # bodies.
    contents: Callable[[], tuple[str, tuple[str, ...]]]
    text: str  # the request text (for display)
    segments: int  # largest number of parts of one message in the batch
    parts: int  # SMS parts of all messages of the batch
    estimated_cost: float
    ticket: str | None = None
    send_at: str | None = None
    # A resume: when an earlier attempt first left (the start of the API's 24 h window).
    # Set, an earlier attempt may have reached the API; None, none of them did.
    first_sent_at: datetime | None = None
    # A new request: the scheduled requests it replaces (cancelled by this plan). A cancel:
    # why ("replaced", "disabled", "file removed").
    replaces: tuple[str, ...] = ()
    reason: str = ""
    options: str | None = None  # the key of its content hashes, hex (new batches only)
    stage: str | None = None  # the rollout stage it is sent in ("seed", "5%")

    @property
    def sends(self) -> bool:
        return self.kind in SENDS

    @cached_property
    def _contents(self) -> tuple[str, tuple[str, ...]]:
        return self.contents()

    @property
    def payload(self) -> str:
        """The body as canonical JSON, as journaled and as sent: the very same text."""
        return self._contents[0]

    @property
    def content_hashes(self) -> tuple[str, ...]:
        return self._contents[1]

    @cached_property
    def body(self) -> Mapping[str, Any]:
        value: Mapping[str, Any] = json.loads(self.payload)
        return value


@dataclass(frozen=True)
class InDoubt:
    request_id: str
    recipients: int
    first_sent_at: datetime | None
    status: BatchStatus


@dataclass(frozen=True)
class CampaignPlan:
    id: str
    file: str | None
    channel: str
    action: Action
    batches: tuple[PlannedBatch, ...]
    in_doubt: tuple[InDoubt, ...]
    desired: int
    already_sent: int
    pending: int
    changed_after_send: int
    duplicates: int
    excluded: int
    warnings: tuple[Diagnostic, ...]
    errors: tuple[Diagnostic, ...]
    # (recipient key, final text), a few for previews. Texts, notes and diagnostics have the
    # numbers and e-mails a template or a contact put in them masked: whatever shows a plan
    # (text, JSON, a saved plan, a PR comment) shows no personal data.
    samples: tuple[tuple[str, str], ...]
    notes: tuple[str, ...] = ()
    # Recipients left out because they replied STOP (octoplan/optouts.py), with its date.
    opted_out: tuple[tuple[str, datetime], ...] = ()
    purpose: str = "wholesale"
    send_at: str | None = None  # the campaign's send_at, as its new requests carry it
    # Of `already_sent`: recipients of requests the API accepted for a send_at still ahead.
    scheduled: int = 0
    # A recipient sent an older text, with that text and today's (see octoplan/sentdiff.py).
    text_change: TextChange | None = None
    # Its rollout: the stage this plan sends in and why the next one waits (None: no rollout).
    rollout: RolloutView | None = None

    @property
    def new_batches(self) -> tuple[PlannedBatch, ...]:
        return tuple(b for b in self.batches if b.kind is BatchKind.NEW)

    @property
    def sends(self) -> tuple[PlannedBatch, ...]:
        """The requests that go to the API (new and resumed), not cancels or skips."""
        return tuple(b for b in self.batches if b.sends)

    @property
    def messages_to_send(self) -> int:
        return sum(len(b.recipients) for b in self.batches if b.sends)

    @property
    def estimated_cost(self) -> float:
        return sum(b.estimated_cost for b in self.batches if b.sends)

    @property
    def capped(self) -> tuple[str, ...]:
        """Recipients this plan skips for the frequency cap."""
        return tuple(k for b in self.batches if b.kind is BatchKind.SKIP for k in b.recipients)

    @property
    def marketing(self) -> bool:
        return self.purpose == "wholesale"

    @property
    def has_changes(self) -> bool:
        return bool(self.batches) or any(d.status is BatchStatus.INTENT for d in self.in_doubt)


@dataclass(frozen=True)
class Summary:
    campaigns: int
    messages_to_send: int
    requests: int
    already_sent: int
    pending: int
    in_doubt: int
    cancels: int
    capped: int
    sms_parts: int
    scheduled: int
    estimated_cost: float
    errors: int
    warnings: int


@dataclass(frozen=True)
class Plan:
    created_at: datetime
    state: StateInfo
    campaigns: tuple[CampaignPlan, ...]
    currency: str = "EUR"
    scope: tuple[str, ...] = ()  # campaign ids asked for; empty = the whole project
    digest: str = field(default="")
    # What no single campaign is at fault for (policies.max_cost, the account's credit).
    errors: tuple[Diagnostic, ...] = ()
    warnings: tuple[Diagnostic, ...] = ()
    # Each policy's verdict, for a reviewer (plan --format markdown puts them first).
    policies: tuple[PolicyResult, ...] = ()
    # Where its messages go: the environment and its API (its state is `state`).
    destination: Destination = field(default_factory=Destination)
    shard: Share | None = None  # `--shard I/N`: the part of the recipients planned

    @property
    def partition(self) -> Partition | None:
        return None if self.shard is None else self.shard.partition

    @property
    def sandbox(self) -> bool:
        return self.destination.sandbox

    @property
    def summary(self) -> Summary:
        batches = [b for c in self.campaigns for b in c.batches]
        sends = [b for b in batches if b.sends]
        return Summary(
            campaigns=len(self.campaigns),
            messages_to_send=sum(len(b.recipients) for b in sends),
            requests=len(sends),
            already_sent=sum(c.already_sent for c in self.campaigns),
            pending=sum(c.pending for c in self.campaigns),
            in_doubt=sum(d.recipients for c in self.campaigns for d in c.in_doubt),
            cancels=sum(1 for b in batches if b.kind is BatchKind.CANCEL),
            capped=sum(len(b.recipients) for b in batches if b.kind is BatchKind.SKIP),
            sms_parts=sum(b.parts for b in sends),
            scheduled=sum(c.scheduled for c in self.campaigns),
            estimated_cost=round(sum(b.estimated_cost for b in sends), 6),
            errors=sum(count_of(c.errors) for c in self.campaigns) + count_of(self.errors),
            warnings=sum(len(c.warnings) for c in self.campaigns) + len(self.warnings),
        )

    @property
    def has_changes(self) -> bool:
        return any(c.has_changes for c in self.campaigns)

    @property
    def blocked(self) -> bool:
        return bool(self.errors) or any(c.action is Action.BLOCKED for c in self.campaigns)


@dataclass(frozen=True)
class PolicyResult:
    """One line of the policy table: a rule, what it was checked on, and how it came out."""

    rule: str  # "marketing hours", "max_cost", "credit", "frequency cap"...
    subject: str  # a campaign id, or "plan"
    status: str  # "ok", "error", "warning", "not checked"
    detail: str


@dataclass(frozen=True)
class Share:
    """A sharded plan's part: its partition, its recipients and all of them (for the header
    "shard 2/4: 250,123 of 1,000,000 recipients")."""

    partition: Partition
    recipients: int
    of: int


def compute_digest(
    campaigns: Sequence[CampaignPlan],
    errors: Sequence[Diagnostic] = (),
    partition: Partition | None = None,
) -> str:
    """A fingerprint of what apply would do: same digest, same requests."""
    h = hashlib.sha256()
    if partition is not None:  # only when sharded: the digests of other plans stay as they were
        h.update(f"shard {partition.label}\n".encode())
    if errors:
        h.update(ids.canonical_json([d.format() for d in errors]).encode())
    for c in campaigns:
        h.update(
            ids.canonical_json(
                [
                    c.id,
                    c.action.value,
                    [[b.kind.value, b.request_id, b.ticket] for b in c.batches],
                    [[d.request_id, d.status.value] for d in c.in_doubt],
                    [d.format() for d in c.errors],
                    # Only with a rollout (the digests of other plans stay as they were).
                    *([[c.rollout.label, c.rollout.starts]] if c.rollout is not None else []),
                ]
            ).encode()
        )
    return h.hexdigest()


def in_window(first_sent_at: datetime | None, now: datetime) -> bool:
    """May a request whose first attempt left at `first_sent_at` be resent now under the same
    request_id? (Never left: any time.) Planning asks it, and apply again as it leaves."""
    return first_sent_at is None or now - first_sent_at < REQUEST_ID_WINDOW


class PlanPolicies(Protocol):
    """The compliance and spend rules the planner applies (octoplan/compliance.py)."""

    def cap(
        self, spec: CampaignSpec, to_send: Sequence[int], now: datetime
    ) -> tuple[Sequence[int], list[int]]:
        """(to send, over the frequency cap) of the recipients to send."""

    def check(
        self, spec: CampaignSpec, batches: Sequence[PlannedBatch], now: datetime
    ) -> list[Diagnostic]:
        """Errors of one campaign's planned sends (hours, send_at, its cost)."""

    def record(self, campaign: CampaignPlan, now: datetime) -> None:
        """A campaign's planned sends, counted for the campaigns planned after it."""

    def finish(
        self, campaigns: Sequence[CampaignPlan], now: datetime
    ) -> tuple[list[Diagnostic], list[PolicyResult]]:
        """Errors of the whole plan (policies.max_cost), and each policy's verdict."""
