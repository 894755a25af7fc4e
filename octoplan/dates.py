"""Why a date-time written in the ISO 8601 shape names no real moment (`2026-13-45T10:00`):
said as such, rather than as a format or offset problem."""

from __future__ import annotations

import calendar
import re

_SHAPE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?"
    r"(?:Z|[+-]\d{2}(?::?\d{2})?)?)?$",
    re.IGNORECASE,
)


def impossible_date(value: str) -> str | None:
    """What is out of range in a value of the ISO shape, or None (not that shape, or fine)."""
    found = _SHAPE.match(value.strip())
    if found is None:
        return None
    year, month, day = (int(found.group(i)) for i in (1, 2, 3))
    if not 1 <= month <= 12:
        return f"there is no month {month}"
    days = calendar.monthrange(year, month)[1] if year >= 1 else 31
    if not 1 <= day <= days:
        return f"{calendar.month_name[month]} {year} has {days} days, not {day}"
    for index, unit, top in ((4, "hour", 23), (5, "minute", 59), (6, "second", 59)):
        part = found.group(index)
        if part is not None and int(part) > top:
            return f"there is no {unit} {int(part)}"
    return None
