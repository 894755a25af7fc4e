"""A state's location string: which backend it names, and how it may be shown.

Apart from octoplan/state/open.py so that the backends can use it without importing the
module that imports them.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

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
