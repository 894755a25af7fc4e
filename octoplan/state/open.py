"""From a location string to an open state: a SQLite path or a PostgreSQL URL.

The location is the command's Target's (octoplan/target.py: `octoplan.yaml`'s `state:`,
`OCTOPLAN_STATE`, or an environment's own). A relative path is relative to the project root.
"""

from __future__ import annotations

from pathlib import Path

from octoplan.errors import StateError
from octoplan.private import private_database
from octoplan.state.base import StateStore
from octoplan.state.location import describe, is_postgres, scrub, sqlite_path

__all__ = ["describe", "is_postgres", "open_state", "scrub", "sqlite_path", "state_exists"]


def state_exists(location: str, root: Path) -> bool:
    """False only for a SQLite file not created yet (a server state always 'exists')."""
    return is_postgres(location) or sqlite_path(location, root).exists()


def open_state(location: str, root: Path) -> StateStore:
    """Open (creating and migrating as needed) the state at `location`."""
    if is_postgres(location):
        from octoplan.state.postgres import PostgresStore

        return PostgresStore(location)
    from octoplan.state.sqlite import SqliteStore

    path = sqlite_path(location, root)
    try:
        private_database(path)
    except OSError as exc:
        raise StateError(
            f"{path.parent}: cannot create the state directory: {exc.strerror}"
        ) from exc
    return SqliteStore(path)
