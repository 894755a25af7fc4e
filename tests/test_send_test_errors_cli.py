"""`octoplan send-test` when the API refuses the test or never answers: the error says which,
and the audit log records the attempt with its outcome (nothing marked as sent)."""

from __future__ import annotations

import re

import pytest

from octoplan.sandbox import SandboxServer
from tests.fixtures.project import MakeProject, run_cli
from tests.test_send_test_cli import CONFIG, CUSTOMERS, NOTICE, the_test_audited


@pytest.mark.parametrize(
    ("faults", "outcome", "error"),
    [
        (
            ("deny400",),
            "refused",
            "sms-campaign/send: Payload validation error. (HTTP 400, code 400)",
        ),
        (
            ("fail",) * 10,
            "no answer",
            "sms-campaign/send: Internal server error. (HTTP 500, code 500)",
        ),
    ],
)
def test_a_test_the_api_refuses_or_never_answers_is_not_confirmed_and_is_audited(
    make_project: MakeProject,
    sandbox: SandboxServer,
    faults: tuple[str, ...],
    outcome: str,
    error: str,
) -> None:
    root = make_project(
        {"campaigns/notice.yaml": NOTICE, "contacts/customers.csv": CUSTOMERS}, CONFIG
    )
    sandbox.inject(*faults)  # type: ignore[arg-type]
    result = run_cli("send-test", "notice", "--to", "0699999901", cwd=root, env=sandbox.env())
    assert (result.returncode, result.stdout) == (1, "")
    last = result.stderr.splitlines()[-1]
    prefix = f"error: the test was not confirmed ({outcome}): "
    assert last == prefix + error
    assert sandbox.deliveries() == []
    detail = the_test_audited(root)
    assert re.fullmatch(
        r"campaign notice: request op-[0-9a-f]{32} to \+33 6•• •• •• 01, the text of "
        rf"\+33 6•• •• •• 70: {re.escape(outcome)}: .+ \(by octoplan send-test by .+\)",
        detail,
    )
    assert last[len(prefix) :] in detail
