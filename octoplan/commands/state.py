"""`octoplan state list | show ID | unlock | resolve ID | mv OLD NEW | rm ID`: inspect and
repair state."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import datetime

from octoplan import clock, rules
from octoplan.commands.context import AppContext
from octoplan.commands.targets import config_target
from octoplan.errors import OctoplanError, StateError, UsageError
from octoplan.loader import load_project
from octoplan.mask import mask_recipient
from octoplan.state.base import BatchRecord, BatchStatus, CampaignSummary, StateStore, describe_lock
from octoplan.state.open import describe, open_state, state_exists
from octoplan.state.procs import default_actor, user_name
from octoplan.target import DEFAULT, SANDBOX_STATE
from octoplan.words import plural


def _location(app: AppContext) -> str:
    if app.target is None:
        app.target = config_target(app)
    return app.target.state


def _open(app: AppContext) -> StateStore | None:
    """The state, or None when it does not exist yet (reading never creates it)."""
    location = _location(app)
    if not state_exists(location, app.root):
        return None
    return open_state(location, app.root)


def _time(moment: datetime | None) -> str:
    return "-" if moment is None else f"{moment:%Y-%m-%d %H:%M} UTC"


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _table(rows: Sequence[Sequence[str]], right: frozenset[int]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(
            cell.rjust(width) if i in right else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    ]


def run_list(app: AppContext, fmt: str) -> int:
    store = _open(app)
    if store is None:
        where = describe(_location(app))
        if fmt == "json":
            app.echo(json.dumps({"state": where, "serial": 0, "campaigns": []}, indent=2))
        else:
            app.echo(f"No state yet at {where}: nothing has been applied.")
            _sandbox_hint(app)
        return 0
    try:
        # Every apply holding the lock: sharded applies (`--shard I/N`) hold it together.
        info, campaigns, holders = store.info(), store.campaigns(), store.lock_holders()
    finally:
        store.close()
    if fmt == "json":
        document = {
            "state": info.url,
            "lineage": info.lineage,
            "serial": info.serial,
            "locks": [
                {"holder": h.holder, "host": h.host, "pid": h.pid, "since": _iso(h.acquired_at)}
                for h in holders
            ],
            "campaigns": [
                {
                    "id": c.campaign_id,
                    "batches": c.batches,
                    "recipients_sent": c.recipients_sent,
                    "recipients_pending": c.recipients_pending,
                    "recipients_refused": c.recipients_refused,
                    "cost": round(c.cost, 6),
                    "last_activity": _iso(c.last_activity),
                }
                for c in campaigns
            ],
        }
        app.echo(json.dumps(document, indent=2, ensure_ascii=False))
        return 0
    app.note(f"State {info.url} (serial {info.serial}, lineage {info.lineage})")
    for holder in holders:
        app.note(f"Locked by {describe_lock(holder)}.")
    if not campaigns:
        app.echo("No campaigns in state.")
        _sandbox_hint(app)
        return 0
    rows = [["CAMPAIGN", "BATCHES", "SENT", "PENDING", "REFUSED", "COST", "LAST ACTIVITY"]]
    rows += [
        [
            c.campaign_id,
            str(c.batches),
            str(c.recipients_sent),
            str(c.recipients_pending),
            str(c.recipients_refused),
            f"{c.cost:.3f}",
            _time(c.last_activity),
        ]
        for c in campaigns
    ]
    for line in _table(rows, right=frozenset({1, 2, 3, 4, 5})):
        app.echo(line)
    return 0


def _sandbox_hint(app: AppContext) -> None:
    """Sends to the sandbox are recorded in its own state: say where to look."""
    if app.target is None or app.target.name != DEFAULT:
        return
    if state_exists(SANDBOX_STATE, app.root):
        app.note(
            "(apply --sandbox records in the sandbox's own state: `octoplan state list --sandbox`)"
        )


def _batch_json(batch: BatchRecord) -> dict[str, object]:
    # Never the payload: it holds the recipients in clear.
    return {
        "request_id": batch.request_id,
        "status": batch.status.value,
        "channel": batch.channel,
        "endpoint": batch.endpoint,
        "recipients": batch.recipients_count,
        "attempts": batch.attempts,
        "created_at": _iso(batch.created_at),
        "updated_at": _iso(batch.updated_at),
        "first_sent_at": _iso(batch.first_sent_at),
        "send_at": batch.send_at,
        "estimated_cost": batch.estimated_cost,
        "ticket": batch.ticket,
        "cost": batch.cost,
        "cost_estimated": batch.cost_estimated,
        "purpose": batch.purpose,
        "error_code": batch.error_code,
        "error_message": batch.error_message,
    }


def _cost(batch: BatchRecord) -> str:
    """What the API answered it cost, or the estimate marked "est." when its answer was lost."""
    if batch.cost is None:
        return "-"
    return f"{batch.cost:.3f} est." if batch.cost_estimated else f"{batch.cost:.3f}"


def _error(batch: BatchRecord) -> str:
    if batch.error_code is None and batch.error_message is None:
        return ""
    return " ".join(str(part) for part in (batch.error_code, batch.error_message) if part)


def run_show(app: AppContext, campaign_id: str, fmt: str) -> int:
    store = _open(app)
    where = describe(_location(app))
    if store is None:
        batches: list[BatchRecord] = []
    else:
        try:
            batches = store.batches(campaign_id=campaign_id)
            records = store.recipients(campaign_id)
        finally:
            store.close()
    if not batches:
        raise StateError(
            f"campaign {campaign_id} is not in state ({where}); "
            "`octoplan state list` shows the campaigns recorded"
        )
    recipients = [records[key] for key in sorted(records)]
    if fmt == "json":
        document = {
            "campaign": campaign_id,
            "state": where,
            "batches": [_batch_json(batch) for batch in batches],
            "recipients": [
                {
                    "recipient": mask_recipient(r.recipient_key),
                    "status": r.status.value,
                    "request_id": r.request_id,
                    "content_hash": r.content_hash,
                }
                for r in recipients
            ],
        }
        app.echo(json.dumps(document, indent=2, ensure_ascii=False))
        return 0
    app.echo(f"Campaign {campaign_id} in {where}")
    app.echo("")
    rows = [["REQUEST", "STATUS", "RECIPIENTS", "ATTEMPTS", "TICKET", "COST", "CREATED", "ERROR"]]
    rows += [
        [
            b.request_id,
            b.status.value,
            str(b.recipients_count),
            str(b.attempts),
            b.ticket or "-",
            _cost(b),
            _time(b.created_at),
            _error(b),
        ]
        for b in batches
    ]
    for line in _table(rows, right=frozenset({2, 3, 5})):
        app.echo(line)
    app.echo("")
    rows = [["RECIPIENT", "STATUS", "REQUEST"]]
    rows += [[mask_recipient(r.recipient_key), r.status.value, r.request_id] for r in recipients]
    for line in _table(rows, right=frozenset()):
        app.echo(line)
    if any(b.status in (BatchStatus.INTENT, BatchStatus.IN_DOUBT) for b in batches):
        app.note(
            "\nRequests left as intent or in_doubt: if no apply is running, check the Octopush "
            "account, then `octoplan state resolve REQUEST --sent` or `--not-sent`."
        )
    return 0


def run_unlock(app: AppContext, force: bool) -> int:
    store = _open(app)
    if store is None:
        app.echo("The state is not locked.")
        return 0
    try:
        # Sharded applies (`--shard I/N`) leave a lock each: all are shown and removed.
        removed = store.unlock_all(default_actor(), force=force)
    finally:
        store.close()
    if not removed:
        app.echo("The state is not locked.")
    for info in removed:
        app.echo(f"Removed the lock of {describe_lock(info)}; recorded in the state's audit log.")
    return 0


def run_resolve(app: AppContext, request_id: str, outcome: str | None) -> int:
    if outcome is None:
        raise UsageError(
            f"say what happened to request {request_id}: --sent or --not-sent "
            "(check the Octopush account first)"
        )
    sent = outcome == "sent"
    store = _open(app)
    if store is None:
        raise StateError(f"no request {request_id} in state; nothing has been applied yet")
    try:
        if outcome == "cancelled":
            store.resolve_cancelled(request_id, now=clock.now(), actor=default_actor())
        else:
            store.resolve(request_id, sent=sent, now=clock.now(), actor=default_actor())
    finally:
        store.close()
    if outcome == "cancelled":
        app.echo(
            f"Request {request_id} marked cancelled: the next plan sends to its recipients again."
        )
    elif sent:
        app.echo(f"Request {request_id} marked accepted: its recipients count as sent.")
    else:
        app.echo(
            f"Request {request_id} marked not_sent: the next plan sends to its recipients again."
        )
    return 0


def _confirm(app: AppContext, question: str, yes: bool, command: str) -> bool:
    """Ask on a terminal (only 'yes' is accepted); `--yes` answers; no terminal: refuse."""
    if yes:
        return True
    if not sys.stdin.isatty():
        raise UsageError(
            f"`octoplan state {command}` needs confirmation but there is no terminal: "
            "rerun with --yes"
        )
    app.err.file.write(f"{question} Only 'yes' is accepted: ")
    app.err.file.flush()
    return sys.stdin.readline().strip() == "yes"


def _declared(app: AppContext) -> dict[str, str]:
    """Campaign id -> file, for the campaigns the project declares (none if it cannot be
    loaded: state can be repaired with broken campaign files)."""
    try:
        project = load_project(app.root, choice=app.choice())
    except OctoplanError:
        return {}
    return {source.id: source.path for source in project.campaigns}


def _held(store: StateStore, campaign_id: str) -> CampaignSummary:
    found = [c for c in store.campaigns() if c.campaign_id == campaign_id]
    if not found:
        raise StateError(
            f"campaign {campaign_id} is not in state; "
            "`octoplan state list` shows the campaigns recorded"
        )
    return found[0]


def _summary(c: CampaignSummary) -> str:
    return (
        f"{plural(c.batches, 'request')}, {plural(c.recipients_sent, 'recipient')} sent, "
        f"{c.recipients_pending:,} unconfirmed or in doubt"
    )


def run_mv(app: AppContext, old: str, new: str, merge: bool, yes: bool) -> int:
    if not rules.ID_RE.match(new):
        raise UsageError(
            f"'{new}' is not a campaign id: 1 to 64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    declared = _declared(app)
    if old in declared:
        raise StateError(
            f"campaign {old} still has its file ({declared[old]}): its next plan would send "
            f"to all its recipients again. Rename it first (or set `id: {new}` in it)"
        )
    store = _open(app)
    if store is None:
        raise StateError(f"campaign {old} is not in state; nothing has been applied yet")
    try:
        with store.locked(f"octoplan state mv by {user_name()}", timeout=0):
            moving = _held(store, old)
            there = [c for c in store.campaigns() if c.campaign_id == new]
            if there and not merge and old != new:
                raise StateError(
                    f"campaign {new} already has {plural(there[0].batches, 'request')} in "
                    f"state; --merge adds {old}'s to them (each recipient then counts as sent "
                    "if either sent it)"
                )
            question = f"Move the history of campaign {old} ({_summary(moving)}) to {new}?"
            if not _confirm(app, question, yes, "mv"):
                app.error("Cancelled: state unchanged.")
                return 1
            store.move_campaign(old, new, clock.now(), default_actor(), merge=merge)
    finally:
        store.close()
    app.echo(
        f"Moved the history of campaign {old} to {new} ({_summary(moving)}); "
        "recorded in the state's audit log."
    )
    if new not in declared:
        app.note(f"note: no campaign file declares id {new} yet.")
    return 0


def run_rm(app: AppContext, campaign_id: str, force: bool, yes: bool) -> int:
    declared = _declared(app)
    store = _open(app)
    if store is None:
        raise StateError(f"campaign {campaign_id} is not in state; nothing has been applied yet")
    try:
        with store.locked(f"octoplan state rm by {user_name()}", timeout=0):
            # Refused before asking, if it is going to be.
            held = store.forget_campaign(
                campaign_id, clock.now(), default_actor(), force=force, dry_run=True
            )
            question = f"Forget campaign {campaign_id} ({_summary(held)})?"
            if campaign_id in declared:
                question += (
                    f" {declared[campaign_id]} still declares it: its next plan sends to all "
                    "its recipients again (but those sent the same text in the last 30 days)."
                )
            if not _confirm(app, question, yes, "rm"):
                app.error("Cancelled: state unchanged.")
                return 1
            store.forget_campaign(campaign_id, clock.now(), default_actor(), force=force)
    finally:
        store.close()
    app.echo(
        f"Forgot campaign {campaign_id} ({_summary(held)}); recorded in the state's audit log."
    )
    return 0
