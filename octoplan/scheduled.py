"""Scheduled sends (a `send_at` still ahead): which ones a plan cancels, and why.

A request the API accepted for later can be cancelled while it is more than 10 minutes away:
when its campaign's text, recipients or send_at changed (replaced: cancelled, its recipients
still wanted sent again under a new request_id), when the campaign is disabled, or when its
file is removed. Too late to cancel, the plan says so (an error, or a note).

With `--shard I/N`, a scheduled request is the business of the one shard that owns it (the
shard of its lowest recipient key, octoplan/partition.py): that shard alone cancels it, and
sends the replacement of its own recipients. Its other recipients are sent again by their own
shards, once state says the request was cancelled: a shard applying at the same moment may
plan between the cancel and the replacement's intent, when they look cancelled, so the owner
sending them too could send them twice. (A shard that planned before the cancel sees them as
sent: its next run sends them.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from octoplan import ids
from octoplan.batches import fixed
from octoplan.channels import SendFlow
from octoplan.errors import Diagnostic
from octoplan.mask import mask_text, masked
from octoplan.messages import CHANGED
from octoplan.partition import Partition
from octoplan.plan import (
    Action,
    BatchKind,
    CampaignPlan,
    CampaignSpec,
    InDoubt,
    PlannedBatch,
    in_window,
)
from octoplan.state.base import BatchRecord, BatchStatus, StateReader
from octoplan.words import plural

# Octopush cancels a scheduled send only while it is more than ~10 minutes away.
CANCEL_MARGIN = timedelta(minutes=10)


def cancel_batch(
    record: BatchRecord, recipients: Sequence[tuple[str, str]], reason: str
) -> PlannedBatch:
    body: dict[str, Any] = {"ticket_number": record.ticket}
    flow = SendFlow.of_endpoint(record.endpoint)
    if flow is not None and flow.names_channel:
        body["channel"] = record.channel
    return PlannedBatch(
        kind=BatchKind.CANCEL,
        request_id=record.request_id,
        endpoint=record.endpoint,
        recipients=tuple(k for k, _ in recipients),
        contents=fixed(ids.canonical_json(body), tuple(h for _, h in recipients)),
        text="",
        segments=0,
        parts=0,
        estimated_cost=0.0,
        ticket=record.ticket,
        send_at=record.send_at,
        reason=reason,
    )


def scheduled_and_cancellable(record: BatchRecord, now: datetime) -> bool | None:
    """None: not scheduled (or already gone out); True/False: can we still cancel it?"""
    if record.status is not BatchStatus.ACCEPTED or not record.send_at or not record.ticket:
        return None
    send_at = datetime.fromisoformat(record.send_at)
    if send_at <= now:
        return None
    return send_at - now > CANCEL_MARGIN and not never_cancelled(record)


def never_cancelled(record: BatchRecord) -> bool:
    """A scheduled send its flow cannot cancel however far ahead it is (a voice campaign on a
    list): planning its cancel would only get it refused, and its replacement held back."""
    flow = SendFlow.of_endpoint(record.endpoint)
    return flow is not None and not flow.cancels_scheduled


def too_late(
    spec: CampaignSpec, record: BatchRecord, keys: tuple[str, ...], what: str, hint: str
) -> Diagnostic:
    path, line, col = spec.where(*keys)
    if never_cancelled(record):
        why = (
            "and a voice campaign on a list cannot be cancelled: the API deletes one only "
            "before it is confirmed, and apply confirms it as it creates it"
        )
        hint = (
            "undo the change; or, if it must not go out, cancel it in the Octopush account and "
            f"run `octoplan state resolve {record.request_id} --cancelled`: the next plan then "
            "sends its recipients what the campaign says now"
        )
    else:
        why = "in 10 minutes or less: too late to cancel it"
    return Diagnostic(
        path,
        line,
        col,
        f"campaign {spec.id}: {what}, but its scheduled request {record.request_id} "
        f"({plural(record.recipients_count, 'recipient')}) goes out at {record.send_at}, {why}",
        hint,
    )


def replacement_reason(old: str | None, new: str | None, changed: int, removed: int) -> str:
    parts = []
    if old != new:
        parts.append(f"send_at moved to {new}" if new else "send_at removed")
    elif changed:
        parts.append(f"the message changed for {plural(changed, 'recipient')}")
    if removed:
        parts.append(f"{plural(removed, 'recipient')} removed")
    return ", ".join(parts)


def moved_only(
    spec: CampaignSpec,
    store: StateReader,
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


def _owned(
    store: StateReader, records: list[BatchRecord], partition: Partition | None
) -> list[BatchRecord]:
    """The requests of `records` that the shard planned owns (all of them, unsharded)."""
    if partition is None:
        return records
    return [
        r for r in records if partition.owns(key for key, _ in store.batch_recipients(r.request_id))
    ]


def plan_disabled(
    spec: CampaignSpec, store: StateReader, now: datetime, partition: Partition | None = None
) -> CampaignPlan:
    """`enabled: false`: cancel what is still scheduled, send nothing new (not even an
    unconfirmed request: it stays unconfirmed, then in doubt). `partition`: the shard planned,
    which cancels and reports only the requests it owns."""
    batches: list[PlannedBatch] = []
    errors: list[Diagnostic] = []
    notes = ["campaign disabled (enabled: false): nothing new is sent"]
    kept = 0  # recipients of scheduled sends that still go out (too late to cancel them)
    scheduled = store.batches(spec.history, [BatchStatus.ACCEPTED], scheduled=True)
    for record in _owned(store, scheduled, partition):
        cancellable = scheduled_and_cancellable(record, now)
        if cancellable:
            batches.append(
                cancel_batch(record, store.batch_recipients(record.request_id), "disabled")
            )
        elif cancellable is False:
            kept += record.recipients_count
            errors.append(
                too_late(
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
    journaled = store.batches(spec.history, [BatchStatus.INTENT, BatchStatus.IN_DOUBT])
    for record in _owned(store, journaled, partition):
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
        already_sent=sent_after(store, (spec.id, *spec.renamed_from), batches, partition, now),
        scheduled=kept,
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


def sent_after(
    store: StateReader,
    history: tuple[str, ...],
    cancels: list[PlannedBatch],
    partition: Partition | None = None,
    now: datetime | None = None,
) -> int:
    """Recipients state holds as sent (scheduled sends included) once this plan's cancels are
    done: what a disabled or removed campaign's plan reports as already sent. Of a shard: its
    recipients, but those of the requests any shard cancels (their owners', at `now`)."""
    sent, _ = store.recipient_state(*history)
    if partition is None or now is None:
        return max(len(sent) - sum(len(b.recipients) for b in cancels), 0)
    cancelled = {
        key
        for record in store.batches(history, [BatchStatus.ACCEPTED], scheduled=True)
        if scheduled_and_cancellable(record, now)
        for key, _ in store.batch_recipients(record.request_id)
    }
    return sum(1 for key in sent if partition.contains(key) and key not in cancelled)


def plan_removed_campaign(
    campaign_id: str, store: StateReader, now: datetime, partition: Partition | None = None
) -> CampaignPlan | None:
    """A campaign in state with no file any more: cancel what is still scheduled (of a
    shard: the requests it owns)."""
    batches: list[PlannedBatch] = []
    notes: list[str] = []
    kept = 0  # recipients of scheduled sends that still go out
    scheduled = store.batches(campaign_id, [BatchStatus.ACCEPTED], scheduled=True)
    for record in _owned(store, scheduled, partition):
        cancellable = scheduled_and_cancellable(record, now)
        if cancellable is False:
            kept += record.recipients_count
        if cancellable:
            batches.append(
                cancel_batch(record, store.batch_recipients(record.request_id), "file removed")
            )
        elif cancellable is False and never_cancelled(record):
            notes.append(
                f"request {record.request_id} is a voice campaign on a list, which cannot be "
                f"cancelled once confirmed: it goes out at {record.send_at} (cancel it in the "
                f"Octopush account, then `octoplan state resolve {record.request_id} --cancelled`)"
            )
        elif cancellable is False:
            notes.append(
                f"request {record.request_id} is scheduled too soon to cancel (10 minutes or less)"
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
        already_sent=sent_after(store, (campaign_id,), batches, partition, now),
        scheduled=kept,
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


@dataclass
class Replaced:
    """What a campaign's scheduled requests come to in this plan."""

    batches: list[PlannedBatch] = field(default_factory=list)  # cancels of replaced requests
    notes: list[str] = field(default_factory=list)
    errors: list[Diagnostic] = field(default_factory=list)  # too late to cancel
    # Recipients of scheduled requests this plan cancels, sendable again: -> that request_id.
    released: dict[str, str] = field(default_factory=dict)
    scheduled: int = 0  # accepted for a send_at still ahead: not sent yet


def replace_scheduled(
    spec: CampaignSpec,
    store: StateReader,
    history: str | tuple[str, ...],
    now: datetime,
    flags: bytearray,
    opted_out: Mapping[str, datetime],
    send_at: str | None,
    partition: Partition | None = None,
) -> Replaced:
    """The campaign's scheduled requests whose recipients' messages changed, or which hold
    recipients no longer wanted: cancelled while there is time (their recipients still wanted
    are sent again), else an error; and how many recipients they keep scheduled. `partition`:
    the shard planned, which decides only the requests it owns."""
    keys = spec.messages.keys
    found = Replaced()
    batches, notes, errors, released = found.batches, found.notes, found.errors, found.released
    index_of: dict[str, int] | None = None
    for record in store.batches(history, [BatchStatus.ACCEPTED], scheduled=True):
        cancellable = scheduled_and_cancellable(record, now)
        if cancellable is None:
            continue
        if index_of is None:
            # A recipient who replied STOP since is no longer wanted in a scheduled send.
            index_of = {k: i for i, k in enumerate(keys) if k not in opted_out}
        members = store.batch_recipients(record.request_id)
        if partition is not None and not partition.owns(k for k, _ in members):
            # Another shard's: its recipients of this shard stay scheduled, as counted here.
            found.scheduled += sum(1 for k, _ in members if partition.contains(k))
            continue
        removed = sum(1 for k, _ in members if k not in index_of)
        # A recipient of a scheduled request is decided by it: CHANGED means its text, options
        # or send_at differ from what the request carries.
        changed = sum(
            1 for k, _ in members if k in index_of and flags and flags[index_of[k]] == CHANGED
        )
        if not ((removed or changed) and cancellable):
            found.scheduled += len(members) - removed
        if not removed and not changed:
            continue
        what = replacement_reason(record.send_at, send_at, changed, removed)
        if cancellable:
            batches.append(cancel_batch(record, members, "replaced"))
            released.update((k, record.request_id) for k, _ in members)
            notes.append(
                f"scheduled request {record.request_id} ({plural(len(members), 'recipient')}, "
                f"send_at {record.send_at}) is replaced ({what}): it is cancelled, and its "
                "recipients still wanted are sent under a new request_id"
            )
        else:
            where = ("send_at",) if record.send_at != send_at else ()
            errors.append(
                too_late(
                    spec,
                    record,
                    where,
                    what,
                    f"undo the change: Octopush cancels a scheduled send only more than 10 "
                    f"minutes before it goes out; once it has gone out (at {record.send_at}), "
                    "a new text or send_at applies only to recipients not sent yet",
                )
            )
    return found
