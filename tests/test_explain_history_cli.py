"""`octoplan explain` after applies: replies counted per campaign, and a request the API
refused named with its code and message while the recipient is still to send."""

from __future__ import annotations

import re

from octoplan.sandbox import SandboxServer
from tests.fixtures.project import MakeProject, run_cli

CONFIG = "region: FR\ndefaults: {sender: ShopX}\n"
NOTICE = (
    'channel: sms\npurpose: alert\ntext: "Code A1"\n'
    'recipients: [{phone_number: "06 12 34 00 00"}]\n'
)
NOW = {"OCTOPLAN_NOW": "2026-12-03T10:00:00+01:00"}


def test_replies_to_a_sent_campaign_are_counted(make_project: MakeProject) -> None:
    root = make_project({"campaigns/notice.yaml": NOTICE}, CONFIG)
    assert run_cli("apply", "--sandbox", "--auto-approve", cwd=root, env=NOW).returncode == 0
    for text in ("Merci", "Super"):
        replied = run_cli("sandbox", "reply", "06 12 34 00 00", text, cwd=root, env=NOW)
        assert replied.returncode == 0, replied.stderr
    result = run_cli("explain", "--sandbox", "0612340000", cwd=root, env=NOW)
    assert (result.returncode, result.stderr) == (
        0,
        "Environment: sandbox, the embedded local sandbox (state .octoplan/sandbox-state.db).\n",
    )
    assert re.fullmatch(
        r"\+33612340000\n\n"
        r"notice \(sms, transactional; campaigns/notice\.yaml\): sent\n"
        r"    sent 2026-12-03 09:00:00 UTC in request op-[0-9a-f]{32} \(ticket sms_[0-9a-f]+\)\n"
        r"    delivery report: DELIVERED \(final\) on 2026-12-03 09:00:00 UTC\n"
        r"    replied 2 time\(s\) to this campaign\n",
        result.stdout,
    ), result.stdout


def test_a_refused_request_is_named_with_the_apis_code_and_message(
    make_project: MakeProject, sandbox: SandboxServer
) -> None:
    root = make_project({"campaigns/notice.yaml": NOTICE}, CONFIG)
    sandbox.inject("deny400")
    applied = run_cli("apply", "--auto-approve", cwd=root, env=sandbox.env())
    assert applied.returncode == 1
    assert sandbox.deliveries() == []
    result = run_cli("explain", "0612340000", cwd=root, env=sandbox.env())
    assert (result.returncode, result.stderr) == (
        0,
        f"Environment: default, {sandbox.base_url} (state .octoplan/state.db).\n",
    )
    assert re.fullmatch(
        r"\+33612340000\n\n"
        r"notice \(sms, transactional; campaigns/notice\.yaml\): to send\n"
        r"    request op-[0-9a-f]{32} was refused by the API code 400: "
        r"Payload validation error\.\n"
        r"    in the audience: the next apply sends it\n",
        result.stdout,
    ), result.stdout
