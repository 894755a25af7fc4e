"""Reaching the right API: the real one with the credentials from the environment, or the
embedded sandbox (what is sent through it: octoplan/sender.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from octoplan.client import OctopushClient, credential_problem
from octoplan.errors import UsageError
from octoplan.loader import Project
from octoplan.target import DEFAULT, Target

SANDBOX_LOGIN = "sandbox@octoplan.local"
SANDBOX_KEY = "sandbox"  # the embedded sandbox accepts any key; this one is no secret


def require_credentials(target: Target) -> tuple[str, str]:
    """(login, key) from the target's variables, surrounding whitespace removed; checked
    before any state is written, so that a key no request can carry is told at once, by its
    variable's name (its value is never shown)."""
    names = (target.login_var, target.key_var)
    values = [os.environ.get(name, "").strip() for name in names]
    missing = [name for name, value in zip(names, values, strict=True) if not value]
    if missing:
        where = "" if target.name == DEFAULT else f" for environment {target.name}"
        raise UsageError(
            f"no Octopush credentials{where}: set {names[0]} and {names[1]} "
            f"(missing: {', '.join(missing)}), or use --sandbox to send to the local sandbox"
        )
    for name, value in zip(names, values, strict=True):
        problem = credential_problem(value)
        if problem is not None:
            raise UsageError(
                f"{name} holds {problem}, which no HTTP header can carry (its value is not "
                "shown): set it exactly as the Octopush dashboard shows it; nothing was sent"
            )
    return values[0], values[1]


@contextmanager
def connect(root: Path, project: Project, target: Target) -> Iterator[OctopushClient]:
    """A client for the target's API (credentials from its variables) or its embedded
    sandbox."""
    if not target.sandbox:
        assert target.api_url is not None
        login, key = require_credentials(target)
        with OctopushClient(target.api_url, login, key) as client:
            yield client
        return
    from octoplan.sandbox import SandboxServer

    # Charging the project's prices: the sandbox's costs are the plan's estimates.
    server = SandboxServer(
        root / target.sandbox_data,
        "127.0.0.1",
        0,
        pricing=project.config.pricing,
        home_region=project.config.region,
    )
    base_url = server.start()
    try:
        with OctopushClient(base_url, SANDBOX_LOGIN, SANDBOX_KEY) as client:
            yield client
    finally:
        server.stop()
