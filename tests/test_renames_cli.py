"""A campaign's identity survives renames (SPEC section 6), through the real CLI and sandbox.

After a full send, `git mv campaigns/promo.yaml campaigns/promo-2026.yaml` (no `id:`) or a new
`id:` made a new campaign, and apply sent everybody the same text again. Now: the 30-day guard
blocks the plan, naming the earlier campaign, the date and both fixes; `renamed_from:` makes
the old id's history the campaign's own (sent, unconfirmed, in doubt, scheduled); `state mv`
moves it for good; `state rm` forgets a campaign. Every delivery is counted at the sandbox.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from pathlib import Path

import pytest

from octoplan import clock
from octoplan.sandbox import SandboxServer
from octoplan.state.open import open_state
from tests.fixtures.project import MakeProject, run_cli, run_on_terminal, write_files
from tests.fixtures.sandbox import SandboxFactory

TEXT = "Bonjour {{ contact.first_name }}, -20% ce week-end chez ShopX"
CAMPAIGN = 'channel: sms\npurpose: alert\ntext: "{text}"\ncontacts: [contacts/c.csv]\n'


def contacts(count: int) -> str:
    rows = ["phone_number,first_name"] + [f"+336123400{i:02d},Name{i}" for i in range(count)]
    return "\n".join(rows) + "\n"


@pytest.fixture
def project(make_project: MakeProject, state_url: str) -> Path:
    return make_project(
        {
            "campaigns/promo.yaml": CAMPAIGN.format(text=TEXT),
            "contacts/c.csv": contacts(4),
        },
        config=f"region: FR\nstate: {state_url}\n",
    )


def apply(root: Path, server: SandboxServer, *args: str, **env: str):  # type: ignore[no-untyped-def]
    return run_cli("apply", "--auto-approve", *args, cwd=root, env={**server.env(), **env})


def per_recipient(server: SandboxServer) -> Counter[str]:
    return Counter(d.recipient for d in server.deliveries())


def rename(root: Path, new: str, header: str = "") -> None:
    text = (root / "campaigns/promo.yaml").read_text(encoding="utf-8")
    (root / "campaigns/promo.yaml").unlink()
    write_files(root, {f"campaigns/{new}.yaml": header + text})


def today() -> str:
    return f"{clock.now():%Y-%m-%d}"  # the tests' clock (tests/conftest.py)


def guard_error(path: str, position: str, new: str, count: int, example: str) -> str:
    return (
        f"{path}:{position}: error: campaign {new} would send {count} recipients "
        f"(e.g. {example}) the very text campaign promo sent them on {today()}: a recipient "
        "never gets the same text twice within 30 days\n"
        f"  hint: if {new} is promo renamed, add `renamed_from: [promo]` to it (or run "
        f"`octoplan state mv promo {new}`); to send it again on purpose, set "
        "`allow_repeat: true`"
    )


@pytest.mark.parametrize("how", ["git mv", "new id"])
def test_a_renamed_campaign_is_blocked_not_sent_again(
    project: Path, sandbox: SandboxServer, how: str
) -> None:
    assert apply(project, sandbox).returncode == 0
    if how == "git mv":
        rename(project, "promo-2026")
        path, position = "campaigns/promo-2026.yaml", "1:1"
    else:
        write_files(
            project, {"campaigns/promo.yaml": "id: promo-2026\n" + CAMPAIGN.format(text=TEXT)}
        )
        path, position = "campaigns/promo.yaml", "1:1"

    plan = run_cli("plan", cwd=project)
    assert plan.returncode == 1
    expected = guard_error(path, position, "promo-2026", 4, "+33 6•• •• •• 00")
    assert "\n".join("    " + line for line in expected.splitlines()) in plan.stdout
    again = apply(project, sandbox)
    assert again.returncode == 1
    assert again.stderr == expected + "\nerror: the plan has errors: nothing was sent\n"
    assert set(per_recipient(sandbox).values()) == {1}
    assert len(per_recipient(sandbox)) == 4


def test_renamed_from_makes_the_old_history_the_campaigns_own(
    project: Path, sandbox: SandboxServer
) -> None:
    assert apply(project, sandbox).returncode == 0
    rename(project, "promo-2026", header="renamed_from: [promo]\n")
    write_files(project, {"contacts/c.csv": contacts(6)})

    plan = json.loads(run_cli("plan", "--format", "json", cwd=project).stdout)
    [campaign] = plan["campaigns"]
    assert (campaign["id"], campaign["action"], campaign["already_sent"]) == (
        "promo-2026",
        "update",
        4,
    )
    assert campaign["messages_to_send"] == 2
    result = apply(project, sandbox)
    assert result.returncode == 0, result.stdout + result.stderr
    assert per_recipient(sandbox) == Counter({f"+336123400{i:02d}": 1 for i in range(6)})
    # A rerun sends nothing; the whole project's plan does not take promo for a removed one.
    rerun = run_cli("plan", "--detailed-exitcode", cwd=project)
    assert rerun.returncode == 0, rerun.stdout
    assert "promo-2026 (sms, campaigns/promo-2026.yaml): no changes (6 already sent)" in (
        rerun.stdout
    )


def test_renamed_from_resumes_the_old_ids_unconfirmed_request_under_its_request_id(
    project: Path, sandbox_factory: SandboxFactory
) -> None:
    lossy = sandbox_factory(drop_rate=1.0)  # the API takes it, its answers are lost
    first = apply(project, lossy)
    assert first.returncode == 1
    assert "1 request got no answer after retries" in first.stdout
    [request_id] = {r.request_id for r in lossy.requests() if r.request_id}
    rename(project, "promo-2026")

    # Without renamed_from, the guard sees the unconfirmed request too.
    blocked = run_cli("plan", cwd=project)
    assert blocked.returncode == 1
    assert "the very text campaign promo sent them on" in blocked.stdout

    rename_to = project / "campaigns/promo-2026.yaml"
    rename_to.write_text("renamed_from: [promo]\n" + rename_to.read_text(encoding="utf-8"))
    plan = run_cli("plan", cwd=project)
    assert f"~ resend unconfirmed request {request_id} (4 recipients, same request_id)" in (
        plan.stdout
    )
    # Past the API's window it would be in doubt, the renamed campaign's to settle.
    later = run_cli("plan", cwd=project, env={"OCTOPLAN_CLOCK_OFFSET": str(25 * 3600)})
    assert f"    in doubt: request {request_id} (4 recipients) was sent more than 23 h ago" in (
        later.stdout
    )
    assert "promo-2026 (sms, campaigns/promo-2026.yaml): no changes" in later.stdout
    lossy.set_faults(drop_rate=0.0)
    result = apply(project, lossy)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 request was confirmed by the API as already received" in result.stdout
    assert set(per_recipient(lossy).values()) == {1}


def test_renamed_from_cancels_the_old_ids_scheduled_sends_as_its_own(
    project: Path, sandbox_factory: SandboxFactory
) -> None:
    write_files(
        project,
        {
            "campaigns/promo.yaml": "send_at: 2099-01-05T10:00:00+01:00\n"
            + CAMPAIGN.format(text=TEXT)
        },
    )
    server = sandbox_factory()
    assert apply(project, server).returncode == 0
    [scheduled] = {r.request_id for r in server.requests() if r.request_id}
    rename(project, "promo-2026", header="renamed_from: [promo]\n")
    write_files(project, {"contacts/c.csv": contacts(3)})  # one recipient removed

    plan = run_cli("plan", cwd=project)
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert f"    - cancel scheduled request {scheduled} (ticket " in plan.stdout
    assert f"scheduled request {scheduled} (4 recipients, send_at " in plan.stdout
    assert "is replaced (1 recipient removed): it is cancelled" in plan.stdout
    result = apply(project, server)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 scheduled request cancelled." in result.stdout
    live = [d for d in server.deliveries() if d.status != "cancelled"]
    assert Counter(d.recipient for d in live) == Counter(
        {f"+336123400{i:02d}": 1 for i in range(3)}
    )


def test_a_different_campaign_may_not_repeat_a_text_unless_it_says_so(
    project: Path, sandbox: SandboxServer
) -> None:
    assert apply(project, sandbox).returncode == 0
    # Another campaign, another sender, the same text for two of the same people.
    copy = "sender: Promo\n" + CAMPAIGN.format(text=TEXT).replace("c.csv", "d.csv")
    write_files(project, {"campaigns/copy.yaml": copy, "contacts/d.csv": contacts(2)})

    blocked = run_cli("plan", cwd=project)
    assert blocked.returncode == 1
    assert (
        "    campaigns/copy.yaml:1:1: error: campaign copy would send 2 recipients "
        "(e.g. +33 6•• •• •• 00) the very text campaign promo sent them on"
    ) in blocked.stdout
    # Another text is no repeat; neither is the same one after 30 days.
    other = copy.replace("-20%", "-30%")
    write_files(project, {"campaigns/copy.yaml": other})
    assert run_cli("plan", cwd=project).returncode == 0
    write_files(project, {"campaigns/copy.yaml": copy})
    later = {"OCTOPLAN_CLOCK_OFFSET": str(31 * 24 * 3600)}
    assert run_cli("plan", cwd=project, env=later).returncode == 0

    write_files(project, {"campaigns/copy.yaml": "allow_repeat: true\n" + copy})
    result = apply(project, sandbox)
    assert result.returncode == 0, result.stdout + result.stderr
    assert per_recipient(sandbox) == Counter(
        {"+33612340000": 2, "+33612340001": 2, "+33612340002": 1, "+33612340003": 1}
    )


def test_a_copy_planned_with_its_original_is_blocked_before_anything_is_sent(
    project: Path, sandbox: SandboxServer
) -> None:
    """Copied before the first apply: state knows neither, but one apply would send both."""
    write_files(project, {"campaigns/promo2.yaml": CAMPAIGN.format(text=TEXT)})

    result = apply(project, sandbox)

    assert result.returncode == 1
    assert result.stderr == (
        "campaigns/promo2.yaml:1:1: error: campaign promo2 would send 4 recipients "
        "(e.g. +33 6•• •• •• 00) the very text campaign promo sends them in this same plan: a "
        "recipient never gets the same text twice within 30 days\n"
        "  hint: send it from one of the two campaigns only; to send it twice on purpose, "
        "set `allow_repeat: true` in campaigns/promo2.yaml\n"
        "error: the plan has errors: nothing was sent\n"
    )
    assert sandbox.requests() == []
    write_files(
        project, {"campaigns/promo2.yaml": CAMPAIGN.format(text=TEXT.replace("-20", "-25"))}
    )
    assert apply(project, sandbox).returncode == 0
    assert set(per_recipient(sandbox).values()) == {2}
    assert len({d.text for d in sandbox.deliveries()}) == 8


def test_batches_journaled_before_schema_3_are_checked_from_their_body(
    project: Path, sandbox: SandboxServer, state_url: str
) -> None:
    assert apply(project, sandbox).returncode == 0
    store = open_state(state_url, project)
    try:  # as a version 2 state left them: no options recorded
        with store._write() as tx:  # type: ignore[attr-defined]
            tx.run("UPDATE batch_bodies SET options = NULL")
    finally:
        store.close()
    rename(project, "promo-2026")
    plan = run_cli("plan", cwd=project)
    assert plan.returncode == 1
    assert "campaign promo-2026 would send 4 recipients" in plan.stdout


def test_renamed_from_conflicts_are_errors(make_project: MakeProject) -> None:
    root = make_project(
        {
            "campaigns/a.yaml": "renamed_from: [a, old]\n" + CAMPAIGN.format(text=TEXT),
            "campaigns/b.yaml": "renamed_from: [old, c]\n" + CAMPAIGN.format(text=TEXT),
            "campaigns/c.yaml": CAMPAIGN.format(text=TEXT),
            "contacts/c.csv": contacts(1),
        }
    )
    result = run_cli("validate", cwd=root)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        "campaigns/a.yaml:1:16: error: campaign a cannot be renamed from itself\n"
        "  hint: remove it from the list\n"
        "campaigns/b.yaml:1:16: error: renamed_from 'old': campaign a (campaigns/a.yaml) "
        "claims it too\n"
        "  hint: the history of a campaign can follow one campaign only: keep it in one "
        "renamed_from list\n"
        "campaigns/b.yaml:1:21: error: renamed_from 'c': campaign c still has its own file "
        "(campaigns/c.yaml)\n"
        "  hint: if b is c renamed, delete campaigns/c.yaml; otherwise remove 'c' from "
        "renamed_from\n"
        "3 errors in 2 files\n"
    )


def test_state_mv_moves_a_history_for_good(
    project: Path, sandbox: SandboxServer, state_url: str
) -> None:
    assert apply(project, sandbox).returncode == 0
    # Refused while promo still has its file: its plan would then send to everybody again.
    early = run_cli("state", "mv", "promo", "promo-2026", "--yes", cwd=project)
    assert (early.returncode, early.stderr) == (
        1,
        "error: campaign promo still has its file (campaigns/promo.yaml): its next plan "
        "would send to all its recipients again. Rename it first (or set `id: promo-2026` "
        "in it)\n",
    )
    rename(project, "promo-2026")
    no_tty = run_cli("state", "mv", "promo", "promo-2026", cwd=project, input="yes\n")
    assert (no_tty.returncode, no_tty.stderr) == (
        1,
        "error: `octoplan state mv` needs confirmation but there is no terminal: "
        "rerun with --yes\n",
    )

    moved = run_cli("state", "mv", "promo", "promo-2026", "--yes", cwd=project)

    assert moved.returncode == 0, moved.stderr
    assert moved.stdout == (
        "Moved the history of campaign promo to promo-2026 (1 request, 4 recipients sent, "
        "0 unconfirmed or in doubt); recorded in the state's audit log.\n"
    )
    plan = run_cli("plan", "--detailed-exitcode", cwd=project)
    assert plan.returncode == 0, plan.stdout
    listed = json.loads(run_cli("state", "list", "--format", "json", cwd=project).stdout)
    assert [c["id"] for c in listed["campaigns"]] == ["promo-2026"]
    assert apply(project, sandbox).returncode == 0
    assert set(per_recipient(sandbox).values()) == {1}

    # NEW has history now: moving another one onto it needs --merge.
    write_files(project, {"campaigns/other.yaml": CAMPAIGN.format(text="Autre chose")})
    assert apply(project, sandbox).returncode == 0
    (project / "campaigns/other.yaml").unlink()
    refused = run_cli("state", "mv", "other", "promo-2026", "--yes", cwd=project)
    assert (refused.returncode, refused.stderr) == (
        1,
        "error: campaign promo-2026 already has 1 request in state; --merge adds other's "
        "to them (each recipient then counts as sent if either sent it)\n",
    )
    merged = run_cli("state", "mv", "other", "promo-2026", "--merge", "--yes", cwd=project)
    assert merged.returncode == 0, merged.stderr
    store = open_state(state_url, project)
    try:
        log = [(e.action, re.sub(r" \(by .*\)$", "", e.detail)) for e in store.audit_log()]
    finally:
        store.close()
    assert log == [
        ("mv", "moved 1 request(s) of campaign promo to promo-2026"),
        ("mv", "moved 1 request(s) of campaign other to promo-2026, merged with its 1"),
    ]


def test_state_rm_forgets_a_campaign_but_not_its_unsettled_requests(
    project: Path, sandbox_factory: SandboxFactory
) -> None:
    lossy = sandbox_factory(drop_rate=1.0)
    assert apply(project, lossy).returncode == 1  # unconfirmed: may have been sent
    (project / "campaigns/promo.yaml").unlink()

    refused = run_cli("state", "rm", "promo", "--yes", cwd=project)
    assert (refused.returncode, refused.stderr) == (
        1,
        "error: campaign promo has 1 unconfirmed or in-doubt request(s): forgotten, they "
        "could no longer be resent under their request_id, settled or cancelled. Settle them "
        "first (`octoplan state resolve`, or let them go out), or use --force\n",
    )
    asked = run_cli("state", "rm", "promo", "--force", cwd=project, input="yes\n")
    assert asked.returncode == 1
    assert "needs confirmation but there is no terminal" in asked.stderr

    forced = run_cli("state", "rm", "promo", "--force", "--yes", cwd=project)

    assert forced.returncode == 0, forced.stderr
    assert forced.stdout == (
        "Forgot campaign promo (1 request, 0 recipients sent, 4 unconfirmed or in doubt); "
        "recorded in the state's audit log.\n"
    )
    listed = run_cli("state", "list", cwd=project)
    assert listed.stdout == "No campaigns in state.\n"
    missing = run_cli("state", "rm", "promo", "--yes", cwd=project)
    assert missing.stderr == (
        "error: campaign promo is not in state; `octoplan state list` shows the campaigns "
        "recorded\n"
    )


def _on_a_terminal(root: Path, answer: str, *args: str) -> tuple[int, str]:
    """Run octoplan on a pseudo-terminal; type `answer` when it asks."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OCTOPUSH_", "OCTOPLAN_"))}
    return run_on_terminal(args, root, {**env, "NO_COLOR": "1"}, answer=answer, timeout=60)


def test_state_rm_asks_on_a_terminal(project: Path, sandbox: SandboxServer) -> None:
    assert apply(project, sandbox).returncode == 0
    question = (
        "Forget campaign promo (1 request, 4 recipients sent, 0 unconfirmed or in doubt)? "
        "campaigns/promo.yaml still declares it: its next plan sends to all its recipients "
        "again (but those sent the same text in the last 30 days). Only 'yes' is accepted: "
    )
    code, output = _on_a_terminal(project, "y", "state", "rm", "promo")
    assert (code, output) == (1, question + "y\nCancelled: state unchanged.\n")

    code, output = _on_a_terminal(project, "yes", "state", "rm", "promo")

    assert (code, output) == (
        0,
        question + "yes\nForgot campaign promo (1 request, 4 recipients sent, 0 unconfirmed "
        "or in doubt); recorded in the state's audit log.\n",
    )
