"""The account's credit, read from `wallet/check-balance` for `plan` and `apply` (SPEC §7).

Without credentials (and outside the sandbox) plan says it could not check; an answer that
cannot be had or read is a warning, never a reason to fail a plan. The HTTP client is imported
only when there is an account to ask (a plain `plan` stays free of it).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from octoplan.compliance import Credit, credit_of
from octoplan.errors import OctoplanError
from octoplan.loader import Project

if TYPE_CHECKING:
    from octoplan.client import OctopushClient

CREDENTIALS = ("OCTOPUSH_API_LOGIN", "OCTOPUSH_API_KEY")
NO_CREDENTIALS = Credit(
    None, "no Octopush credentials (OCTOPUSH_API_LOGIN and OCTOPUSH_API_KEY) to read it with"
)


def has_credentials() -> bool:
    return all(os.environ.get(name) for name in CREDENTIALS)


def read_credit(client: OctopushClient, project: Project) -> Credit:
    """The balance through `client`, in the plan's currency (see compliance.credit_of)."""
    try:
        balance = client.check_balance()
    except OctoplanError as exc:
        return Credit(None, f"wallet/check-balance failed: {exc}", failed=True)
    config = project.config
    return credit_of(balance.amount, balance.unit, config.pricing, config.region)


def plan_credit(root: Path, project: Project, *, sandbox: bool) -> Credit:
    """What `plan` says of the credit: read with the credentials (or from the sandbox)."""
    if not sandbox and not has_credentials():
        return NO_CREDENTIALS
    from octoplan.commands.session import connect

    try:
        with connect(root, project, sandbox=sandbox) as client:
            return read_credit(client, project)
    except OctoplanError as exc:
        return Credit(None, f"wallet/check-balance failed: {exc}", failed=True)
