"""Versioned schema migrations, one numbered list per backend.

`MIGRATIONS[n - 1]` (in `sqlite.py` / `postgres.py`) holds the statements that take a state from
schema version n - 1 to n; the version reached is kept in `meta.schema_version`. Migrations only
ever append: a released migration is never edited, a change is a new one.
"""

from __future__ import annotations

import json
import zlib
from datetime import UTC, datetime

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


def purpose_of(payload: bytes | memoryview) -> str:
    """Schema 3: a journaled body's purpose, as the API reads it (omitted: wholesale)."""
    body = json.loads(decompress_payload(payload))
    return "alert" if isinstance(body, dict) and body.get("purpose") == "alert" else "wholesale"


def due_of(send_at: str | None, sent: datetime) -> datetime:
    """Schema 3: when a batch's messages go out: its send_at, else when it was sent (UTC)."""
    return datetime.fromisoformat(send_at).astimezone(UTC) if send_at else sent.astimezone(UTC)
