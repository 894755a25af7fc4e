"""The shortcut that answers most days without importing `holidays` never misses a holiday."""

from __future__ import annotations

from datetime import date, timedelta

import holidays

from octoplan.publicholidays import could_be_holiday, holiday_name


def test_every_french_public_holiday_falls_where_the_shortcut_looks() -> None:
    for year in range(1980, 2101):
        for day, name in holidays.country_holidays("FR", years=year).items():
            assert could_be_holiday(day), (day, name)
            assert holiday_name(day) == name


def test_days_outside_the_windows_are_no_holiday_and_inside_they_are_asked() -> None:
    calendar = holidays.country_holidays("FR", years=2027)
    day = date(2027, 1, 1)
    while day.year == 2027:
        assert holiday_name(day) == calendar.get(day)
        day += timedelta(days=1)
    assert holiday_name(date(2026, 12, 4)) is None
    assert holiday_name(date(2026, 5, 25)) == "Pentecost Monday"
