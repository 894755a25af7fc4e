"""The whole loop, every part real: sandbox server -> callbacks -> `octoplan receive` (a
process) -> state -> `status`, `plan`, `explain`; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from octoplan.state.base import BatchStatus
from octoplan.state.open import open_state
from tests.fixtures.project import run_cli, write_files
from tests.fixtures.receiver import Running, start_receiver, start_sandbox, wait_for
from tests.test_receive_cli import rows

pytestmark = pytest.mark.usefixtures("processes")

NUMBERS = ["06 12 34 56 78", "06 12 34 56 79", "06 12 34 56 80", "06 12 34 56 81"]
E164 = ["+33612345678", "+33612345679", "+33612345680", "+33612345681"]


def campaign(purpose: str | None, text: str) -> str:
    recipients = "".join(f'  - {{phone_number: "{n}"}}\n' for n in NUMBERS)
    line = f"purpose: {purpose}\n" if purpose else ""
    return f"channel: sms\nsender: ShopX\n{line}text: {json.dumps(text)}\nrecipients:\n{recipients}"


PROMO = campaign(None, "Soldes -20% ! STOP au 30101")


def env_for(sandbox: Running, state_url: str) -> dict[str, str]:
    return {
        "OCTOPUSH_BASE_URL": sandbox.url,
        "OCTOPUSH_API_LOGIN": "me@example.com",
        "OCTOPUSH_API_KEY": "any-key",
        "OCTOPLAN_STATE": state_url,
    }


def status(root: Path, env: dict[str, str]) -> dict[str, Any]:
    result = run_cli("status", "--format", "json", cwd=root, env=env)
    assert result.returncode == 0, result.stderr
    found: dict[str, Any] = json.loads(result.stdout)
    return found


def campaign_status(root: Path, env: dict[str, str], campaign_id: str) -> dict[str, Any]:
    for found in status(root, env)["campaigns"]:
        if found["id"] == campaign_id:
            return dict(found)
    return {}


def test_reports_and_a_stop_reach_status_plan_and_explain(
    make_project: Any, state_url: str
) -> None:
    root: Path = make_project({"campaigns/promo.yaml": PROMO})
    receiver = start_receiver(root, {"OCTOPLAN_STATE": state_url})
    sandbox = start_sandbox(
        root,
        "--callback-url",
        receiver.callback_url,
        "--callback-delay",
        "0.2",
        "--undelivered-rate",
        "0.5",
    )
    env = env_for(sandbox, state_url)
    applied = run_cli("apply", "--auto-approve", cwd=root, env=env)
    assert applied.returncode == 0, applied.stderr

    promo = wait_for(lambda: campaign_status(root, env, "promo"), lambda c: c.get("pending") == 0)
    assert promo["sent"] == 4
    assert promo["delivered"] + promo["not_delivered_total"] == 4
    assert promo["delivered"] > 0 and promo["not_delivered"].get("NOT_DELIVERED", 0) > 0
    assert set(promo["not_delivered"]) == {"NOT_DELIVERED"}

    # Repeated, then out of order: the same report again, and an ACK dated before it.
    bodies = [bytes(b) for (b,) in rows(state_url, "SELECT body FROM raw_events ORDER BY id")]
    body = next(b for b in bodies if b'"DELIVERED"' in b)
    first = json.loads(body)
    late_ack = {**first, "status": "ACK", "delivery_date": "2000-01-01 00:00:00"}
    before = rows(state_url, "SELECT COUNT(*) FROM raw_events")
    with httpx.Client() as client:
        assert client.post(receiver.callback_url, content=body).status_code == 204
        assert client.post(receiver.callback_url, json=late_ack).status_code == 204
    after = rows(state_url, "SELECT COUNT(*) FROM raw_events")
    assert after[0][0] == before[0][0] + 1  # the repeat is not stored again; the ACK is
    wait_for(
        lambda: rows(state_url, "SELECT COUNT(*) FROM raw_events WHERE interpreted = 0"),
        lambda found: found == [(0,)],
    )
    assert campaign_status(root, env, "promo")["delivered"] == promo["delivered"]

    # A STOP from the first number, through the sandbox, like a real reply.
    sandbox_root = sandbox.url.removesuffix("/v1/public")
    reply = httpx.post(f"{sandbox_root}/_sandbox/reply", json={"number": E164[0], "text": "STOP"})
    assert reply.status_code == 201
    wait_for(lambda: campaign_status(root, env, "promo"), lambda c: c.get("stops") == 1)

    # The next marketing campaign leaves that number out; a transactional one does not.
    write_files(
        root,
        {
            "campaigns/promo2.yaml": campaign(None, "Nouveautes ! STOP au 30101"),
            "campaigns/alert.yaml": campaign("alert", "Votre colis arrive demain"),
        },
    )
    planned = run_cli("plan", "--format", "json", cwd=root, env=env)
    assert planned.returncode == 0, planned.stderr
    plans = {c["id"]: c for c in json.loads(planned.stdout)["campaigns"]}
    stopped_on = plans["promo2"]["opted_out_recipients"][0]["stopped_on"]
    assert plans["promo2"]["opted_out"] == 1
    assert plans["promo2"]["opted_out_recipients"] == [
        {"recipient": "+33 6•• •• •• 78", "stopped_on": stopped_on}
    ]
    assert plans["promo2"]["messages_to_send"] == 3
    assert plans["alert"]["messages_to_send"] == 4
    text = run_cli("plan", cwd=root, env=env)
    assert (
        f"    note: 1 recipient opted out by STOP reply on {stopped_on} (+33 6•• •• •• 78): "
        "not sent\n"
    ) in text.stdout
    assert "+33612345678" not in planned.stdout + text.stdout

    explained = run_cli("explain", "06.12.34.56.78", cwd=root, env=env)
    assert explained.returncode == 0, explained.stderr
    lines = explained.stdout.splitlines()
    assert lines[0] == "+33612345678"
    assert "alert (sms, transactional; campaigns/alert.yaml): to send" in lines
    assert "promo2 (sms, marketing; campaigns/promo2.yaml): opted out" in lines
    assert f"    opted out by STOP reply on {stopped_on}" in lines
    assert "promo (sms, marketing; campaigns/promo.yaml): sent" in lines
    assert any(line.startswith("    delivery report: ") for line in lines)
    assert f"    replied STOP to this campaign on {stopped_on}" in lines

    markdown = run_cli("status", "--format", "markdown", cwd=root, env=env)
    assert "| `promo` | 4 |" in markdown.stdout and "```mermaid\npie" in markdown.stdout


def test_a_delivery_report_settles_a_request_whose_answer_was_lost(
    make_project: Any, state_url: str
) -> None:
    root: Path = make_project({"campaigns/promo.yaml": PROMO})
    receiver = start_receiver(root, {"OCTOPLAN_STATE": state_url})
    # Every answer is lost after the sandbox accepted the request: apply cannot confirm it.
    sandbox = start_sandbox(
        root, "--drop-rate", "1", "--callback-url", receiver.callback_url, "--callback-delay", "0"
    )
    env = env_for(sandbox, state_url)
    applied = run_cli("apply", "--auto-approve", cwd=root, env=env)
    assert applied.returncode == 1
    assert "1 request got no answer after retries" in applied.stdout

    def batches() -> list[BatchStatus]:
        store = open_state(state_url, root)
        try:
            return [b.status for b in store.batches()]
        finally:
            store.close()

    wait_for(batches, lambda found: found == [BatchStatus.ACCEPTED])
    plan = run_cli("plan", "--detailed-exitcode", cwd=root, env=env)
    assert plan.returncode == 0, plan.stdout + plan.stderr  # nothing pending, nothing resent
    assert "promo (sms, campaigns/promo.yaml): no changes (4 already sent)" in plan.stdout
    store = open_state(state_url, root)
    try:
        audit = [e for e in store.audit_log() if e.action == "accepted-by-report"]
    finally:
        store.close()
    assert len(audit) == 1
    assert audit[0].detail.endswith(
        ": intent -> accepted (a delivery report names one of its recipients) (by octoplan receive)"
    )
    assert campaign_status(root, env, "promo")["sent"] == 4
