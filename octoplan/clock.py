"""The one source of "now", so tests can move the clock in a real subprocess.

`OCTOPLAN_NOW` (ISO 8601 with an offset) pins the clock; `OCTOPLAN_CLOCK_OFFSET` (seconds)
shifts it; `OCTOPLAN_CLOCK_TICK` (seconds) moves it on by that much at every reading, in this
process, so a drill of a long apply (marketing hours ending halfway) does not depend on how
fast the machine is. They exist for tests and drills (the 24 h request_id window, marketing
hours); none is needed in normal use.
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
    tick = os.environ.get("OCTOPLAN_CLOCK_TICK")
    if tick:
        value += timedelta(seconds=float(tick) * next(_readings))
    return value.astimezone(UTC)
