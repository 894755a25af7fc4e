"""From a location string to an open state: a SQLite path or a PostgreSQL URL.

The location comes from `octoplan.yaml`'s `state:` key, and `OCTOPLAN_STATE` wins over it. A
relative path is relative to the project root.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from octoplan.errors import StateError
from octoplan.private import private_database
from octoplan.project import CONFIG_NAME
from octoplan.state.base import StateStore
from octoplan.yamlsource import read_yaml

DEFAULT_LOCATION = ".octoplan/state.db"
ENV_VAR = "OCTOPLAN_STATE"
_PG_SCHEMES = ("postgresql://", "postgres://")


def is_postgres(location: str) -> bool:
    return location.startswith(_PG_SCHEMES)


def state_location(root: Path) -> str:
    """The `state:` value of root's octoplan.yaml, or the default. (Only that key is read: the
    full project loader owns the rest of the file.)"""
    path = root / CONFIG_NAME
    if not path.exists():
        return DEFAULT_LOCATION
    # The loader's own reader: unsafe, oversized or broken YAML is refused with positions.
    data = read_yaml(path, CONFIG_NAME).data
    value = data.get("state") if isinstance(data, dict) else None
    if value is None:
        return DEFAULT_LOCATION
    if not isinstance(value, str) or not value.strip():
        raise StateError(
            f"{path}: `state` must be a file path or a postgresql:// URL, not {value!r}"
        )
    return value.strip()


def resolve_location(config_state: str, root: Path) -> str:
    """The location to use: $OCTOPLAN_STATE if set, else the configured one."""
    return os.environ.get(ENV_VAR, "").strip() or config_state


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
