"""`octoplan plan` on the command line: --detailed-exitcode (SPEC section 3), -q and -v.

The Markdown format has its own tests (test_markdown.py), and so has --changed-since
(test_changes.py).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.fixtures.project import MakeProject, run_cli

CONFIG = "region: FR\ndefaults: {sender: ShopX}\n"
OK = 'channel: sms\ntext: "Bonjour"\nrecipients: [{phone_number: "+33612345678"}]\npurpose: alert\n'
BROKEN = (
    'channel: sms\ntext: "{{ contact.nope }}"\nrecipients: [{phone_number: "+33612345678"}]\n'
    "purpose: alert\n"
)
HEADLINE = (
    "+ ok (sms, campaigns/ok.yaml): create: 1 message in 1 request, 1 SMS part, est. 0.04 EUR; "
    "sent when applied"
)


@pytest.fixture
def project(make_project: MakeProject) -> Path:
    return make_project({"campaigns/ok.yaml": OK}, CONFIG)


def test_detailed_exitcode_is_2_with_changes_and_0_without(project: Path) -> None:
    assert run_cli("plan", "--detailed-exitcode", cwd=project).returncode == 2
    assert run_cli("plan", cwd=project).returncode == 0  # without the flag, changes are 0
    result = run_cli("apply", "--sandbox", "--auto-approve", cwd=project)
    assert result.returncode == 0, result.stderr
    result = run_cli("plan", "--sandbox", "--detailed-exitcode", cwd=project)
    assert (result.returncode, result.stdout) == (
        0,
        "  ok (sms, campaigns/ok.yaml): no changes (1 already sent)\n\n"
        "No changes. 1 message already sent.\n",
    )


@pytest.mark.parametrize("fmt", ["text", "json", "markdown"])
def test_detailed_exitcode_errors_exit_1_even_with_changes(
    make_project: MakeProject, fmt: str
) -> None:
    # One campaign would send, the other is broken: an error wins, never 2.
    root = make_project({"campaigns/ok.yaml": OK, "campaigns/bad.yaml": BROKEN}, CONFIG)
    result = run_cli("plan", "--detailed-exitcode", "--format", fmt, cwd=root)
    assert result.returncode == 1


def test_detailed_exitcode_with_a_load_error_exits_1(make_project: MakeProject) -> None:
    root = make_project({"campaigns/ok.yaml": OK + "txet: x\n"}, CONFIG)
    result = run_cli("plan", "--detailed-exitcode", cwd=root)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        "campaigns/ok.yaml:5:1: error: unknown key 'txet'\n  hint: did you mean 'text'?\n"
    )


def test_detailed_exitcode_usage_error_exits_1(project: Path) -> None:
    result = run_cli("plan", "--detailed-exitcode", "--campaign", "nope", cwd=project)
    assert (result.returncode, result.stderr) == (
        1,
        "error: no campaign with id 'nope'; known: ok\n",
    )


def test_plan_without_options_says_nothing_on_stderr(project: Path) -> None:
    result = run_cli("plan", cwd=project)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.startswith(HEADLINE + "\n    e.g. +33 6•• •• •• 78: 'Bonjour'\n")
    assert "+ request" not in result.stdout


def test_verbose_adds_requests_state_and_timings(project: Path) -> None:
    result = run_cli("-v", "plan", cwd=project)
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(
        re.escape(HEADLINE)
        + r"\n    \+ request op-[0-9a-f]{32}: 1 recipient, 1 SMS part, est\. 0\.04 EUR\n"
        r"    e\.g\. .*\n\nCredit: not checked: no Octopush credentials .*\n"
        r"Environment: default, https://api\.octopush\.com/v1/public \(real messages\)\.\n"
        r"Plan: .*\n",
        result.stdout,
    )
    state = project / ".octoplan" / "state.db"
    assert re.fullmatch(
        r"loaded 1 campaign in \d+\.\d\d s\n"
        rf"planned against state {re.escape(str(state))} \(serial 0\) in \d+\.\d\d s\n",
        result.stderr,
    )


def test_quiet_keeps_the_plan_and_drops_notes(project: Path) -> None:
    result = run_cli("--quiet", "plan", "-o", "plan.json", cwd=project)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.startswith(HEADLINE + "\n")
    assert (project / "plan.json").exists()
    noisy = run_cli("plan", "-o", "plan.json", cwd=project)
    assert noisy.stderr == "Plan saved to plan.json; apply it with `octoplan apply plan.json`.\n"


def test_the_estimate_is_rounded_to_the_millionth(make_project: MakeProject) -> None:
    """A price of 0.1234567 a part: the plan's estimates, total and per request, are kept to
    six decimals (the figure the sandbox and the state use too)."""
    root = make_project(
        {
            "campaigns/notice.yaml": (
                'channel: sms\npurpose: alert\ntext: "Code {{ contact.code }}"\n'
                "contacts: [contacts/c.csv]\n"
            ),
            "contacts/c.csv": "phone_number,code\n0612345678,A1\n",
        },
        "region: FR\npricing: {sms: {FR: 0.1234567}}\n",
    )
    planned = run_cli("plan", "--format", "json", cwd=root)
    assert planned.returncode == 0, planned.stderr
    data = json.loads(planned.stdout)
    assert data["summary"] == {
        "campaigns": 1,
        "messages_to_send": 1,
        "requests": 1,
        "already_sent": 0,
        "scheduled": 0,
        "pending": 0,
        "in_doubt": 0,
        "cancels": 0,
        "capped": 0,
        "sms_parts": 1,
        "estimated_cost": 0.123457,
        "currency": "EUR",
        "errors": 0,
        "warnings": 0,
    }


def test_many_distinct_texts_are_grouped_in_order_of_first_use(make_project: MakeProject) -> None:
    """Over 16 distinct request texts the grouping takes its loop, not one pass per text: the
    same requests, one per text in the order of its first recipient, who are in order."""
    rows = "".join(f"06123456{i:02d},C{i % 18:02d}\n" for i in range(20))
    root = make_project(
        {
            "campaigns/notice.yaml": (
                'channel: sms\npurpose: alert\ntext: "Code {{ contact.code | lower }}"\n'
                "contacts: [contacts/c.csv]\n"
            ),
            "contacts/c.csv": "phone_number,code\n" + rows,
        },
        CONFIG,
    )
    planned = run_cli("plan", "--format", "json", cwd=root)
    assert planned.returncode == 0, planned.stderr
    batches = json.loads(planned.stdout)["campaigns"][0]["batches"]
    assert [b["recipients"] for b in batches] == [
        ["+33 6•• •• •• 00", "+33 6•• •• •• 18"],
        ["+33 6•• •• •• 01", "+33 6•• •• •• 19"],
        *([f"+33 6•• •• •• {i:02d}"] for i in range(2, 18)),
    ]


def test_a_channel_not_billed_by_the_part_counts_no_sms_parts(make_project: MakeProject) -> None:
    """A voice SMS is priced per message: its one segment is no SMS part, in the request or
    in the summary."""
    root = make_project(
        {
            "campaigns/call.yaml": (
                'channel: voice_sms\npurpose: alert\ntext: "Votre code est 1234"\n'
                "recipients: [{phone_number: '0612345678'}]\n"
            )
        },
        "region: FR\npricing: {voice_sms: {FR: 0.2}}\n",
    )
    planned = run_cli("plan", "--format", "json", cwd=root)
    assert planned.returncode == 0, planned.stderr
    data = json.loads(planned.stdout)
    assert data["summary"] == {
        "campaigns": 1,
        "messages_to_send": 1,
        "requests": 1,
        "already_sent": 0,
        "scheduled": 0,
        "pending": 0,
        "in_doubt": 0,
        "cancels": 0,
        "capped": 0,
        "sms_parts": 0,
        "estimated_cost": 0.2,
        "currency": "EUR",
        "errors": 0,
        "warnings": 0,
    }
    (batch,) = data["campaigns"][0]["batches"]
    assert {k: v for k, v in batch.items() if k != "request_id"} == {
        "kind": "new",
        "endpoint": "multi-channel/send",
        "recipients": ["+33 6•• •• •• 78"],
        "recipient_count": 1,
        "segments": 1,
        "sms_parts": 0,
        "estimated_cost": 0.2,
        "send_at": None,
    }
