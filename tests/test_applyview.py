"""`apply --format json`: one report on stdout that adds up, whatever happened.

The real CLI against the real sandbox; every figure is checked against what the sandbox saw.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from octoplan import __version__
from octoplan.sandbox import SandboxServer
from tests.fixtures.project import MakeProject, run_cli
from tests.fixtures.sandbox import SandboxFactory

CONFIG = "region: FR\ndefaults: {sender: ShopX}\n"


def contacts(start: int, count: int) -> str:
    return "phone_number\n" + "".join(f"+336123{i:05d}\n" for i in range(start, start + count))


FILES = {
    "campaigns/a.yaml": "text: Hello A\nchannel: sms\npurpose: alert\ncontacts: [contacts/a.csv]\n",
    "campaigns/b.yaml": "text: Hello B\nchannel: sms\npurpose: alert\ncontacts: [contacts/b.csv]\n",
    "campaigns/c.yaml": "text: Hello C\nchannel: sms\npurpose: alert\ncontacts: [contacts/c.csv]\n",
    "contacts/a.csv": contacts(0, 1),
    "contacts/b.csv": contacts(100, 2),
    "contacts/c.csv": contacts(200, 300),
}


def plan_of(root: Path) -> dict[str, Any]:
    result = run_cli("plan", "--format", "json", cwd=root)
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def request_ids(plan: dict[str, Any]) -> dict[str, str]:
    return {c["id"]: c["batches"][0]["request_id"] for c in plan["campaigns"]}


def apply_json(root: Path, server: SandboxServer, *args: str) -> tuple[int, dict[str, Any]]:
    result = run_cli(
        "apply", "--auto-approve", "--format", "json", *args, cwd=root, env=server.env()
    )
    return result.returncode, json.loads(result.stdout)


def outcome(
    cid: str,
    planned: int,
    sent: int,
    cost: float,
    *,
    refused: list[dict[str, Any]] | None = None,
    unconfirmed: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "id": cid,
        "action": "create",
        "planned": {"messages": planned, "requests": 1, "cancels": 0},
        "sent": {"messages": sent, "requests": 1 if sent else 0},
        "cost": cost,
        "cancelled": 0,
        "refused": refused or [],
        "unconfirmed": unconfirmed or [],
        "in_doubt": [],
        "waiting": {"messages": 0, "requests": 0},
        "not_started": 0,
    }


def test_sent_refused_and_unconfirmed_are_reported_per_campaign(
    make_project: MakeProject, sandbox_factory: SandboxFactory
) -> None:
    root = make_project(FILES, CONFIG)
    plan = plan_of(root)
    ids = request_ids(plan)
    # a goes through; b gets no answer after every retry; the API refuses c.
    server = sandbox_factory(credit=1000.0)
    server.inject("ok", *["fail"] * 6, "deny400")

    code, report = apply_json(root, server, "--concurrency", "1")

    assert code == 1
    deliveries = server.deliveries()
    assert [d.recipient for d in deliveries] == ["+33612300000"]
    cost = round(1000.0 - server.credit(), 6)
    assert cost > 0
    refusal = next(r for r in server.requests() if r.request_id == ids["c"])
    assert refusal.status == 400
    assert report == {
        "format_version": "1",
        "octoplan_version": __version__,
        "status": "incomplete",
        "plan": {"file": None, "digest": plan["digest"]},
        "target": "octopush",
        "environment": {
            "name": "default",
            "api_url": server.base_url,
            "sandbox": False,
            "local": True,
        },
        "shard": None,
        "state": {
            "lineage": plan["state"]["lineage"],
            "serial": plan["state"]["serial"],
            "location": plan["state"]["location"],
        },
        "summary": {
            "messages_sent": 1,
            "requests_accepted": 1,
            "confirmed_by_request_id": 0,
            "refused": 1,
            "unconfirmed": 1,
            "in_doubt": 0,
            "marked_in_doubt": 0,
            "cancelled": 0,
            "not_started": 0,
            "waiting": {"messages": 0, "requests": 0},
            "cost": cost,
            "estimated_cost": 0.0,
            "currency": "EUR",
            "residual_credit": server.credit(),
        },
        "campaigns": [
            outcome("a", 1, 1, cost),
            outcome("b", 2, 0, 0.0, unconfirmed=[{"request_id": ids["b"], "recipients": 2}]),
            outcome(
                "c",
                300,
                0,
                0.0,
                refused=[
                    {
                        "request_id": ids["c"],
                        "recipients": 300,
                        "status": 400,
                        "code": 400,
                        "message": "Payload validation error.",
                    }
                ],
            ),
        ],
    }


def test_a_complete_apply_adds_up_to_what_the_sandbox_delivered(
    make_project: MakeProject, sandbox: SandboxServer
) -> None:
    root = make_project(FILES, CONFIG)
    credit = sandbox.credit()
    code, report = apply_json(root, sandbox)
    assert code == 0
    assert report["status"] == "applied"
    campaigns = report["campaigns"]
    assert [c["sent"] for c in campaigns] == [
        {"messages": 1, "requests": 1},
        {"messages": 2, "requests": 1},
        {"messages": 300, "requests": 1},
    ]
    assert report["summary"]["messages_sent"] == len(sandbox.deliveries()) == 303
    assert report["summary"]["cost"] == round(credit - sandbox.credit(), 6)
    assert round(sum(c["cost"] for c in campaigns), 6) == report["summary"]["cost"]

    again, nothing = apply_json(root, sandbox)
    assert again == 0
    assert nothing["status"] == "no_changes"
    assert nothing["summary"]["messages_sent"] == 0
    assert [c["action"] for c in nothing["campaigns"]] == ["no-op", "no-op", "no-op"]
    assert len(sandbox.deliveries()) == 303


def test_a_saved_plan_is_reported_with_its_file_and_digest(
    make_project: MakeProject, sandbox: SandboxServer
) -> None:
    root = make_project(FILES, CONFIG)
    assert run_cli("plan", "-o", "reviewed.json", cwd=root).returncode == 0
    digest = json.loads((root / "reviewed.json").read_text())["digest"]
    result = run_cli("apply", "reviewed.json", "--format", "json", cwd=root, env=sandbox.env())
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["status"], report["plan"]) == (
        "applied",
        {"file": "reviewed.json", "digest": digest},
    )


def test_errors_before_sending_are_a_json_report_too(make_project: MakeProject) -> None:
    root = make_project(FILES, CONFIG)
    result = run_cli("apply", "--auto-approve", "--format", "json", cwd=root)
    assert result.returncode == 1
    message = (
        "no Octopush credentials: set OCTOPUSH_API_LOGIN and OCTOPUSH_API_KEY (missing: "
        "OCTOPUSH_API_LOGIN, OCTOPUSH_API_KEY), or use --sandbox to send to the local sandbox"
    )
    assert result.stderr == f"error: {message}\n"
    assert json.loads(result.stdout) == {
        "format_version": "1",
        "octoplan_version": __version__,
        "status": "error",
        "plan": {"file": None, "digest": None},
        "error": message,
    }


def test_an_interrupted_apply_reports_what_was_recorded(
    make_project: MakeProject, sandbox_factory: SandboxFactory
) -> None:
    many = {
        "campaigns/a.yaml": FILES["campaigns/a.yaml"] + "batch_size: 1\n",
        "contacts/a.csv": contacts(0, 40),
    }
    root = make_project(many, CONFIG)
    server = sandbox_factory(latency=0.2)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "octoplan",
            "apply",
            "--auto-approve",
            "--format",
            "json",
            "--concurrency",
            "1",
        ],
        cwd=root,
        env={
            **server.env(),
            "NO_COLOR": "1",
            "PATH": "/usr/bin:/bin",
            "OCTOPLAN_NOW": os.environ["OCTOPLAN_NOW"],  # the tests' clock (tests/conftest.py)
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not server.deliveries() and time.monotonic() < deadline:  # a send, not the balance
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    report = json.loads(out)
    sent = len(server.deliveries())
    assert 0 < sent < 40
    assert report["status"] == "interrupted"
    assert report["summary"]["messages_sent"] == sent
    (campaign,) = report["campaigns"]
    assert campaign["sent"] == {"messages": sent, "requests": sent}
    assert campaign["not_started"] == report["summary"]["not_started"] == 40 - sent
