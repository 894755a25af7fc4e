"""From a location string to an open state: a SQLite path or a PostgreSQL URL.

The location is the command's Target's (octoplan/target.py: `octoplan.yaml`'s `state:`,
`OCTOPLAN_STATE`, or an environment's own). A relative path is relative to the project root.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from octoplan.errors import StateError
from octoplan.private import private_database
from octoplan.state.base import StateStore

_PG_SCHEMES = ("postgresql://", "postgres://")


def is_postgres(location: str) -> bool:
    return location.startswith(_PG_SCHEMES)


def sqlite_path(location: str, root: Path) -> Path:
    return root / Path(location).expanduser()


def describe(location: str) -> str:
    """The location for messages and `StateInfo.url`: any password removed."""
    if not is_postgres(location):
        return location
    parts = urlsplit(location)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostinfo = netloc.rpartition("@")
        netloc = f"{userinfo.partition(':')[0]}@{hostinfo}"
    query = urlencode([(key, value) for key, value in parse_qsl(parts.query) if key != "password"])
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def scrub(text: str, location: str) -> str:
    """`text` (a driver's error message) without the location's password, should it echo it."""
    secrets = [match for match in re.findall(r"password=([^&\s]+)", location)]
    parts = urlsplit(location)
    if parts.password:
        secrets.append(parts.password)
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


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
