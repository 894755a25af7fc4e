"""`octoplan apply` (octoplan/commands/apply.py) where a person stops it: the confirmation
answered with anything but "yes" (nothing sent, nothing journaled, the lock released; in text
and in JSON), and a second Ctrl-C while the first one lets the requests in flight finish (apply
ends at once; what was in flight stays journaled and the next apply sends each message once).

The real CLI on a pseudo-terminal or in a process group of its own, the real sandbox over HTTP.
"""

from __future__ import annotations

import json
import os
import re
import signal
from pathlib import Path

import pytest

from octoplan import __version__
from octoplan.sandbox import SandboxServer
from octoplan.state.base import BatchStatus
from octoplan.state.open import open_state
from tests.fixtures.project import MakeProject, run_cli, run_on_terminal
from tests.fixtures.sandbox import SandboxFactory
from tests.test_apply_edges import (
    CONFIG,
    Output,
    campaign,
    contacts,
    delivered_once,
    expected,
    sends,
    start_apply,
    wait_until,
)

QUESTION = (
    "\nSend these messages to environment default ({url})? Only 'yes' is accepted: {answer}\n"
)


def terminal_env(server: SandboxServer) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OCTOPUSH_", "OCTOPLAN_"))}
    env.update(NO_COLOR="1", TERM="dumb", COLUMNS="200", OCTOPLAN_NOW=os.environ["OCTOPLAN_NOW"])
    env.update(server.env())
    return env


def nothing_recorded(root: Path) -> None:
    store = open_state(".octoplan/state.db", root)
    try:
        assert store.batches() == []
        assert store.campaigns() == []
        assert store.lock_info() is None
        assert [e.action for e in store.audit_log()] == []
    finally:
        store.close()


@pytest.mark.parametrize("answer", ["no", "y", "YES", ""])
def test_an_answer_other_than_yes_sends_and_journals_nothing(
    make_project: MakeProject, sandbox: SandboxServer, answer: str
) -> None:
    root = make_project(
        {"campaigns/promo.yaml": campaign("promo", "c.csv"), "contacts/c.csv": contacts(0, 3)},
        config=CONFIG,
    )
    code, output = run_on_terminal(["apply"], root, terminal_env(sandbox), answer=answer)
    assert code == 1, output
    assert output.endswith(
        QUESTION.format(url=sandbox.base_url, answer=answer)
        + "Apply cancelled: nothing was sent.\n"
    )
    assert sandbox.requests() == []  # not even the balance was read
    nothing_recorded(root)
    # The same plan applied for real afterwards sends each message once.
    applied = run_cli("apply", "--auto-approve", cwd=root, env=sandbox.env())
    assert applied.returncode == 0, applied.stderr
    assert delivered_once(sandbox) == expected(0, 3)


def test_an_answer_other_than_yes_in_json_is_a_cancelled_report(
    make_project: MakeProject, sandbox: SandboxServer
) -> None:
    root = make_project(
        {"campaigns/promo.yaml": campaign("promo", "c.csv"), "contacts/c.csv": contacts(0, 3)},
        config=CONFIG,
    )
    args = ["apply", "--format", "json"]
    code, output = run_on_terminal(args, root, terminal_env(sandbox), answer="no")
    assert code == 1, output
    question, _, report = output.partition(
        QUESTION.format(url=sandbox.base_url, answer="no") + "Apply cancelled: nothing was sent.\n"
    )
    assert "+ promo" in question  # the plan went to stderr, with the question
    digest = json.loads(report)["plan"]["digest"]
    assert re.fullmatch("[0-9a-f]{64}", digest)
    assert json.loads(report) == {
        "format_version": "1",
        "octoplan_version": __version__,
        "status": "cancelled",
        "plan": {"file": None, "digest": digest},
    }
    assert sandbox.requests() == []
    nothing_recorded(root)


def test_a_second_ctrl_c_aborts_at_once_and_the_next_apply_sends_each_message_once(
    make_project: MakeProject, sandbox_factory: SandboxFactory
) -> None:
    root = make_project(
        {
            "campaigns/promo.yaml": campaign("promo", "c.csv", batch_size=4),
            "contacts/c.csv": contacts(0, 48),
        },
        config=CONFIG,
    )
    # Each answer takes 5 s: the first Ctrl-C would wait for the requests in flight.
    server = sandbox_factory(latency=5.0)
    process = start_apply(root, server.env(), "--auto-approve")
    err = Output(process.stderr)
    wait_until(lambda: bool(sends(server)), "the first request")
    process.send_signal(signal.SIGINT)
    err.wait_for("(Ctrl-C again to abort)...\n", 1, process)
    process.send_signal(signal.SIGINT)
    out = process.stdout.read() if process.stdout else ""
    process.wait(timeout=60)

    assert process.returncode == 130, (out, err.text)
    assert err.text.endswith(
        "\nInterrupted: finishing the requests in flight (Ctrl-C again to abort)...\n"
        "\nAborted by SIGINT: the requests in flight stay journaled; the next apply resends "
        "them under the same request_id.\n"
    )
    # The plan, and no report: apply did not wait to make one.
    assert out.startswith("+ promo (sms, campaigns/promo.yaml): create: 48 messages")
    assert "Apply" not in out
    in_flight = {r for r in sends(server) if r is not None}
    store = open_state(".octoplan/state.db", root)
    try:
        assert store.lock_info() is None  # the OS lock ended with the process
        records = {b.request_id: b for b in store.batches("promo")}
    finally:
        store.close()
    # Every request that reached the sandbox is in the journal, still waiting for its answer.
    assert in_flight <= set(records)
    assert all(records[r].status is BatchStatus.INTENT for r in in_flight)
    assert all(records[r].attempts == 1 for r in in_flight)

    server.set_faults(latency=0.0)
    rerun = run_cli("apply", "--auto-approve", cwd=root, env=server.env())
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert delivered_once(server) == expected(0, 48)
