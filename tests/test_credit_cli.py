"""The account's credit read before apply sends (octoplan/commands/credit.py, compliance.py's
credit_of), when it cannot be turned into money: a balance in a unit octoplan has no price for,
or a balance that cannot be read at all. Either is said as a warning, and apply goes on: the
credit check protects money, it must not stop a send on an answer it cannot read.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from octoplan.sandbox import SandboxServer
from tests.fixtures.project import MakeProject, run_cli

CONFIG = "region: FR\ndefaults: {sender: ShopX}\n"
CAMPAIGN = 'channel: sms\npurpose: alert\ntext: "Votre colis arrive"\ncontacts: [contacts/c.csv]\n'


@pytest.fixture
def project(make_project: MakeProject) -> Path:
    return make_project(
        {"campaigns/parcel.yaml": CAMPAIGN, "contacts/c.csv": "phone_number\n+33612345678\n"},
        CONFIG,
    )


def test_a_balance_in_a_unit_without_a_price_is_a_warning_and_apply_sends(
    project: Path, sandbox: SandboxServer
) -> None:
    sandbox.inject("unknown_unit", on="any")  # the balance, read first
    result = run_cli("apply", "--auto-approve", cwd=project, env=sandbox.env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr.startswith(
        "Octopush account: warning: credit not checked: the balance is 22,222 credits, a unit "
        "octoplan has no price for\n"
    )
    assert [d.recipient for d in sandbox.deliveries()] == ["+33612345678"]


def test_a_balance_that_cannot_be_read_is_a_warning_and_apply_sends(
    project: Path, sandbox: SandboxServer
) -> None:
    sandbox.inject("fail", "fail", "fail", "fail", "fail", "fail", on="any")  # 1 + 5 retries
    result = run_cli("apply", "--auto-approve", cwd=project, env=sandbox.env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr.startswith(
        "Octopush account: warning: credit not checked: wallet/check-balance failed: "
        "wallet/check-balance: Internal server error. (HTTP 500, code 500)\n"
    )
    assert [d.recipient for d in sandbox.deliveries()] == ["+33612345678"]
