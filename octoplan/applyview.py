"""An apply's outcome as JSON (`apply --format json`): for scripts and CI comments.

Stable for scripts: keys are only ever added; `format_version` changes if one is removed or
changes meaning. Per campaign, every figure is read from the plan that was applied and the
report of what happened to each of its requests, so the campaigns add up to the summary.
Recipients are counted, never listed.
"""

from __future__ import annotations

from typing import Any

from octoplan import __version__
from octoplan.apply import ApplyReport
from octoplan.plan import BatchKind, CampaignPlan, Plan
from octoplan.planview import destination_json, shard_json

FORMAT_VERSION = "1"

# status: what a script branches on.
APPLIED = "applied"  # every request planned was accepted (or cancelled)
NO_CHANGES = "no_changes"  # nothing to do: nothing was sent
INCOMPLETE = "incomplete"  # some requests refused, unconfirmed or not started: see campaigns
INTERRUPTED = "interrupted"  # stopped by a signal: the requests in flight were recorded
CANCELLED = "cancelled"  # the question was answered with something else than 'yes'
ERROR = "error"  # refused before anything was sent (stale plan, plan errors, lock...)


def _head(status: str, plan_file: str | None, digest: str | None) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "octoplan_version": __version__,
        "status": status,
        "plan": {"file": plan_file, "digest": digest},
    }


def error_json(message: str, *, plan_file: str | None, digest: str | None) -> dict[str, Any]:
    """An apply that sent nothing: why."""
    return {**_head(ERROR, plan_file, digest), "error": message}


def cancelled_json(plan: Plan, plan_file: str | None) -> dict[str, Any]:
    return _head(CANCELLED, plan_file, plan.digest)


def _campaign_json(c: CampaignPlan, report: ApplyReport) -> dict[str, Any]:
    sends = [b for b in c.batches if b.kind is not BatchKind.CANCEL]
    cancels = [b for b in c.batches if b.kind is BatchKind.CANCEL]
    accepted = [b for b in sends if b.request_id in report.accepted]
    refused = [r for r in report.refusals if r.campaign_id == c.id]
    refused_ids = {r.request_id for r in refused}
    unconfirmed = set(report.unconfirmed)
    waiting_ids = {b.request_id for b in report.waiting}
    waiting = [b for b in sends if b.request_id in waiting_ids]
    recipients = {b.request_id: len(b.recipients) for b in sends}
    return {
        "id": c.id,
        "action": c.action.value,
        "planned": {
            "messages": c.messages_to_send,
            "requests": len(sends),
            "cancels": len(cancels),
        },
        "sent": {
            "messages": sum(len(b.recipients) for b in accepted),
            "requests": len(accepted),
        },
        "cost": round(sum((report.accepted[b.request_id] for b in accepted), 0.0), 6),
        "cancelled": sum(1 for b in cancels if b.request_id not in refused_ids),
        "refused": [
            {
                "request_id": r.request_id,
                "recipients": r.recipients,
                "status": r.status,
                "code": r.code,
                "message": r.message,
            }
            for r in refused
        ],
        "unconfirmed": [
            {"request_id": b.request_id, "recipients": recipients[b.request_id]}
            for b in sends
            if b.request_id in unconfirmed
        ],
        "in_doubt": [{"request_id": d.request_id, "recipients": d.recipients} for d in c.in_doubt],
        # Held back when marketing hours ended (SPEC §7): the next apply sends them.
        "waiting": {
            "messages": sum(len(b.recipients) for b in waiting),
            "requests": len(waiting),
        },
        "not_started": sum(
            1
            for b in sends
            if b.request_id not in report.accepted
            and b.request_id not in refused_ids
            and b.request_id not in unconfirmed
            and b.request_id not in waiting_ids
        ),
    }


def status_of(report: ApplyReport) -> str:
    if report.interrupted:
        return INTERRUPTED
    return APPLIED if report.ok else INCOMPLETE


def apply_json(
    plan: Plan,
    report: ApplyReport | None,
    *,
    plan_file: str | None,
) -> dict[str, Any]:
    """The outcome of applying `plan`; `report` None: the plan had nothing to do."""
    report = report if report is not None else ApplyReport()
    status = status_of(report) if plan.has_changes else NO_CHANGES
    campaigns = [_campaign_json(c, report) for c in plan.campaigns]
    return {
        **_head(status, plan_file, plan.digest),
        "target": "sandbox" if plan.sandbox else "octopush",
        "environment": destination_json(plan.destination),
        "shard": shard_json(plan.shard),  # `--shard I/N`: the part applied (null: all)
        "state": {  # as planned, before this apply wrote to it
            "lineage": plan.state.lineage,
            "serial": plan.state.serial,
            "location": plan.state.url,
        },
        "summary": {
            "messages_sent": report.messages_sent,
            "requests_accepted": report.requests_accepted,
            "confirmed_by_request_id": report.confirmed_by_request_id,
            "refused": len(report.refusals),
            "unconfirmed": len(report.unconfirmed),
            "in_doubt": sum(len(c["in_doubt"]) for c in campaigns),
            "marked_in_doubt": report.marked_in_doubt,
            "cancelled": report.cancelled,
            "not_started": report.skipped,
            "waiting": {
                "messages": sum(len(b.recipients) for b in report.waiting),
                "requests": len(report.waiting),
            },
            "cost": report.cost,
            # Of `cost`: what was estimated because the API's answer (its cost) was lost.
            "estimated_cost": report.estimated_cost,
            "currency": plan.currency,
            "residual_credit": report.residual_credit,
        },
        "campaigns": campaigns,
    }
