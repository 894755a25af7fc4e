"""Cancelling scheduled sends (octoplan/plan.py, octoplan/apply.py) where it can go wrong: a
cancel the API keeps failing (nothing new goes out until it succeeds, then each recipient gets
one message), a removed campaign whose send is too soon to cancel or already gone, a disabled
campaign whose send already went, and a disabled campaign with an unconfirmed request.

The real CLI, the real sandbox (its own clock follows OCTOPLAN_NOW, cancels within its 10
minute margin refused as the API does).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from octoplan.sandbox import SandboxServer
from octoplan.state.base import BatchStatus
from octoplan.state.open import open_state
from tests.fixtures.project import MakeProject, run_cli, write_files
from tests.test_apply_edges import kill_in_flight

CONFIG = "region: FR\ndefaults: {sender: ShopX}\n"
STOP = "STOP au 30101"
PROMO = f'channel: sms\ntext: "Promo -30% {STOP}"\ncontacts: [contacts/customers.csv]\n'
SEND_AT = "2026-11-26T10:00:00+01:00"
SCHEDULED = PROMO + f"send_at: {SEND_AT}\n"
MOVED = "2026-11-27T11:00:00+01:00"
TUESDAY = "2026-11-24T10:00:00+01:00"
NUMBERS = ["+33612340000", "+33612340001"]


def run(root: Path, now: str, *args: str, server: SandboxServer | None = None) -> Any:
    env = {"OCTOPLAN_NOW": now, **(server.env() if server else {})}
    return run_cli(*args, cwd=root, env=env)


def statuses(root: Path) -> dict[str, BatchStatus]:
    store = open_state(".octoplan/state.db", root)
    try:
        return {b.request_id: b.status for b in store.batches("promo")}
    finally:
        store.close()


def live(server: SandboxServer) -> dict[str, str]:
    """Recipient -> send_at of each delivery not cancelled; each recipient once at most."""
    kept = [d for d in server.deliveries() if d.status != "cancelled"]
    assert [k for k, n in Counter(d.recipient for d in kept).items() if n > 1] == []
    return {d.recipient: d.send_at.isoformat() if d.send_at else "" for d in kept}


@pytest.fixture
def scheduled(
    make_project: MakeProject, sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, str]:
    """A marketing send scheduled for Thursday 10:00, applied on Tuesday: (root, request_id)."""
    root = make_project(
        {
            "campaigns/promo.yaml": SCHEDULED,
            "contacts/customers.csv": "phone_number\n" + "".join(f"{n}\n" for n in NUMBERS),
        },
        CONFIG,
    )
    result = run(root, TUESDAY, "apply", "--auto-approve", server=sandbox)
    assert result.returncode == 0, result.stdout + result.stderr
    [request_id] = statuses(root)
    return root, request_id


def test_a_cancel_the_api_keeps_failing_holds_the_replacement_until_it_succeeds(
    scheduled: tuple[Path, str], sandbox: SandboxServer
) -> None:
    root, old = scheduled
    write_files(root, {"campaigns/promo.yaml": PROMO + f"send_at: {MOVED}\n"})
    sandbox.inject("fail", "fail", "fail", "fail", "fail", "fail")  # the cancel, 5 retries
    result = run(root, TUESDAY, "apply", "--auto-approve", server=sandbox)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Apply finished with problems: 0 messages sent in 0 requests" in result.stdout
    assert (
        f"  refused: promo request {old} (2 recipients): HTTP 500 code 500: Internal server "
        "error.\n"
    ) in result.stdout
    assert "  1 request not started: run `octoplan apply` again.\n" in result.stdout
    # The scheduled send stands, recorded as it is; nothing new went out beside it.
    assert statuses(root) == {old: BatchStatus.ACCEPTED}
    assert live(sandbox) == dict.fromkeys(NUMBERS, "2026-11-26T09:00:00+00:00")

    again = run(root, TUESDAY, "apply", "--auto-approve", server=sandbox)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "1 scheduled request cancelled." in again.stdout
    [new] = set(statuses(root)) - {old}
    assert statuses(root) == {old: BatchStatus.CANCELLED, new: BatchStatus.ACCEPTED}
    assert live(sandbox) == dict.fromkeys(NUMBERS, "2026-11-27T10:00:00+00:00")


def test_a_removed_campaign_too_soon_to_cancel_is_left_to_go_out(
    scheduled: tuple[Path, str], sandbox: SandboxServer
) -> None:
    root, old = scheduled
    (root / "campaigns/promo.yaml").unlink()
    five_to = "2026-11-26T09:55:00+01:00"
    plan = run(root, five_to, "plan", "--detailed-exitcode")
    assert (plan.returncode, plan.stderr) == (0, "")
    assert plan.stdout == (
        "  promo (sms, file removed): no changes (2 scheduled for later)\n"
        "    note: campaign file removed: nothing is cancelled\n"
        f"    note: request {old} is scheduled too soon to cancel (10 minutes or less)\n\n"
        "No changes. 0 messages already sent, 2 scheduled for later.\n"
    )
    applied = run(root, five_to, "apply", "--auto-approve", server=sandbox)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert statuses(root) == {old: BatchStatus.ACCEPTED}
    assert live(sandbox) == dict.fromkeys(NUMBERS, "2026-11-26T09:00:00+00:00")


def test_a_removed_campaign_whose_send_went_out_plans_nothing(
    scheduled: tuple[Path, str],
) -> None:
    root, old = scheduled
    (root / "campaigns/promo.yaml").unlink()
    plan = run(root, "2026-11-26T10:01:00+01:00", "plan", "--detailed-exitcode")
    assert (plan.returncode, plan.stderr) == (0, "")
    assert plan.stdout == "No campaigns found.\n\nNo changes. 0 messages already sent.\n"
    assert statuses(root) == {old: BatchStatus.ACCEPTED}


def test_a_disabled_campaign_whose_send_went_out_cancels_nothing(
    scheduled: tuple[Path, str], sandbox: SandboxServer
) -> None:
    root, old = scheduled
    write_files(root, {"campaigns/promo.yaml": SCHEDULED + "enabled: false\n"})
    after = "2026-11-26T10:00:00+01:00"  # the very minute it goes out: too late, and no error
    plan = run(root, after, "plan", "--detailed-exitcode")
    assert (plan.returncode, plan.stderr) == (0, "")
    assert plan.stdout == (  # what state holds as sent, though nothing new is sent
        "  promo (sms, campaigns/promo.yaml): no changes (2 already sent)\n"
        "    note: campaign disabled (enabled: false): nothing new is sent\n\n"
        "No changes. 2 messages already sent.\n"
    )
    applied = run(root, after, "apply", "--auto-approve", server=sandbox)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert not [r for r in sandbox.requests() if r.method == "DELETE"]
    assert statuses(root) == {old: BatchStatus.ACCEPTED}


def test_a_disabled_campaign_leaves_its_unconfirmed_request_unsent_then_in_doubt(
    make_project: MakeProject, sandbox: SandboxServer
) -> None:
    root = make_project(
        {
            "campaigns/promo.yaml": PROMO.replace("channel: sms", "id: promo\nchannel: sms"),
            "contacts/customers.csv": "phone_number\n" + "".join(f"{n}\n" for n in NUMBERS),
        },
        CONFIG,
    )
    request_id = kill_in_flight(root, sandbox.env(), sandbox)
    write_files(root, {"campaigns/promo.yaml": PROMO + "enabled: false\n"})
    plan = run(root, TUESDAY, "plan", "--detailed-exitcode")
    assert (plan.returncode, plan.stderr) == (0, "")
    assert plan.stdout == (
        "  promo (sms, campaigns/promo.yaml): no changes (0 already sent)\n"
        "    note: campaign disabled (enabled: false): nothing new is sent\n"
        "    note: 1 unconfirmed request not resent while the campaign is disabled\n\n"
        "No changes. 0 messages already sent.\n"
    )
    applied = run(root, TUESDAY, "apply", "--auto-approve", server=sandbox)
    assert (applied.returncode, applied.stdout) == (0, plan.stdout), applied.stderr
    assert [r.request_id for r in sandbox.requests() if r.method == "POST"] == [request_id]
    assert statuses(root) == {request_id: BatchStatus.INTENT}
    # Two days later, past the API's 24 h request_id window: in doubt, never resent.
    later = run(root, "2026-11-26T10:00:00+01:00", "plan")
    assert later.returncode == 0, later.stdout + later.stderr
    assert later.stdout.startswith(
        "  promo (sms, campaigns/promo.yaml): no changes (0 already sent)\n"
        "    note: campaign disabled (enabled: false): nothing new is sent\n"
        f"    in doubt: request {request_id} (2 recipients) was sent more than 23 h ago with no "
        "confirmation; it is never resent automatically. Check the Octopush dashboard, then run "
        f"`octoplan state resolve {request_id} --sent` or `--not-sent`\n"
    )
    assert later.stdout.endswith(
        "Plan: 0 messages to send in 0 requests, est. 0.00 EUR; 0 already sent. 2 in doubt "
        "(see above).\n"
    )


def test_a_disabled_campaign_counts_what_stays_sent_once_its_cancels_are_done(
    scheduled: tuple[Path, str],
) -> None:
    root, old = scheduled
    write_files(root, {"campaigns/promo.yaml": SCHEDULED + "enabled: false\n"})
    cancelling = run(root, TUESDAY, "plan", "--format", "json")
    too_late = run(root, "2026-11-26T09:55:00+01:00", "plan", "--format", "json")
    assert cancelling.returncode == 0, cancelling.stdout + cancelling.stderr
    assert too_late.returncode == 1, too_late.stdout + too_late.stderr
    counts = ("action", "already_sent", "scheduled", "desired")
    [campaign] = json.loads(cancelling.stdout)["campaigns"]
    assert {k: campaign[k] for k in counts} == {
        "action": "cancel",
        "already_sent": 0,  # its two recipients' send is cancelled by this plan
        "scheduled": 0,
        "desired": 0,
    }
    assert [b["request_id"] for b in campaign["batches"]] == [old]
    [campaign] = json.loads(too_late.stdout)["campaigns"]
    assert {k: campaign[k] for k in counts} == {
        "action": "blocked",
        "already_sent": 2,  # going out at 10:00 whatever the plan says
        "scheduled": 2,
        "desired": 0,
    }


def test_a_removed_campaign_s_plan_cancels_its_scheduled_send_and_counts_nothing_else(
    scheduled: tuple[Path, str],
) -> None:
    """The JSON plan of a campaign whose file was removed: one cancel, every count 0."""
    root, old = scheduled
    (root / "campaigns/promo.yaml").unlink()
    plan = run(root, TUESDAY, "plan", "--format", "json")
    assert (plan.returncode, plan.stderr) == (0, "")
    store = open_state(".octoplan/state.db", root)
    try:
        [ticket] = [b.ticket for b in store.batches("promo")]
    finally:
        store.close()
    [campaign] = json.loads(plan.stdout)["campaigns"]
    cancel = {
        "request_id": old,
        "kind": "cancel",
        "endpoint": "sms-campaign/send",
        "recipients": ["+33 6•• •• •• 00", "+33 6•• •• •• 01"],
        "recipient_count": 2,
        "ticket": ticket,
        "send_at": SEND_AT,
        "reason": "file removed",
    }
    assert campaign == {
        "id": "promo",
        "file": None,
        "channel": "sms",
        "action": "cancel",
        "purpose": "wholesale",
        "send_at": None,
        "messages_to_send": 0,
        "requests": 0,
        "capped": 0,
        "desired": 0,
        "already_sent": 0,
        "pending": 0,
        "changed_after_send": 0,
        "duplicates": 0,
        "excluded": 0,
        "opted_out": 0,
        "opted_out_recipients": [],
        "estimated_cost": 0,
        "batches": [cancel],
        "in_doubt": [],
        "scheduled": 0,
        "text_change": None,
        "notes": ["campaign file removed: its scheduled sends are cancelled"],
        "warnings": [],
        "errors": [],
        "samples": [],
    }
