"""The one source of "now", so tests can move the clock in a real subprocess.

`OCTOPLAN_NOW` (ISO 8601 with an offset) pins the clock; `OCTOPLAN_CLOCK_OFFSET` (seconds)
shifts it. Both exist for tests and drills of the 24 h request_id window; neither is needed
in normal use.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta


def now() -> datetime:
    pinned = os.environ.get("OCTOPLAN_NOW")
    if pinned:
        value = datetime.fromisoformat(pinned)
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
    else:
        value = datetime.now(UTC)
    offset = os.environ.get("OCTOPLAN_CLOCK_OFFSET")
    if offset:
        value += timedelta(seconds=float(offset))
    return value.astimezone(UTC)


def pinned() -> bool:
    """Is the clock pinned or shifted by the environment (tests and drills)?"""
    return bool(os.environ.get("OCTOPLAN_NOW") or os.environ.get("OCTOPLAN_CLOCK_OFFSET"))
