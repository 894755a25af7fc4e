"""A voice campaign on a list with a send_at (octoplan/scheduled.py): the API deletes such a
campaign only before it is confirmed, and apply confirms it as it creates it, so once applied it
can never be cancelled. A plan that moves its send_at, disables it or removes its file must say
so instead of planning a cancel the API can only refuse (which held the replacement back for
good); the way out, once the account shows it cancelled, is `state resolve --cancelled`.

The real CLI and sandbox (whose clock follows OCTOPLAN_NOW).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from octoplan.sandbox import SandboxServer
from tests.fixtures.project import MakeProject, run_cli, write_files

CONFIG = "region: FR\ndefaults: {sender: ShopX}\n"
CALL = (
    "channel: voice_sms\npurpose: alert\non_list: true\nlist_name: rappel\n"
    "metadata: {voice_gender: female, voice_language: fr-FR}\n"
    'text: "Bonjour, votre colis arrive demain."\n'
    "contacts: [contacts/customers.csv]\n"
)
SEND_AT = "2026-11-26T10:00:00+01:00"
TUESDAY = "2026-11-24T10:00:00+01:00"
NUMBERS = ["+33612340000", "+33612340001"]


def run(root: Path, *args: str, server: SandboxServer | None = None) -> Any:
    return run_cli(
        *args, cwd=root, env={"OCTOPLAN_NOW": TUESDAY, **(server.env() if server else {})}
    )


def applied(make_project: MakeProject, sandbox: SandboxServer) -> tuple[Path, str]:
    root = make_project(
        {
            "campaigns/call.yaml": CALL + f"send_at: {SEND_AT}\n",
            "contacts/customers.csv": "phone_number\n" + "".join(f"{n}\n" for n in NUMBERS),
        },
        CONFIG,
    )
    first = run(root, "apply", "--auto-approve", server=sandbox)
    assert first.returncode == 0, first.stdout + first.stderr
    [request_id] = {d.request_id for d in sandbox.deliveries()}
    return root, request_id


def deletes(sandbox: SandboxServer) -> int:
    return [r.method for r in sandbox.requests()].count("DELETE")


def test_moving_the_send_at_of_a_voice_list_campaign_is_an_error_not_a_cancel(
    make_project: MakeProject, sandbox: SandboxServer
) -> None:
    root, request_id = applied(make_project, sandbox)
    write_files(root, {"campaigns/call.yaml": CALL + "send_at: 2026-11-27T11:00:00+01:00\n"})

    plan = run(root, "plan")

    assert plan.returncode == 1, plan.stdout + plan.stderr
    assert (
        f"    campaigns/call.yaml:8:10: error: campaign call: send_at moved to "
        f"2026-11-27T11:00:00+01:00, but its scheduled request {request_id} (2 recipients) goes "
        f"out at {SEND_AT}, and a voice campaign on a list cannot be cancelled: the API deletes "
        "one only before it is confirmed, and apply confirms it as it creates it\n"
        "      hint: undo the change; or, if it must not go out, cancel it in the Octopush account "
        f"and run `octoplan state resolve {request_id} --cancelled`: the next plan then sends "
        "its recipients what the campaign says now\n"
    ) in plan.stdout
    refused = run(root, "apply", "--auto-approve", server=sandbox)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert deletes(sandbox) == 0  # no cancel the API could only refuse

    # Cancelled in the account (by Octopush's support: the sandbox, like the API, refuses it,
    # so its old ticket stays), settled by hand: the next apply sends the moved campaign, once.
    resolved = run(root, "state", "resolve", request_id, "--cancelled")
    assert resolved.returncode == 0, resolved.stdout + resolved.stderr
    again = run(root, "apply", "--auto-approve", server=sandbox)
    assert again.returncode == 0, again.stdout + again.stderr
    later = [d for d in sandbox.deliveries() if d.request_id != request_id]
    assert sorted(d.recipient for d in later) == NUMBERS
    assert {d.send_at.isoformat() for d in later if d.send_at} == {"2026-11-27T10:00:00+00:00"}
    assert deletes(sandbox) == 0


def test_a_disabled_or_removed_voice_list_campaign_says_it_still_goes_out(
    make_project: MakeProject, sandbox: SandboxServer
) -> None:
    root, request_id = applied(make_project, sandbox)
    write_files(root, {"campaigns/call.yaml": CALL + f"send_at: {SEND_AT}\nenabled: false\n"})

    disabled = run(root, "plan")

    assert disabled.returncode == 1, disabled.stdout + disabled.stderr
    assert (
        f"error: campaign call: the campaign is disabled, but its scheduled request {request_id} "
        f"(2 recipients) goes out at {SEND_AT}, and a voice campaign on a list cannot be "
        "cancelled"
    ) in disabled.stdout + disabled.stderr

    (root / "campaigns" / "call.yaml").unlink()
    removed = run(root, "plan")
    assert removed.returncode == 0, removed.stdout + removed.stderr
    assert (
        f"request {request_id} is a voice campaign on a list, which cannot be cancelled once "
        f"confirmed: it goes out at {SEND_AT} (cancel it in the Octopush account, then "
        f"`octoplan state resolve {request_id} --cancelled`)"
    ) in removed.stdout
    assert run(root, "apply", "--auto-approve", server=sandbox).returncode == 0
    assert deletes(sandbox) == 0
