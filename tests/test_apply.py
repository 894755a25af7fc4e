"""octoplan.apply's window check as a request leaves, between its journal write and its send:
the plan, the state and the sandbox are real, and the clock is moved while the request before it
is on the wire, once the state shows it journaled.

The same from the command line, and every other edge, is in tests/test_apply_edges.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from octoplan import clock
from octoplan.apply import apply_plan
from octoplan.client import OctopushClient, SendResult
from octoplan.model import Pricing
from octoplan.pipeline import Selection, load, make_plan
from octoplan.plan import BatchKind
from octoplan.sandbox import SandboxServer
from octoplan.sender import ClientSender
from octoplan.state.base import BatchStatus
from octoplan.state.open import open_state
from tests.fixtures.project import MakeProject, run_cli, write_files
from tests.fixtures.sandbox import SANDBOX_KEY, SANDBOX_LOGIN, SandboxFactory
from tests.test_apply_edges import (
    CONFIG,
    ClockFile,
    campaign,
    contacts,
    kill_in_flight,
    sends,
    wait_until,
)


class _LateAnswer:
    """A sender whose first answer comes back only once the resumed request is journaled for
    its attempt, in its window (the state read through a connection of its own, as apply
    journals it while the first request is on the wire), and the clock has then passed the
    margin: the resumed request is due to leave right after that answer."""

    def __init__(self, inner: ClientSender, root: Path, resumed: str, moved: ClockFile) -> None:
        self.inner, self.root, self.resumed, self.moved = inner, root, resumed, moved

    def send(self, endpoint: str, payload: str, request_id: str) -> SendResult:
        result = self.inner.send(endpoint, payload, request_id)
        if request_id != self.resumed:
            watcher = open_state(".octoplan/state.db", self.root)
            try:
                wait_until(
                    lambda: watcher.batch(self.resumed).attempts == 2,  # type: ignore[union-attr]
                    "the resumed request journaled",
                )
            finally:
                watcher.close()
            self.moved.move_to(24.5)
        return result

    def cancel(self, endpoint: str, body: dict[str, Any]) -> None:
        self.inner.cancel(endpoint, body)


def test_a_resume_journaled_in_the_window_is_not_sent_once_past_it(
    make_project: MakeProject,
    sandbox: SandboxServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root = make_project(
        {"campaigns/promo.yaml": campaign("promo", "c.csv"), "contacts/c.csv": contacts(0, 3)},
        config=CONFIG,
    )
    moved = ClockFile(tmp_path / "clock", monkeypatch)
    env = {**sandbox.env(), "OCTOPLAN_CLOCK_FILE": str(moved.path)}
    resumed = kill_in_flight(root, env, sandbox)
    # A campaign sorted first: one request, then the resumed one.
    write_files(
        root, {"campaigns/a.yaml": campaign("a", "a.csv"), "contacts/a.csv": contacts(9, 2)}
    )
    moved.move_to(22.9)
    project = load(root, Selection())
    store = open_state(".octoplan/state.db", root)
    client = OctopushClient(sandbox.base_url, SANDBOX_LOGIN, SANDBOX_KEY)
    try:
        plan = make_plan(project, store, clock.now(), Selection())
        assert [(c.id, [b.kind for b in c.batches]) for c in plan.campaigns] == [
            ("a", [BatchKind.NEW]),
            ("promo", [BatchKind.RESUME]),
        ]

        report = apply_plan(
            plan,
            store,
            _LateAnswer(ClientSender(client), root, resumed, moved),
            now=clock.now,
            concurrency=1,
        )
        record = store.batch(resumed)
    finally:
        client.close()
        store.close()

    assert (report.requests_accepted, report.marked_in_doubt, report.skipped) == (1, 1, 0)
    assert record is not None
    # In doubt, and its attempt of this apply withdrawn: it never left.
    assert (record.status, record.attempts) == (BatchStatus.IN_DOUBT, 1)
    assert sends(sandbox).count(resumed) == 1  # the killed apply's attempt only
    done = run_cli("plan", "--detailed-exitcode", cwd=root, env=env)
    assert done.returncode == 0, done.stdout + done.stderr


def test_an_answer_that_costs_nothing_is_reported_as_a_zero_cost(
    make_project: MakeProject, sandbox_factory: SandboxFactory
) -> None:
    """A sandbox whose price for France is 0 answers total_cost 0: the report keeps 0.0 for
    the request (falsy, yet an answer's figure, not a missing one), and so does the state."""
    server = sandbox_factory(pricing=Pricing(sms={"FR": 0.0}))
    root = make_project(
        {"campaigns/zero.yaml": campaign("zero", "c.csv"), "contacts/c.csv": contacts(0, 3)},
        config=CONFIG + "pricing: {sms: {FR: 0.0}}\n",  # the estimate agrees
    )
    applied = run_cli("apply", "--auto-approve", "--format", "json", cwd=root, env=server.env())
    assert applied.returncode == 0, applied.stderr
    report = json.loads(applied.stdout)
    assert (report["summary"]["cost"], report["summary"]["estimated_cost"]) == (0.0, 0.0)
    assert report["campaigns"][0]["sent"] == {"messages": 3, "requests": 1}
    assert report["campaigns"][0]["cost"] == 0.0
