"""Versioned schema migrations, one numbered list per backend.

`MIGRATIONS[n - 1]` (in `sqlite.py` / `postgres.py`) holds the statements that take a state from
schema version n - 1 to n; the version reached is kept in `meta.schema_version`. Migrations only
ever append: a released migration is never edited, a change is a new one.
"""

from __future__ import annotations

import zlib

from octoplan.errors import StateError
from octoplan.state.base import SCHEMA_VERSION


def check_version(found: int, where: str) -> None:
    """Refuse a state written by a newer octoplan before anything is changed in it."""
    if found > SCHEMA_VERSION:
        raise StateError(
            f"{where}: state schema version {found} is newer than this octoplan "
            f"(max {SCHEMA_VERSION}); upgrade octoplan"
        )


def compress_payload(payload: str) -> bytes:
    """How schema 2 stores a request body: zlib, level 1. A 500-recipient body shrinks about
    tenfold, and apply's commit before each request writes (and sends) that much less."""
    return zlib.compress(payload.encode(), 1)


def decompress_payload(value: bytes | memoryview) -> str:
    return zlib.decompress(value).decode()
