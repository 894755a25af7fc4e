"""Desired sends minus recorded state -> a frozen Plan.

For each campaign the builder sorts every desired message into one of:

- already sent (state: accepted): never planned again, whatever its text is now;
- pending (state: intent, inside the API's 24 h request_id window): its journaled request is
  resent as-is, same request_id, so the API deduplicates it if it did arrive;
- in doubt (state: intent past the window, or in_doubt): never resent; `state resolve` decides;
- to send: new batches of up to `batch_size` recipients sharing one request text.

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
from typing import Any, NamedTuple

from octoplan import ids
from octoplan.errors import Diagnostic
from octoplan.state.base import BatchRecord, BatchStatus, StateInfo, StateStore

FORMAT_VERSION = "1"

# The API forgets a request_id after 24 h; we stop trusting a resend an hour before that.
REQUEST_ID_WINDOW = timedelta(hours=23)
# Octopush cancels a scheduled send only while it is more than ~10 minutes away.
CANCEL_MARGIN = timedelta(minutes=10)


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


class Message(NamedTuple):
    """One desired message: who gets what."""

    key: str  # recipient identity in state
    fields: Mapping[str, str]  # the recipient object sent to the API
    text: str  # exactly what the recipient will see
    request_text: str  # the text put in the request (may hold {first_name}-style slots)
    segments: int
    cost: float


@dataclass(frozen=True)
class CampaignSpec:
    """Everything the planner needs from one campaign, independent of the file format."""

    id: str
    file: str
    channel: str
    endpoint: str
    send_at: datetime | None
    batch_size: int
    options: Mapping[str, Any]  # channel options that make a send different (sender, ...)
    make_body: Callable[[str, list[Mapping[str, str]]], dict[str, Any]]  # (text, recipients)
    request_id_in_metadata: bool  # multi-channel/send: metadata.request_id; else top level
    messages: Sequence[Message]
    duplicates: int = 0
    excluded: int = 0
    warnings: Sequence[Diagnostic] = ()
    errors: Sequence[Diagnostic] = ()


class BatchKind(StrEnum):
    NEW = "new"
    RESUME = "resume"  # journaled, unconfirmed, inside the window: resent unchanged
    CANCEL = "cancel"


@dataclass(frozen=True)
class PlannedBatch:
    kind: BatchKind
    request_id: str
    endpoint: str
    recipients: tuple[str, ...]  # recipient keys (clear: never written to plan files)
    content_hashes: tuple[str, ...]
    body: Mapping[str, Any]  # the exact request body (for cancel: ticket and channel)
    text: str  # the request text (for display)
    segments: int  # largest number of parts of one message in the batch
    parts: int  # SMS parts of all messages of the batch
    estimated_cost: float
    ticket: str | None = None


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
    samples: tuple[tuple[str, str], ...]  # (recipient key, final text), a few for previews
    notes: tuple[str, ...] = ()

    @property
    def new_batches(self) -> tuple[PlannedBatch, ...]:
        return tuple(b for b in self.batches if b.kind is BatchKind.NEW)

    @property
    def messages_to_send(self) -> int:
        return sum(len(b.recipients) for b in self.batches if b.kind is not BatchKind.CANCEL)

    @property
    def estimated_cost(self) -> float:
        return sum(b.estimated_cost for b in self.batches if b.kind is not BatchKind.CANCEL)

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
    sms_parts: int
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

    @property
    def summary(self) -> Summary:
        batches = [b for c in self.campaigns for b in c.batches]
        sends = [b for b in batches if b.kind is not BatchKind.CANCEL]
        return Summary(
            campaigns=len(self.campaigns),
            messages_to_send=sum(len(b.recipients) for b in sends),
            requests=len(sends),
            already_sent=sum(c.already_sent for c in self.campaigns),
            pending=sum(c.pending for c in self.campaigns),
            in_doubt=sum(d.recipients for c in self.campaigns for d in c.in_doubt),
            cancels=len(batches) - len(sends),
            sms_parts=sum(b.parts for b in sends),
            estimated_cost=round(sum(b.estimated_cost for b in sends), 6),
            errors=sum(len(c.errors) for c in self.campaigns),
            warnings=sum(len(c.warnings) for c in self.campaigns),
        )

    @property
    def has_changes(self) -> bool:
        return any(c.has_changes for c in self.campaigns)

    @property
    def blocked(self) -> bool:
        return any(c.action is Action.BLOCKED for c in self.campaigns)


def compute_digest(campaigns: Sequence[CampaignPlan]) -> str:
    """A fingerprint of what apply would do: same digest, same requests."""
    h = hashlib.sha256()
    for c in campaigns:
        h.update(
            ids.canonical_json(
                [
                    c.id,
                    c.action.value,
                    [[b.kind.value, b.request_id, b.ticket] for b in c.batches],
                    [[d.request_id, d.status.value] for d in c.in_doubt],
                    [d.format() for d in c.errors],
                ]
            ).encode()
        )
    return h.hexdigest()


def _in_window(batch: BatchRecord, now: datetime) -> bool:
    # A request that never left (no first_sent_at) can be sent any time.
    return batch.first_sent_at is None or now - batch.first_sent_at < REQUEST_ID_WINDOW


def _resume_batch(record: BatchRecord, hashes: Sequence[tuple[str, str]]) -> PlannedBatch:
    body = json.loads(record.payload)
    return PlannedBatch(
        kind=BatchKind.RESUME,
        request_id=record.request_id,
        endpoint=record.endpoint,
        recipients=tuple(k for k, _ in hashes),
        content_hashes=tuple(h for _, h in hashes),
        body=body,
        text=str(body.get("text", "")),
        segments=0,
        parts=0,
        estimated_cost=record.estimated_cost,
    )


def _cancel_batch(record: BatchRecord, recipients: Sequence[tuple[str, str]]) -> PlannedBatch:
    body: dict[str, Any] = {"ticket_number": record.ticket}
    if record.endpoint == "multi-channel/send":
        body["channel"] = record.channel
    return PlannedBatch(
        kind=BatchKind.CANCEL,
        request_id=record.request_id,
        endpoint=record.endpoint,
        recipients=tuple(k for k, _ in recipients),
        content_hashes=tuple(h for _, h in recipients),
        body=body,
        text="",
        segments=0,
        parts=0,
        estimated_cost=0.0,
        ticket=record.ticket,
    )


def _scheduled_and_cancellable(record: BatchRecord, now: datetime) -> bool | None:
    """None: not scheduled (or already gone out); True/False: can we still cancel it?"""
    if record.status is not BatchStatus.ACCEPTED or not record.send_at or not record.ticket:
        return None
    send_at = datetime.fromisoformat(record.send_at)
    if send_at <= now:
        return None
    return send_at - now > CANCEL_MARGIN


def plan_campaign(spec: CampaignSpec, store: StateStore, now: datetime) -> CampaignPlan:
    options = ids.options_digest(spec.options)
    records = store.recipients(spec.id)
    desired_keys = {m.key for m in spec.messages}

    # Journaled batches decide first: resumes, doubts and cancellations.
    batches: list[PlannedBatch] = []
    in_doubt: list[InDoubt] = []
    notes: list[str] = []
    released: set[str] = set()  # recipients of batches cancelled by this plan: sendable again
    for record in store.batches(spec.id, [BatchStatus.INTENT, BatchStatus.IN_DOUBT]):
        if record.status is BatchStatus.INTENT and _in_window(record, now):
            batches.append(_resume_batch(record, store.batch_recipients(record.request_id)))
        else:
            in_doubt.append(
                InDoubt(
                    record.request_id, record.recipients_count, record.first_sent_at, record.status
                )
            )
    for record in store.batches(spec.id, [BatchStatus.ACCEPTED]):
        cancellable = _scheduled_and_cancellable(record, now)
        if cancellable is None:
            continue
        members = store.batch_recipients(record.request_id)
        removed = [k for k, _ in members if k not in desired_keys]
        if not removed:
            continue
        if cancellable:
            batches.append(_cancel_batch(record, members))
            released.update(k for k, _ in members)
            notes.append(
                f"{len(removed)} recipient(s) removed from scheduled request "
                f"{record.request_id}: it is cancelled and its other recipients re-planned"
            )
        else:
            notes.append(
                f"{len(removed)} recipient(s) removed from request {record.request_id}, "
                "scheduled too soon to cancel (less than 10 minutes): they will receive it"
            )

    already_sent = pending = changed = 0
    to_send: list[tuple[Message, str]] = []
    earlier_by_key: dict[str, str] = {}
    for message in spec.messages:
        hashed = ids.content_hash(options, message.text)
        known = records.get(message.key)
        if known is not None and message.key not in released:
            if known.status is BatchStatus.ACCEPTED:
                already_sent += 1
                if known.content_hash != hashed:
                    changed += 1
                continue
            if known.status in (BatchStatus.INTENT, BatchStatus.IN_DOUBT):
                pending += 1
                continue
        if known is not None:
            # refused, not sent or cancelled: send again, under a fresh request_id
            earlier_by_key[message.key] = known.request_id
        to_send.append((message, hashed))

    batches.extend(_new_batches(spec, to_send, earlier_by_key))
    if changed:
        notes.append(
            f"the text changed for {changed} recipient(s) who already received the old one: "
            "they are not sent again; only recipients not yet sent get the new text"
        )
    if spec.duplicates:
        notes.append(f"{spec.duplicates} duplicate recipient(s) collapsed: each is sent once")
    if spec.excluded:
        notes.append(f"{spec.excluded} recipient(s) removed by exclude lists")

    action = _action(spec, records, batches, in_doubt)
    if action is Action.BLOCKED:
        batches = []
    return CampaignPlan(
        id=spec.id,
        file=spec.file,
        channel=spec.channel,
        action=action,
        batches=tuple(batches),
        in_doubt=tuple(in_doubt),
        desired=len(spec.messages),
        already_sent=already_sent,
        pending=pending,
        changed_after_send=changed,
        duplicates=spec.duplicates,
        excluded=spec.excluded,
        warnings=tuple(spec.warnings),
        errors=tuple(spec.errors),
        samples=tuple((m.key, m.text) for m, _ in to_send[:3])
        or tuple((m.key, m.text) for m in spec.messages[:3]),
        notes=tuple(notes),
    )


def _action(
    spec: CampaignSpec,
    records: Mapping[str, Any],
    batches: Sequence[PlannedBatch],
    in_doubt: Sequence[InDoubt],
) -> Action:
    if spec.errors:
        return Action.BLOCKED
    if not batches:
        return Action.NOOP
    if all(b.kind is BatchKind.CANCEL for b in batches):
        return Action.CANCEL
    return Action.UPDATE if records or in_doubt else Action.CREATE


def _new_batches(
    spec: CampaignSpec, to_send: Sequence[tuple[Message, str]], earlier_by_key: Mapping[str, str]
) -> list[PlannedBatch]:
    # One request carries one text: group by request text, in recipient order, then chunk.
    groups: dict[str, list[tuple[Message, str]]] = {}
    for item in sorted(to_send, key=lambda pair: pair[0].key):
        groups.setdefault(item[0].request_text, []).append(item)
    batches: list[PlannedBatch] = []
    for request_text, items in groups.items():
        for start in range(0, len(items), spec.batch_size):
            chunk = items[start : start + spec.batch_size]
            body = spec.make_body(request_text, [m.fields for m, _ in chunk])
            earlier = [earlier_by_key[m.key] for m, _ in chunk if m.key in earlier_by_key]
            rid = ids.request_id(spec.id, spec.endpoint, body, earlier)
            if spec.request_id_in_metadata:
                body["metadata"] = {**body.get("metadata", {}), "request_id": rid}
            else:
                body["request_id"] = rid
            batches.append(
                PlannedBatch(
                    kind=BatchKind.NEW,
                    request_id=rid,
                    endpoint=spec.endpoint,
                    recipients=tuple(m.key for m, _ in chunk),
                    content_hashes=tuple(h for _, h in chunk),
                    body=body,
                    text=request_text,
                    segments=max(m.segments for m, _ in chunk),
                    # Only SMS are billed by the part; other channels' segments mean nothing.
                    parts=sum(m.segments for m, _ in chunk) if spec.channel == "sms" else 0,
                    estimated_cost=round(sum(m.cost for m, _ in chunk), 6),
                )
            )
    return batches


def plan_removed_campaign(
    campaign_id: str, store: StateStore, now: datetime
) -> CampaignPlan | None:
    """A campaign in state with no file any more: cancel what is still scheduled."""
    batches: list[PlannedBatch] = []
    notes: list[str] = []
    for record in store.batches(campaign_id, [BatchStatus.ACCEPTED]):
        cancellable = _scheduled_and_cancellable(record, now)
        if cancellable:
            batches.append(_cancel_batch(record, store.batch_recipients(record.request_id)))
        elif cancellable is False:
            notes.append(
                f"request {record.request_id} is scheduled too soon to cancel "
                "(less than 10 minutes)"
            )
    if not batches and not notes:
        return None
    return CampaignPlan(
        id=campaign_id,
        file=None,
        channel=store.batches(campaign_id)[0].channel,
        action=Action.CANCEL if batches else Action.NOOP,
        batches=tuple(batches),
        in_doubt=(),
        desired=0,
        already_sent=0,
        pending=0,
        changed_after_send=0,
        duplicates=0,
        excluded=0,
        warnings=(),
        errors=(),
        samples=(),
        notes=("campaign file removed: its scheduled sends are cancelled", *notes),
    )


def build_plan(
    specs: Sequence[CampaignSpec],
    store: StateStore,
    now: datetime,
    *,
    scope: Sequence[str] = (),
    whole_project: bool = True,
    currency: str = "EUR",
) -> Plan:
    campaigns = [plan_campaign(spec, store, now) for spec in specs]
    if whole_project:
        # Only a plan over the whole project may conclude that a campaign was removed.
        known = {spec.id for spec in specs}
        for summary in store.campaigns():
            if summary.campaign_id not in known:
                removed = plan_removed_campaign(summary.campaign_id, store, now)
                if removed is not None:
                    campaigns.append(removed)
    return Plan(
        created_at=now,
        state=store.info(),
        campaigns=tuple(campaigns),
        currency=currency,
        scope=tuple(scope),
        digest=compute_digest(campaigns),
    )
