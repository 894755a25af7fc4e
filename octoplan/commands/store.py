"""The state a command works on: its target's (the project's, an environment's, the sandbox's).

Apart from the client (octoplan/commands/session.py): `plan` opens a state and never talks to
the API, so it does not import an HTTP client.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from octoplan.state.base import StateStore
from octoplan.state.open import open_state
from octoplan.target import Target


@contextmanager
def open_store(root: Path, target: Target, region: str) -> Iterator[StateStore]:
    # Each environment has its own state: sandbox or staging sends never mark a real
    # recipient as sent.
    store = open_state(target.state, root)
    try:
        if target.sandbox:
            deliver_sandbox_callbacks(root, target, region, store)
        yield store
    finally:
        store.close()


def deliver_sandbox_callbacks(root: Path, target: Target, region: str, store: StateStore) -> None:
    """The embedded sandbox posts no callbacks (it stops with its apply): the reports and
    replies it owes are read from its data file now (octoplan/receive/embedded.py)."""
    from octoplan.receive import embedded

    embedded.deliver(root / target.sandbox_data, store, region)
