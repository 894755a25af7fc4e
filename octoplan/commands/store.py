"""The state a command works on: the project's, or the sandbox's own.

Apart from the client (octoplan/commands/session.py): `plan` opens a state and never talks to
the API, so it does not import an HTTP client.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from octoplan.loader import Project
from octoplan.pipeline import SANDBOX_STATE
from octoplan.state.base import StateStore
from octoplan.state.open import open_state, resolve_location


def state_location(root: Path, project: Project, sandbox: bool) -> str:
    # Sandbox sends must never mark a real recipient as sent: they get their own state.
    if sandbox:
        return SANDBOX_STATE
    return resolve_location(project.config.state, root)


@contextmanager
def open_store(root: Path, project: Project, *, sandbox: bool) -> Iterator[StateStore]:
    store = open_state(state_location(root, project, sandbox), root)
    try:
        if sandbox:
            deliver_sandbox_callbacks(root, project.config.region, store)
        yield store
    finally:
        store.close()


def deliver_sandbox_callbacks(root: Path, region: str, store: StateStore) -> None:
    """The embedded sandbox posts no callbacks (it stops with its apply): the reports and
    replies it owes are read from its data file now (octoplan/receive/embedded.py)."""
    from octoplan.receive import embedded

    embedded.deliver(root / embedded.DATA, store, region)
