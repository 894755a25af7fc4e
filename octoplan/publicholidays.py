"""Is a day a French public holiday (for marketing hours)?

The `holidays` package answers, but importing it loads the calendar of every country it knows,
which costs more than the rest of a `validate`. Most days cannot be a French public holiday at
all: the fixed ones fall on eight dates, and the ones that move with Easter (Easter Monday,
Ascension, Whit Monday) between 23 March and 14 June. A day outside both is answered here
without the package; `tests/test_publicholidays.py` holds the shortcut to the package's own
calendar over decades.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import holidays

# (month, day) of the holidays on a fixed date.
FIXED = frozenset({(1, 1), (5, 1), (5, 8), (7, 14), (8, 15), (11, 1), (11, 11), (12, 25)})
# Earliest Easter Monday (Easter on 22 March) to latest Whit Monday (Easter on 25 April).
MOVABLE_FROM, MOVABLE_TO = (3, 23), (6, 14)


def could_be_holiday(day: date) -> bool:
    if (day.month, day.day) in FIXED:
        return True
    return MOVABLE_FROM <= (day.month, day.day) <= MOVABLE_TO


@lru_cache(maxsize=16)
def _calendar(year: int) -> holidays.HolidayBase:
    import holidays

    return holidays.country_holidays("FR", years=year)


def holiday_name(day: date) -> str | None:
    """The name of the French public holiday on `day`, or None."""
    if not could_be_holiday(day):
        return None
    name = _calendar(day.year).get(day)
    return None if name is None else str(name)
