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
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cached_property, partial
from itertools import compress
from typing import Any, Protocol

from octoplan import channels, ids, optouts, sentdiff
from octoplan.encode import encode_body
from octoplan.errors import Diagnostic, count_of
from octoplan.mask import mask_text, masked
from octoplan.messages import CHANGED, FIELD, SENT, Messages, gather, sent_flags
from octoplan.repeats import RecentSends, repeat_errors, repeats
from octoplan.rollout import RolloutSpec, RolloutView
from octoplan.sentdiff import TextChange
from octoplan.state.base import BatchRecord, BatchStatus, RecipientState, StateInfo, StateStore
from octoplan.target import Destination
from octoplan.words import plural

FORMAT_VERSION = "1"
Where = tuple[str, int | None, int | None]

# The API forgets a request_id after 24 h; we stop trusting a resend an hour before that.
REQUEST_ID_WINDOW = timedelta(hours=23)
_UNSETTLED = frozenset({BatchStatus.INTENT.value, BatchStatus.IN_DOUBT.value})
_SKIPPED = BatchStatus.SKIPPED.value
# Octopush cancels a scheduled send only while it is more than ~10 minutes away.
CANCEL_MARGIN = timedelta(minutes=10)
SAMPLES = 3  # sample messages kept per campaign


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


def compute_digest(campaigns: Sequence[CampaignPlan], errors: Sequence[Diagnostic] = ()) -> str:
    """A fingerprint of what apply would do: same digest, same requests."""
    h = hashlib.sha256()
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


def _fixed(payload: str, hashes: tuple[str, ...]) -> Callable[[], tuple[str, tuple[str, ...]]]:
    return lambda: (payload, hashes)


def _resume_batch(
    record: BatchRecord, payload: str, hashes: Sequence[tuple[str, str]]
) -> PlannedBatch:
    body = json.loads(payload)
    return PlannedBatch(
        kind=BatchKind.RESUME,
        request_id=record.request_id,
        endpoint=record.endpoint,
        recipients=tuple(k for k, _ in hashes),
        # Resent as journaled, to the byte.
        contents=_fixed(payload, tuple(h for _, h in hashes)),
        text=str(body.get("text", "")),
        send_at=record.send_at,
        segments=0,
        parts=0,
        estimated_cost=record.estimated_cost,
        first_sent_at=record.first_sent_at,
    )


def in_window(first_sent_at: datetime | None, now: datetime) -> bool:
    """May a request whose first attempt left at `first_sent_at` be resent now under the same
    request_id? (Never left: any time.) Planning asks it, and apply again as it leaves."""
    return first_sent_at is None or now - first_sent_at < REQUEST_ID_WINDOW


def _cancel_batch(
    record: BatchRecord, recipients: Sequence[tuple[str, str]], reason: str
) -> PlannedBatch:
    body: dict[str, Any] = {"ticket_number": record.ticket}
    if record.endpoint == "multi-channel/send":
        body["channel"] = record.channel
    return PlannedBatch(
        kind=BatchKind.CANCEL,
        request_id=record.request_id,
        endpoint=record.endpoint,
        recipients=tuple(k for k, _ in recipients),
        contents=_fixed(ids.canonical_json(body), tuple(h for _, h in recipients)),
        text="",
        segments=0,
        parts=0,
        estimated_cost=0.0,
        ticket=record.ticket,
        send_at=record.send_at,
        reason=reason,
    )


def _skip_batch(spec: CampaignSpec, capped: list[int]) -> PlannedBatch:
    """Recipients over the frequency cap: journaled as skipped by apply (no request), so no
    later plan sends them this campaign."""
    messages = spec.messages
    chunk = sorted(capped, key=messages.keys.__getitem__)
    chunk_keys = tuple(gather(chunk)(messages.keys))
    digest = hashlib.sha256("\n".join([spec.id, *chunk_keys]).encode()).hexdigest()[:32]
    return PlannedBatch(
        kind=BatchKind.SKIP,
        request_id=f"skip-{digest}",
        endpoint=spec.endpoint,
        recipients=chunk_keys,
        # Their content hashes are computed only if apply journals them.
        contents=lambda: ("{}", tuple(map(messages.hash, chunk))),
        text="",
        segments=0,
        parts=0,
        estimated_cost=0.0,
        send_at=spec.send_at.isoformat() if spec.send_at else None,
    )


def _scheduled_and_cancellable(record: BatchRecord, now: datetime) -> bool | None:
    """None: not scheduled (or already gone out); True/False: can we still cancel it?"""
    if record.status is not BatchStatus.ACCEPTED or not record.send_at or not record.ticket:
        return None
    send_at = datetime.fromisoformat(record.send_at)
    if send_at <= now:
        return None
    return send_at - now > CANCEL_MARGIN


def _too_late(
    spec: CampaignSpec, record: BatchRecord, keys: tuple[str, ...], what: str, hint: str
) -> Diagnostic:
    path, line, col = spec.where(*keys)
    return Diagnostic(
        path,
        line,
        col,
        f"campaign {spec.id}: {what}, but its scheduled request {record.request_id} "
        f"({plural(record.recipients_count, 'recipient')}) goes out at {record.send_at}, in "
        "less than 10 minutes: too late to cancel it",
        hint,
    )


class PlanPolicies(Protocol):
    """The compliance and spend rules the planner applies (octoplan/compliance.py)."""

    def cap(
        self, spec: CampaignSpec, to_send: list[int], now: datetime
    ) -> tuple[list[int], list[int]]:
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


def plan_campaign(
    spec: CampaignSpec,
    store: StateStore,
    now: datetime,
    opted_out: Mapping[str, datetime] | None = None,
    policies: PlanPolicies | None = None,
    recent: Callable[[], RecentSends] | None = None,
    *,
    select: Callable[[list[int]], list[int]] | None = None,
) -> CampaignPlan:
    """`opted_out`: numbers that replied STOP (read once per plan, see build_plan);
    `policies`: the compliance and spend rules (octoplan/compliance.py); `recent`: what state
    sent lately, for the 30-day guard (None: no guard); `select`: of the recipients to send,
    those this plan sends (a rollout stage's cohort)."""
    if not spec.enabled:
        return _plan_disabled(spec, store, now)
    if spec.rollout is not None and select is None:
        # The stage decides what is sent (octoplan/rollout_plan.py, which calls back here).
        plan: CampaignPlan = spec.rollout.planner(spec, store, now, opted_out, policies, recent)
        return plan
    messages = spec.messages
    if not opted_out or not optouts.applies(spec.marketing, spec.channel):
        opted_out = {}
    keys = messages.keys
    history = spec.history if spec.renamed_from else spec.id
    if spec.state is not None:
        (sent_hashes, others), flags = spec.state, messages.sent
    else:
        sent_hashes, others = store.recipient_state(spec.id, *spec.renamed_from)
        flags = sent_flags(keys, sent_hashes, lambda known: map(messages.hash, known))

    # Journaled batches decide first: resumes, doubts and cancellations.
    batches: list[PlannedBatch] = []
    in_doubt: list[InDoubt] = []
    notes: list[str] = []
    errors: list[Diagnostic] = []
    # Recipients of scheduled requests this plan cancels, sendable again: -> that request_id.
    released: dict[str, str] = {}
    for record in store.batches(history, [BatchStatus.INTENT, BatchStatus.IN_DOUBT]):
        if record.status is BatchStatus.INTENT and in_window(record.first_sent_at, now):
            payload, members = (
                store.payload(record.request_id),
                store.batch_recipients(record.request_id),
            )
            batches.append(_resume_batch(record, payload, members))
        else:
            in_doubt.append(
                InDoubt(
                    record.request_id, record.recipients_count, record.first_sent_at, record.status
                )
            )
    send_at = spec.send_at.isoformat() if spec.send_at else None
    index_of: dict[str, int] | None = None
    scheduled = 0  # accepted for a send_at still ahead: not sent yet
    for record in store.batches(history, [BatchStatus.ACCEPTED], scheduled=True):
        cancellable = _scheduled_and_cancellable(record, now)
        if cancellable is None:
            continue
        if index_of is None:
            # A recipient who replied STOP since is no longer wanted in a scheduled send.
            index_of = {k: i for i, k in enumerate(keys) if k not in opted_out}
        members = store.batch_recipients(record.request_id)
        removed = sum(1 for k, _ in members if k not in index_of)
        # A recipient of a scheduled request is decided by it: CHANGED means its text, options
        # or send_at differ from what the request carries.
        changed = sum(
            1 for k, _ in members if k in index_of and flags and flags[index_of[k]] == CHANGED
        )
        if not ((removed or changed) and cancellable):
            scheduled += len(members) - removed
        if not removed and not changed:
            continue
        what = _replacement_reason(record.send_at, send_at, changed, removed)
        if cancellable:
            batches.append(_cancel_batch(record, members, "replaced"))
            released.update((k, record.request_id) for k, _ in members)
            notes.append(
                f"scheduled request {record.request_id} ({plural(len(members), 'recipient')}, "
                f"send_at {record.send_at}) is replaced ({what}): it is cancelled, and its "
                "recipients still wanted are sent under a new request_id"
            )
        else:
            where = ("send_at",) if record.send_at != send_at else ()
            errors.append(
                _too_late(
                    spec,
                    record,
                    where,
                    what,
                    f"undo the change: Octopush cancels a scheduled send only more than 10 "
                    f"minutes before it goes out; once it has gone out (at {record.send_at}), "
                    "a new text or send_at applies only to recipients not sent yet",
                )
            )

    already_sent = pending = changed = moved = 0
    earlier_by_key: dict[str, str] = {}
    everyone = range(len(keys))
    if not sent_hashes and not others:
        to_send = list(everyone)
    else:
        # Whole columns at once: who was sent (whatever the text), who was not.
        sent = list(compress(everyone, flags))
        to_send = list(compress(everyone, map(operator.not_, flags)))
        changed = flags.count(CHANGED)
        later: list[int] = []
        if released:
            # Recipients of a scheduled request this plan cancels go out again, under a
            # request_id that names the cancelled one (never the id of an earlier request).
            back = [index for index in sent if keys[index] in released]
            if back:
                going = set(back)
                sent = [index for index in sent if index not in going]
                earlier_by_key.update((keys[index], released[keys[index]]) for index in back)
                later.extend(back)
                changed -= sum(flags[index] == CHANGED for index in back)
        if changed:
            moved = _moved_only(spec, store, sent, flags, sent_hashes, send_at)
        already_sent = len(sent)
        skipped = 0
        if others:
            new: list[int] = []
            for index in to_send:
                row = others.get(keys[index])
                if row is None:
                    new.append(index)
                elif row[2] in _UNSETTLED:
                    pending += 1
                elif row[2] == _SKIPPED:
                    skipped += 1
                else:  # refused, not sent or cancelled: send again, under a fresh request_id
                    earlier_by_key[keys[index]] = row[1]
                    later.append(index)
            to_send = new
        if later:
            to_send = sorted(to_send + later)
        if skipped:
            notes.append(
                f"{plural(skipped, 'recipient')} skipped by the frequency cap when this "
                "campaign was applied: not sent"
            )

    if select is not None:
        to_send = select(to_send)
    to_send, opted = optouts.without_opted_out(keys, to_send, opted_out)
    capped: list[int] = []
    if policies is not None and to_send and spec.marketing:
        to_send, capped = policies.cap(spec, to_send, now)
    if recent is not None and to_send and not spec.errors:
        sends = recent()
        if not spec.allow_repeat:
            found = repeats(messages, to_send, sends.others(spec.history), sends)
            errors.extend(repeat_errors(spec.id, spec.id_at or (spec.file, None, None), found))
        if not errors:
            sends.sends(spec.id, messages, to_send)
    new_batches = _new_batches(spec, to_send, earlier_by_key, frozenset(released.values()))
    batches.extend(new_batches)
    if capped:
        batches.append(_skip_batch(spec, capped))
    if policies is not None:
        errors.extend(policies.check(spec, batches, now))
    if moved:
        notes.append(
            f"send_at moved for {plural(moved, 'recipient')} who already received the message: "
            "they are not sent again"
        )
    text_change = None
    # Said while it matters: when this plan sends the new text, or when nobody will get it
    # (an edit after the last send). Once the new text went out, the count stays in JSON.
    if changed - moved and (new_batches or SENT not in flags):
        text_change = sentdiff.text_change(store, spec.id, messages, flags, sent_hashes)
        if text_change is not None:  # texts a plan shows carry no number or e-mail in clear
            text_change = TextChange(
                text_change.recipient, mask_text(text_change.old), mask_text(text_change.new)
            )
        notes.append(
            f"the text changed for {plural(changed - moved, 'recipient')} who already received "
            "the old one: they are not sent again; only recipients not yet sent get the new text"
        )
    if spec.duplicates:
        notes.append(
            f"{plural(spec.duplicates, 'duplicate recipient')} collapsed: each is sent once"
        )
    if spec.excluded:
        notes.append(f"{plural(spec.excluded, 'recipient')} removed by exclude lists")
    if opted:
        notes.append(optouts.note(opted))

    all_errors = (*spec.errors, *errors)
    action = _action(all_errors, bool(sent_hashes or others), batches, in_doubt)
    if action is Action.BLOCKED:
        batches = []
    shown = _samples(keys, messages.request_texts, to_send, new_batches) or list(
        range(min(SAMPLES, len(keys)))
    )
    return CampaignPlan(
        id=spec.id,
        file=spec.file,
        channel=spec.channel,
        action=action,
        batches=tuple(batches),
        in_doubt=tuple(in_doubt),
        desired=len(keys),
        already_sent=already_sent,
        pending=pending,
        changed_after_send=changed - moved,
        duplicates=spec.duplicates,
        excluded=spec.excluded,
        warnings=masked(spec.warnings),
        errors=masked(all_errors),
        samples=tuple((keys[i], mask_text(messages.text(i))) for i in shown),
        notes=tuple(map(mask_text, notes)),
        opted_out=tuple(opted),
        purpose=spec.purpose,
        send_at=send_at,
        scheduled=min(scheduled, already_sent),
        text_change=text_change,
    )


def _replacement_reason(old: str | None, new: str | None, changed: int, removed: int) -> str:
    parts = []
    if old != new:
        parts.append(f"send_at moved to {new}" if new else "send_at removed")
    elif changed:
        parts.append(f"the message changed for {plural(changed, 'recipient')}")
    if removed:
        parts.append(f"{plural(removed, 'recipient')} removed")
    return ", ".join(parts)


def _moved_only(
    spec: CampaignSpec,
    store: StateStore,
    sent: list[int],
    flags: bytearray,
    sent_hashes: Mapping[str, str],
    send_at: str | None,
) -> int:
    """How many recipients sent another content were sent this very text with another
    send_at (their content hash carries the send_at): a moved send_at, not a changed text."""
    if spec.options_at is None:
        return 0
    earlier = {r.send_at for r in store.batches(spec.history, [BatchStatus.ACCEPTED])} - {send_at}
    if not earlier:
        return 0
    digests = [spec.options_at(value) for value in sorted(earlier, key=str)]
    messages, keys = spec.messages, spec.messages.keys
    moved = 0
    for index in sent:
        if flags[index] != CHANGED:
            continue
        text, stored = messages.text(index), sent_hashes.get(keys[index])
        if any(ids.content_hash(digest, text) == stored for digest in digests):
            moved += 1
    return moved


def _plan_disabled(spec: CampaignSpec, store: StateStore, now: datetime) -> CampaignPlan:
    """`enabled: false`: cancel what is still scheduled, send nothing new (not even an
    unconfirmed request: it stays unconfirmed, then in doubt)."""
    batches: list[PlannedBatch] = []
    errors: list[Diagnostic] = []
    notes = ["campaign disabled (enabled: false): nothing new is sent"]
    for record in store.batches(spec.history, [BatchStatus.ACCEPTED], scheduled=True):
        cancellable = _scheduled_and_cancellable(record, now)
        if cancellable:
            batches.append(
                _cancel_batch(record, store.batch_recipients(record.request_id), "disabled")
            )
        elif cancellable is False:
            errors.append(
                _too_late(
                    spec,
                    record,
                    ("enabled",),
                    "the campaign is disabled",
                    f"it goes out as scheduled: set enabled: true again until {record.send_at} "
                    "has passed (Octopush cancels only more than 10 minutes before)",
                )
            )
    in_doubt = []
    unconfirmed = 0
    for record in store.batches(spec.history, [BatchStatus.INTENT, BatchStatus.IN_DOUBT]):
        if record.status is BatchStatus.INTENT and in_window(record.first_sent_at, now):
            unconfirmed += 1
        else:
            in_doubt.append(
                InDoubt(
                    record.request_id, record.recipients_count, record.first_sent_at, record.status
                )
            )
    if unconfirmed:
        notes.append(
            f"{plural(unconfirmed, 'unconfirmed request')} not resent while the campaign is "
            "disabled"
        )
    all_errors = (*spec.errors, *errors)
    action = Action.BLOCKED if all_errors else Action.CANCEL if batches else Action.NOOP
    return CampaignPlan(
        id=spec.id,
        file=spec.file,
        channel=spec.channel,
        action=action,
        batches=() if all_errors else tuple(batches),
        in_doubt=tuple(in_doubt),
        desired=0,
        already_sent=0,
        pending=0,
        changed_after_send=0,
        duplicates=0,
        excluded=0,
        warnings=masked(spec.warnings),
        errors=masked(all_errors),
        samples=(),
        notes=tuple(map(mask_text, notes)),
        purpose=spec.purpose,
    )


def _samples(
    keys: Sequence[str],
    request_texts: Sequence[str],
    to_send: list[int],
    batches: list[PlannedBatch],
) -> list[int]:
    """A few recipients to show: the first to send, then one per other request text (another
    branch of the template), then the next ones."""
    if not to_send:
        return []
    shown = [to_send[0]]
    texts = {request_texts[to_send[0]]}
    for batch in batches:
        if len(shown) == SAMPLES:
            return shown
        if batch.text not in texts:
            texts.add(batch.text)
            shown.append(keys.index(batch.recipients[0]))
    for index in to_send[1:]:
        if len(shown) == SAMPLES:
            break
        if index not in shown:
            shown.append(index)
    return shown


def _action(
    errors: Sequence[Diagnostic],
    known: bool,  # state holds recipients of this campaign
    batches: Sequence[PlannedBatch],
    in_doubt: Sequence[InDoubt],
) -> Action:
    if errors:
        return Action.BLOCKED
    if not batches:
        return Action.NOOP
    if all(b.kind is BatchKind.CANCEL for b in batches):
        return Action.CANCEL
    return Action.UPDATE if known or in_doubt else Action.CREATE


def _new_batches(
    spec: CampaignSpec,
    to_send: list[int],
    earlier_by_key: Mapping[str, str],
    replaced: frozenset[str] = frozenset(),
) -> list[PlannedBatch]:
    """One request carries one text: group by request text, in recipient order, then chunk."""
    messages = spec.messages
    keys, request_texts = messages.keys, messages.request_texts
    order = sorted(to_send, key=keys.__getitem__)
    texts_in_order = list(map(request_texts.__getitem__, order))
    distinct = list(dict.fromkeys(texts_in_order))  # in order of first use
    groups: dict[str, list[int]] = {}
    if len(distinct) <= 16:  # a few texts: one C-speed pass each
        for text in distinct:
            groups[text] = list(compress(order, map(text.__eq__, texts_in_order)))
    else:
        for index, text in zip(order, texts_in_order, strict=True):
            members = groups.get(text)
            if members is None:
                groups[text] = [index]
            else:
                members.append(index)
    allowed = frozenset(spec.recipient_fields)
    sms = channels.get(spec.channel).bills_per_part
    batches: list[PlannedBatch] = []
    for request_text, members in groups.items():
        for start in range(0, len(members), spec.batch_size):
            chunk = members[start : start + spec.batch_size]
            take = gather(chunk)
            recipients = _recipients(take(messages.names), take(messages.records), allowed)
            chunk_keys = take(keys)
            earlier = (
                sorted({earlier_by_key[k] for k in chunk_keys if k in earlier_by_key})
                if earlier_by_key
                else []
            )
            base = spec.make_body(request_text, [])
            rid = ids.batch_request_id(spec.id, spec.endpoint, base, recipients, earlier)
            segments = take(messages.segments)
            batches.append(
                PlannedBatch(
                    kind=BatchKind.NEW,
                    request_id=rid,
                    endpoint=spec.endpoint,
                    recipients=tuple(chunk_keys),
                    contents=partial(_contents, spec, request_text, chunk, recipients, rid),
                    text=request_text,
                    segments=max(segments),
                    # Only SMS are billed by the part; other channels' segments mean nothing.
                    parts=sum(segments) if sms else 0,
                    estimated_cost=round(sum(take(messages.costs)), 6),
                    send_at=base.get("send_at"),
                    replaces=tuple(e for e in earlier if e in replaced),
                    options=messages.options.hex(),
                )
            )
    return batches


def _recipients(
    names: Sequence[tuple[str, ...]], records: Sequence[str], allowed: frozenset[str]
) -> ids.Recipients:
    """The recipients of a batch as the API gets them: the field names, which names each one
    uses, and each one's record (fields the endpoint does not take are left out)."""
    first = names[0]
    # Usually one shared tuple: counting compares identities, without hashing 500 tuples.
    if names.count(first) == len(names) and allowed.issuperset(first):
        return [first], [0] * len(records), list(records)
    layouts: dict[tuple[str, ...], int] = {}
    kept_names: list[tuple[str, ...]] = []
    which: list[int] = []
    kept_records: list[str] = []
    for row_names, record in zip(names, records, strict=True):
        kept = [i for i, name in enumerate(row_names) if name in allowed]
        shown = tuple(row_names[i] for i in kept)
        if shown not in layouts:
            layouts[shown] = len(kept_names)
            kept_names.append(shown)
        which.append(layouts[shown])
        values = record.split(FIELD)
        kept_records.append(FIELD.join(values[i] for i in kept))
    return kept_names, which, kept_records


def _contents(
    spec: CampaignSpec,
    request_text: str,
    chunk: list[int],
    recipients: ids.Recipients,
    request_id: str,
) -> tuple[str, tuple[str, ...]]:
    body = spec.make_body(request_text, [])
    if spec.request_id_in_metadata:
        body["metadata"] = {**body.get("metadata", {}), "request_id": request_id}
    else:
        body["request_id"] = request_id
    return encode_body(body, recipients), tuple(map(spec.messages.hash, chunk))


def plan_removed_campaign(
    campaign_id: str, store: StateStore, now: datetime
) -> CampaignPlan | None:
    """A campaign in state with no file any more: cancel what is still scheduled."""
    batches: list[PlannedBatch] = []
    notes: list[str] = []
    for record in store.batches(campaign_id, [BatchStatus.ACCEPTED], scheduled=True):
        cancellable = _scheduled_and_cancellable(record, now)
        if cancellable:
            batches.append(
                _cancel_batch(record, store.batch_recipients(record.request_id), "file removed")
            )
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
        # With nothing it can cancel (too soon), saying its sends are cancelled would be false.
        notes=(
            "campaign file removed: "
            + ("its scheduled sends are cancelled" if batches else "nothing is cancelled"),
            *notes,
        ),
    )


def build_plan(
    specs: Sequence[CampaignSpec],
    store: StateStore,
    now: datetime,
    *,
    scope: Sequence[str] = (),
    whole_project: bool = True,
    currency: str = "EUR",
    info: StateInfo | None = None,
    policies: PlanPolicies | None = None,
) -> Plan:
    """`info`: the state's serial as read before its contents (else read at the end).
    `policies`: the compliance and spend rules (octoplan/compliance.py); campaigns are planned
    in order, each counting what the ones before it send (the frequency cap)."""
    # Read once for the whole plan, and only when a campaign can be concerned.
    concerned = any(optouts.applies(spec.marketing, spec.channel) for spec in specs)
    opted_out = store.opted_out() if concerned else {}
    sends: list[RecentSends] = []

    def recent() -> RecentSends:  # one for the plan, made when a campaign has something to send
        if not sends:
            sends.append(RecentSends(store, now))
        return sends[0]

    campaigns = []
    for spec in specs:
        campaign = plan_campaign(spec, store, now, opted_out, policies, recent)
        if policies is not None:
            policies.record(campaign, now)
        campaigns.append(campaign)
    if whole_project:
        # Only a plan over the whole project may conclude that a campaign was removed (a
        # campaign's earlier ids are its own, not removed campaigns).
        known = {campaign_id for spec in specs for campaign_id in spec.history}
        for campaign_id in store.campaign_ids():
            if campaign_id not in known:
                removed = plan_removed_campaign(campaign_id, store, now)
                if removed is not None:
                    campaigns.append(removed)
    errors: list[Diagnostic] = []
    results: list[PolicyResult] = []
    if policies is not None:
        errors, results = policies.finish(campaigns, now)
    return Plan(
        created_at=now,
        state=info if info is not None else store.info(),
        campaigns=tuple(campaigns),
        currency=currency,
        scope=tuple(scope),
        digest=compute_digest(campaigns, errors),
        errors=tuple(errors),
        policies=tuple(results),
    )
