"""The one source of "now", so tests can move the clock in a real subprocess.

`OCTOPLAN_NOW` (ISO 8601 with an offset) pins the clock; `OCTOPLAN_CLOCK_OFFSET` (seconds)
shifts it; `OCTOPLAN_CLOCK_FILE` names a file holding more seconds to shift it by, read at each
call, so that a test can move the clock of a process already running (an apply waiting at its
confirmation prompt, or in the middle of its sends) and of a sandbox sharing the file;
`OCTOPLAN_CLOCK_TICK` (seconds) moves it on by that much at every reading, in this process, so
a drill of a long apply (marketing hours ending halfway) does not depend on how fast the
machine is. They exist for tests and drills (the 24 h request_id window, marketing hours);
none is needed in normal use.
"""

from __future__ import annotations

import itertools
import os
from datetime import UTC, datetime, timedelta

_readings = itertools.count()


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
    moved = os.environ.get("OCTOPLAN_CLOCK_FILE")
    if moved:
        value += timedelta(seconds=_seconds_in(moved))
    tick = os.environ.get("OCTOPLAN_CLOCK_TICK")
    if tick:
        value += timedelta(seconds=float(tick) * next(_readings))
    return value.astimezone(UTC)


def _seconds_in(path: str) -> float:
    """The file's number of seconds; 0 while it is missing or empty (being rewritten)."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read().strip()
    except FileNotFoundError:
        return 0.0
    return float(text) if text else 0.0


def pinned() -> bool:
    """Is the clock pinned or shifted by the environment (tests and drills)?"""
    return bool(os.environ.get("OCTOPLAN_NOW") or os.environ.get("OCTOPLAN_CLOCK_OFFSET"))
