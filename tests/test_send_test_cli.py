"""`octoplan send-test` (issue 17, SPEC §9): a campaign's text for one recipient, sent now to
the given addresses through the real client, every check applied, recorded as a test and never
as a send to the campaign's recipients. Through the real CLI and the sandbox."""

from __future__ import annotations

import re
from pathlib import Path

from octoplan.sandbox import SandboxServer
from octoplan.state.open import open_state
from tests.fixtures.project import MakeProject, run_cli

CONFIG = "region: FR\nvars: {brand: ShopX}\n"
CUSTOMERS = "phone_number,first_name\n+33612345670,Axelle\n+33612345671,Bruno\n"
NOTICE = (
    "channel: sms\npurpose: alert\nsender: ShopX\n"
    'text: "{{ contact.first_name }}, votre commande {{ vars.brand }} est prete"\n'
    "contacts: [contacts/customers.csv]\n"
)
PROMO = (
    "channel: sms\nsender: ShopX\n"
    'text: "{{ contact.first_name }}, -30% chez {{ vars.brand }}. STOP au 30101"\n'
    "contacts: [contacts/customers.csv]\nexclude: [contacts/optout.csv]\n"
)
TUESDAY = "2026-12-08T10:00:00+01:00"
SUNDAY = "2026-12-06T10:00:00+01:00"


def test_a_test_goes_to_the_given_addresses_only_and_the_plan_still_plans_everyone(
    make_project: MakeProject, sandbox: SandboxServer
) -> None:
    root = make_project(
        {"campaigns/notice.yaml": NOTICE, "contacts/customers.csv": CUSTOMERS}, CONFIG
    )
    result = run_cli(
        "send-test",
        "notice",
        "--to",
        "06 99 99 99 01",
        "--to",
        "+33699999901",  # the same number twice: one message
        "--to",
        "me@example.com",
        cwd=root,
        env=sandbox.env(),
    )
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        "error: --to address 3 is not a phone_number that channel sms can reach; nothing was sent\n"
    )
    assert sandbox.requests() == []
    result = run_cli(
        "send-test",
        "notice",
        "--to",
        "06 99 99 99 01",
        "--to",
        "+33699999901",
        "--as",
        "06 12 34 56 71",
        cwd=root,
        env=sandbox.env(),
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == (
        "Test of notice (sms, 1 SMS part), the text of +33 6•• •• •• 71, to 1 address in "
        f"environment default ({sandbox.base_url}):\n"
        "  'Bruno, votre commande ShopX est prete'\n"
    )
    assert re.fullmatch(
        r"Test sent to \+33 6•• •• •• 01 in environment default \(http://127\.0\.0\.1:\d+/v1/"
        r"public\): request op-[0-9a-f]{32}, ticket \S+, cost 0\.045\. Recorded as a test: no "
        r"recipient of notice is marked as sent\.\n",
        result.stdout,
    )
    assert [(d.recipient, d.text) for d in sandbox.deliveries()] == [
        ("+33699999901", "Bruno, votre commande ShopX est prete")
    ]
    assert "0699999901" not in result.stdout + result.stderr
    assert "+33699999901" not in result.stdout + result.stderr

    # Recorded as a test, in the audit log: no recipient of the campaign is marked as sent.
    assert re.fullmatch(
        r"campaign notice: request op-[0-9a-f]{32} to \+33 6•• •• •• 01, the text of "
        r"\+33 6•• •• •• 71: accepted, ticket \S+ \(by octoplan send-test by .+\)",
        the_test_audited(root),
    )
    plan = run_cli("plan", cwd=root, env=sandbox.env())
    assert plan.stdout.splitlines()[-1] == (
        "Plan: 2 messages to send in 1 request, 2 SMS parts, est. 0.09 EUR; 0 already sent."
    )
    applied = run_cli("apply", "--auto-approve", cwd=root, env=sandbox.env())
    assert applied.returncode == 0, applied.stderr
    assert len(sandbox.deliveries()) == 3
    # The same text again to the same number later is a new test (a test is not a campaign).
    again = run_cli("send-test", "notice", "--to", "0699999901", cwd=root, env=sandbox.env())
    assert again.returncode == 0, again.stderr
    assert len(sandbox.deliveries()) == 4


def test_a_marketing_test_keeps_to_marketing_hours_stop_replies_and_exclude_lists(
    make_project: MakeProject,
) -> None:
    files = {
        "campaigns/promo.yaml": PROMO,
        "contacts/customers.csv": CUSTOMERS,
        "contacts/optout.csv": "phone_number\n+33699999903\n",
    }
    root = make_project(files, CONFIG)
    to = ["--to", "0699999901", "--to", "0699999902", "--to", "0699999903"]
    sunday = run_cli("send-test", "promo", "--sandbox", *to, cwd=root, env={"OCTOPLAN_NOW": SUNDAY})
    assert (sunday.returncode, sunday.stdout) == (1, "")
    assert sunday.stderr == (
        "error: campaign promo is marketing and marketing hours are closed for +33 6•• •• •• 01 "
        "(Europe/Paris): sun is not a marketing day (mon, tue, wed, thu, fri, sat); they open "
        "Mon 07 Dec 2026 08:00 Europe/Paris; nothing was sent\n"
    )
    tuesday = {"OCTOPLAN_NOW": TUESDAY}
    stop = run_cli("sandbox", "reply", "06 99 99 99 02", "STOP", cwd=root, env=tuesday)
    assert stop.returncode == 0, stop.stderr
    result = run_cli("send-test", "promo", "--sandbox", *to, cwd=root, env=tuesday)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[:2] == [
        "not sent to +33 6•• •• •• 02: opted out by STOP reply on 2026-12-08",
        "not sent to +33 6•• •• •• 03: on the campaign's exclude lists",
    ]
    assert result.stdout.startswith(
        "Test sent to +33 6•• •• •• 01 in environment sandbox (the embedded local sandbox): "
    )
    nobody = run_cli("send-test", "promo", "--sandbox", "--to", "0699999902", cwd=root, env=tuesday)
    assert (nobody.returncode, nobody.stdout, nobody.stderr) == (
        1,
        "",
        "not sent to +33 6•• •• •• 02: opted out by STOP reply on 2026-12-08\n"
        "error: no address left to send the test to: nothing was sent\n",
    )
    plan = run_cli("plan", "--sandbox", cwd=root, env=tuesday)
    assert plan.stdout.splitlines()[-1] == (
        "Plan: 2 messages to send in 1 request, 2 SMS parts, est. 0.09 EUR; 0 already sent."
    )


def test_an_unknown_campaign_or_recipient_sends_nothing(
    make_project: MakeProject, tmp_path: Path
) -> None:
    root = make_project(
        {"campaigns/notice.yaml": NOTICE, "contacts/customers.csv": CUSTOMERS}, CONFIG
    )
    unknown = run_cli("send-test", "notic", "--sandbox", "--to", "0699999901", cwd=root)
    assert (unknown.returncode, unknown.stderr) == (
        1,
        "error: no campaign with id 'notic'; known: notice\n",
    )
    stranger = run_cli(
        "send-test", "notice", "--sandbox", "--to", "0699999901", "--as", "0611111111", cwd=root
    )
    assert (stranger.returncode, stranger.stderr) == (
        1,
        "error: campaign notice has no recipient +33 6•• •• •• 11 (--as): give one of its "
        "recipients, or leave --as out for the first\n",
    )
    no_to = run_cli("send-test", "notice", "--sandbox", cwd=root)
    assert no_to.returncode == 1
    assert "Missing option '--to'" in no_to.stderr
    assert not (root / ".octoplan" / "sandbox.db").exists()


def the_test_audited(root: Path) -> str:
    """The one audit entry a send-test leaves, checked to be a test that marked nobody as sent:
    its detail."""
    state = open_state(".octoplan/state.db", root)
    try:
        assert state.campaign_ids() == []
        (entry,) = state.audit_log()
    finally:
        state.close()
    assert entry.action == "send-test"
    return entry.detail
