"""A Plan as text (for terminals) and as JSON (for scripts and plan files).

Both views mask every recipient and show no request body: a plan file can be attached to a
pull request or kept as a CI artifact without leaking a phone number or a secret.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from octoplan import __version__, channels
from octoplan.errors import count_of
from octoplan.jsonstream import Masked
from octoplan.mask import mask_recipient
from octoplan.optouts import stop_day
from octoplan.plan import (
    FORMAT_VERSION,
    SYMBOLS,
    Action,
    BatchKind,
    CampaignPlan,
    Plan,
    PlannedBatch,
    Share,
)
from octoplan.sentdiff import diff_lines
from octoplan.target import Destination
from octoplan.words import plural

MAX_LISTED = 100  # opted-out recipients listed in a campaign's JSON (all are counted)


def money(amount: float, currency: str) -> str:
    return f"{amount:,.2f} {currency}"


def _batch_json(batch: PlannedBatch) -> dict[str, Any]:
    data: dict[str, Any] = {
        "request_id": batch.request_id,
        "kind": batch.kind.value,
        "endpoint": batch.endpoint,
        "recipients": Masked(batch.recipients, mask_recipient),  # masked as it is written
        "recipient_count": len(batch.recipients),
    }
    if batch.kind is BatchKind.CANCEL:
        data.update(ticket=batch.ticket, send_at=batch.send_at, reason=batch.reason)
    elif batch.kind is BatchKind.SKIP:
        data["reason"] = "frequency cap"
    else:
        data.update(
            segments=batch.segments,
            sms_parts=batch.parts,
            estimated_cost=batch.estimated_cost,
            send_at=batch.send_at,
        )
        if batch.replaces:
            data["replaces"] = list(batch.replaces)
    if batch.stage is not None:
        data["stage"] = batch.stage
    return data


def campaign_json(c: CampaignPlan) -> dict[str, Any]:
    data = _campaign_json(c)
    if c.rollout is not None:  # only for a campaign with rollout: (format_version 1, additive)
        data["rollout"] = c.rollout.to_json()
    return data


def _campaign_json(c: CampaignPlan) -> dict[str, Any]:
    return {
        "id": c.id,
        "file": c.file,
        "channel": c.channel,
        "action": c.action.value,
        "purpose": c.purpose,
        "send_at": c.send_at,
        "messages_to_send": c.messages_to_send,
        "requests": len(c.sends),
        "capped": len(c.capped),
        "desired": c.desired,
        "already_sent": c.already_sent,
        "pending": c.pending,
        "changed_after_send": c.changed_after_send,
        "duplicates": c.duplicates,
        "excluded": c.excluded,
        "opted_out": len(c.opted_out),
        "opted_out_recipients": [
            {"recipient": mask_recipient(key), "stopped_on": stop_day(at)}
            for key, at in c.opted_out[:MAX_LISTED]
        ],
        "estimated_cost": round(c.estimated_cost, 6),
        "batches": [_batch_json(b) for b in c.batches],
        "in_doubt": [
            {
                "request_id": d.request_id,
                "recipients": d.recipients,
                "first_sent_at": d.first_sent_at.isoformat() if d.first_sent_at else None,
            }
            for d in c.in_doubt
        ],
        "scheduled": c.scheduled,
        "text_change": None
        if c.text_change is None
        else {
            "recipient": mask_recipient(c.text_change.recipient),
            "old": c.text_change.old,
            "new": c.text_change.new,
        },
        "notes": list(c.notes),
        "warnings": [d.to_json() for d in c.warnings],
        "errors": [d.to_json() for d in c.errors],
        "samples": [{"recipient": mask_recipient(k), "text": t} for k, t in c.samples],
    }


def plan_json(plan: Plan, inputs: Mapping[str, str] | None = None) -> dict[str, Any]:
    """`inputs`: the files the plan read and their SHA-256 (inputs.read_inputs), for plan files
    and `--format json`."""
    s = plan.summary
    data: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "octoplan_version": __version__,
        "created_at": plan.created_at.isoformat(),
        "state": {
            "lineage": plan.state.lineage,
            "serial": plan.state.serial,
            "location": plan.state.url,
        },
        "digest": plan.digest,
        "scope": list(plan.scope),
        "shard": shard_json(plan.shard),
        "sandbox": plan.sandbox,
        "environment": destination_json(plan.destination),
        "has_changes": plan.has_changes,
        "summary": {
            "campaigns": s.campaigns,
            "messages_to_send": s.messages_to_send,
            "requests": s.requests,
            "already_sent": s.already_sent,
            "scheduled": s.scheduled,
            "pending": s.pending,
            "in_doubt": s.in_doubt,
            "cancels": s.cancels,
            "capped": s.capped,
            "sms_parts": s.sms_parts,
            "estimated_cost": s.estimated_cost,
            "currency": plan.currency,
            "errors": s.errors,
            "warnings": s.warnings,
        },
        "campaigns": [campaign_json(c) for c in plan.campaigns],
        "errors": [d.to_json() for d in plan.errors],
        "warnings": [d.to_json() for d in plan.warnings],
        "policies": [
            {"rule": r.rule, "subject": r.subject, "status": r.status, "detail": r.detail}
            for r in plan.policies
        ],
    }
    if inputs is not None:
        from octoplan.inputs import inputs_digest  # JSON and saved plans only

        data["inputs"] = {"digest": inputs_digest(inputs), "files": dict(inputs)}
    return data


def shard_json(shard: Share | None) -> dict[str, Any] | None:
    """`--shard I/N`: which part of the recipients the plan is about (null: all of them)."""
    if shard is None:
        return None
    part = shard.partition
    return {
        "index": part.index,
        "count": part.count,
        "recipients": shard.recipients,
        "of": shard.of,
    }


def shard_line(shard: Share) -> str:
    """Said once, at the top of a sharded plan."""
    return f"shard {shard.partition.label}: {shard.recipients:,} of {plural(shard.of, 'recipient')}"


def destination_json(destination: Destination) -> dict[str, Any]:
    return {
        "name": destination.environment,
        "api_url": destination.api_url,
        "sandbox": destination.sandbox,
        "local": destination.local,
    }


def destination_line(destination: Destination) -> str:
    """`Environment: staging, https://... ` (real messages) or a local one, said as such."""
    real = "" if destination.local else " (real messages)"
    return f"Environment: {destination.environment}, {destination.where}{real}."


def done(already_sent: int, scheduled: int) -> str:
    """What state holds as sent, told apart from what the API holds for a later send_at."""
    if not scheduled:
        return f"{already_sent:,} already sent"
    sent = already_sent - scheduled
    later = f"{scheduled:,} scheduled for later"
    return f"{sent:,} already sent, {later}" if sent else later


def when(c: CampaignPlan) -> str:
    return f"send_at {c.send_at}" if c.send_at else "sent when applied"


def _headline(c: CampaignPlan, currency: str) -> str:
    where = f"{c.channel}, {c.file}" if c.file else f"{c.channel}, file removed"
    line = f"{SYMBOLS[c.action]} {c.id} ({where})"
    if c.action is Action.BLOCKED:
        return f"{line}: blocked by {plural(count_of(c.errors), 'error')}"
    if c.action is Action.NOOP:
        return f"{line}: no changes ({done(c.already_sent, c.scheduled)})"
    sends = c.sends
    parts: list[str] = []
    if sends:
        parts.append(
            f"{plural(c.messages_to_send, 'message')} in {plural(len(sends), 'request')}, "
            f"{plural(sum(b.parts for b in sends), 'SMS part')}, "
            f"est. {money(c.estimated_cost, currency)}"
            if channels.get(c.channel).bills_per_part
            else f"{plural(c.messages_to_send, 'message')} in {plural(len(sends), 'request')}, "
            f"est. {money(c.estimated_cost, currency)}"
        )
        parts.append(when(c))
    cancels = sum(1 for b in c.batches if b.kind is BatchKind.CANCEL)
    if cancels:
        parts.append(f"cancel {plural(cancels, 'scheduled request')}")
    if c.capped:
        parts.append(f"{len(c.capped):,} skipped (frequency cap)")
    if c.already_sent:
        parts.append(done(c.already_sent, c.scheduled))
    return f"{line}: {c.action.value}: " + "; ".join(parts)


def _request_line(b: PlannedBatch, channel: str, currency: str) -> str:
    parts = f", {plural(b.parts, 'SMS part')}" if channels.get(channel).bills_per_part else ""
    return (
        f"    + request {b.request_id}{_replacing(b)}: "
        f"{plural(len(b.recipients), 'recipient')}{parts}, "
        f"est. {money(b.estimated_cost, currency)}{_at(b)}"
    )


def _replacing(b: PlannedBatch) -> str:
    return f" (replaces {', '.join(b.replaces)})" if b.replaces else ""


def _at(b: PlannedBatch) -> str:
    return f", send_at {b.send_at}" if b.send_at else ""


SHOWN_CAPPED = 5  # capped recipients listed by name (masked) in text and markdown


def capped_line(recipients: tuple[str, ...]) -> str:
    """'3 recipients over the frequency cap, skipped: +33 6•• •• •• 78, ...'."""
    shown = ", ".join(mask_recipient(k) for k in recipients[:SHOWN_CAPPED])
    more = len(recipients) - SHOWN_CAPPED
    tail = f" and {more:,} more" if more > 0 else ""
    return f"{plural(len(recipients), 'recipient')} over the frequency cap, skipped: {shown}{tail}"


def cancel_line(b: PlannedBatch) -> str:
    why = {"replaced": "replaced", "disabled": "campaign disabled", "file removed": "file removed"}
    reason = f": {why[b.reason]}" if b.reason in why else ""
    return f"cancel scheduled request {b.request_id} (ticket {b.ticket}{_at(b)}){reason}"


def _changes(c: CampaignPlan, currency: str, requests: bool) -> list[str]:
    """Requests in doubt, resent, cancelled or skipped (and, with `requests`, each new one)."""
    lines: list[str] = []
    for doubt in c.in_doubt:
        lines.append(
            f"    in doubt: request {doubt.request_id} "
            f"({plural(doubt.recipients, 'recipient')}) was sent more than 23 h ago "
            "with no confirmation; it is never resent "
            "automatically. Check the Octopush dashboard, then run "
            f"`octoplan state resolve {doubt.request_id} --sent` or `--not-sent`"
        )
    for b in c.batches:
        if b.kind is BatchKind.NEW and (requests or b.replaces):
            lines.append(_request_line(b, c.channel, currency))
        elif b.kind is BatchKind.CANCEL:
            lines.append(f"    - {cancel_line(b)}")
        elif b.kind is BatchKind.SKIP:
            lines.append(f"    ! {capped_line(b.recipients)}")
        elif b.kind is BatchKind.RESUME:
            lines.append(
                f"    ~ resend unconfirmed request {b.request_id} "
                f"({plural(len(b.recipients), 'recipient')}, same request_id)"
            )
    return lines


def plan_text(plan: Plan, *, samples: int = 1, requests: bool = False, details: bool = True) -> str:
    """The plan for a terminal; `requests` adds one line per new request (`--verbose`);
    without `details` (`--quiet`), no warnings, notes or samples: errors and changes only."""
    lines: list[str] = [] if plan.shard is None else [shard_line(plan.shard)]
    for c in plan.campaigns:
        lines.append(_headline(c, plan.currency))
        for d in c.errors:
            lines.extend("    " + row for row in d.format().splitlines())
        if not details:
            lines.extend(_changes(c, plan.currency, requests))
            continue
        for d in c.warnings:
            lines.extend("    " + row for row in d.format().splitlines())
        for note in c.notes:
            lines.append(f"    note: {note}")
        if c.rollout is not None:
            lines.extend(f"    rollout: {line}" for line in c.rollout.lines())
        if c.text_change is not None:
            change = c.text_change
            lines.append(f"      e.g. {mask_recipient(change.recipient)}, sent before / now:")
            lines.extend(f"      {row}" for row in diff_lines(change.old, change.new))
        lines.extend(_changes(c, plan.currency, requests))
        if c.action in (Action.CREATE, Action.UPDATE):
            for key, text in c.samples[:samples]:
                lines.append(f"    e.g. {mask_recipient(key)}: {text!r}")
    if not plan.campaigns:
        lines.append("No campaigns found.")
    for d in (*plan.errors, *plan.warnings):
        lines.extend(d.format().splitlines())
    lines.append("")
    if plan.has_changes:
        # Quiet: a spend policy that passed or was not checked is a note; a failed one stays.
        lines.extend(budget_lines(plan, failed_only=not details))
        lines.append(destination_line(plan.destination))  # where what it sends goes
    lines.append(summary_line(plan))
    return "\n".join(lines)


def budget_lines(plan: Plan, *, failed_only: bool = False) -> list[str]:
    """The plan-wide spend policies, one line each: max_cost (when set) and the credit (or
    why it was not checked); `failed_only`: only those that failed."""
    names = {"max_cost": "Budget (policies.max_cost)", "credit": "Credit"}
    return [
        f"{names[r.rule]}: {r.status}: {r.detail}."
        for r in plan.policies
        if r.rule in names and r.status != "not set" and not (failed_only and r.status != "error")
    ]


def summary_line(plan: Plan) -> str:
    """The plan's last line: what will be sent and what it costs, or that nothing changes."""
    s = plan.summary
    if plan.has_changes:
        summary = (
            f"Plan: {plural(s.messages_to_send, 'message')} to send in "
            f"{plural(s.requests, 'request')}"
        )
        if s.sms_parts:
            summary += f", {plural(s.sms_parts, 'SMS part')}"
        summary += f", est. {money(s.estimated_cost, plan.currency)}"
        if s.cancels:
            summary += f"; {plural(s.cancels, 'scheduled request')} to cancel"
        if s.capped:
            summary += f"; {s.capped:,} skipped by the frequency cap"
        summary += f"; {done(s.already_sent, s.scheduled)}."
    else:
        sent = s.already_sent - s.scheduled
        summary = f"No changes. {plural(sent, 'message')} already sent"
        if s.scheduled:
            summary += f", {s.scheduled:,} scheduled for later"
        summary += "."
    if s.in_doubt:
        summary += f" {s.in_doubt:,} in doubt (see above)."
    if plan.errors:
        summary += f" {plural(s.errors, 'error')}: the plan cannot be applied."
    elif s.errors:
        summary += f" {plural(s.errors, 'error')}: blocked campaigns are not applied."
    return summary
