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
from octoplan.target import Target

if TYPE_CHECKING:
    from octoplan.client import OctopushClient


def no_credentials(target: Target) -> Credit:
    return Credit(
        None, f"no Octopush credentials ({target.login_var} and {target.key_var}) to read it with"
    )


def has_credentials(target: Target) -> bool:
    return all(os.environ.get(name) for name in (target.login_var, target.key_var))


def read_credit(client: OctopushClient, project: Project) -> Credit:
    """The balance through `client`, in the plan's currency (see compliance.credit_of)."""
    try:
        balance = client.check_balance()
    except OctoplanError as exc:
        return Credit(None, f"wallet/check-balance failed: {exc}", failed=True)
    config = project.config
    return credit_of(balance.amount, balance.unit, config.pricing, config.region)


def plan_credit(root: Path, project: Project, target: Target) -> Credit:
    """What `plan` says of the credit: read with the credentials (or from the sandbox)."""
    if not target.sandbox and not has_credentials(target):
        return no_credentials(target)
    from octoplan.commands.session import connect

    try:
        with connect(root, project, target) as client:
            return read_credit(client, project)
    except OctoplanError as exc:
        return Credit(None, f"wallet/check-balance failed: {exc}", failed=True)
