"""Marketing hours (octoplan/hours.py): boundaries, DST, public holidays, recipients' zones."""

from __future__ import annotations

from datetime import datetime

import pytest

from octoplan.hours import Hours, Place
from octoplan.model import MarketingHours

PARIS = Hours(MarketingHours())
HOME = PARIS.home


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.mark.parametrize(
    ("moment", "reason"),
    [
        ("2026-11-24T07:59:59+01:00", "marketing messages go out between 08:00 and 20:00"),
        ("2026-11-24T08:00:00+01:00", None),  # the window's first minute
        ("2026-11-24T19:59:00+01:00", None),  # its last minute
        ("2026-11-24T20:00:00+01:00", "marketing messages go out between 08:00 and 20:00"),
        ("2026-11-29T10:00:00+01:00", "sun is not a marketing day (mon, tue, wed, thu, fri, sat)"),
        ("2026-12-25T10:00:00+01:00", "2026-12-25 is a public holiday (Christmas Day)"),
        ("2026-11-11T10:00:00+01:00", "2026-11-11 is a public holiday (Armistice Day)"),
        # Same instant, written in UTC: 19:00Z is 20:00 in Paris.
        ("2026-11-24T19:00:00+00:00", "marketing messages go out between 08:00 and 20:00"),
    ],
)
def test_closed_at_the_boundaries(moment: str, reason: str | None) -> None:
    assert PARIS.closed(at(moment), HOME) == reason


def test_dst_days_are_counted_in_local_time() -> None:
    every_day = Hours(MarketingHours(days=["mon", "tue", "wed", "thu", "fri", "sat", "sun"]))
    # Spring forward (Sun 28 Mar 2027): 06:30Z is 08:30 CEST (a fixed +01:00 would say 07:30).
    assert every_day.closed(at("2027-03-28T06:30:00+00:00"), every_day.home) is None
    assert every_day.closed(at("2027-03-28T05:59:00+00:00"), every_day.home) is not None
    # Fall back (Sun 25 Oct 2026): 18:30Z is 19:30 CET (a fixed +02:00 would say 20:30).
    assert every_day.closed(at("2026-10-25T18:30:00+00:00"), every_day.home) is None
    assert every_day.closed(at("2026-10-25T19:00:00+00:00"), every_day.home) is not None


def test_next_window_across_a_weekend_a_dst_change_and_a_holiday() -> None:
    # Saturday night before the spring-forward Sunday (Easter 2027): Monday is Easter Monday,
    # a public holiday, so Tuesday 08:00, which is +02:00 already.
    assert PARIS.next_open(at("2027-03-27T21:00:00+01:00"), [HOME]) == at(
        "2027-03-30T08:00:00+02:00"
    )
    # Christmas Day (a Friday), then Saturday 26 opens.
    assert PARIS.next_open(at("2026-12-25T09:00:00+01:00"), [HOME]) == at(
        "2026-12-26T08:00:00+01:00"
    )
    # Already open: now.
    assert PARIS.next_open(at("2026-11-24T12:00:00+01:00"), [HOME]) == at(
        "2026-11-24T12:00:00+01:00"
    )
    # No marketing day at all: none within a month.
    never = Hours(MarketingHours(days=[]))
    assert never.next_open(at("2026-11-24T12:00:00+01:00"), [never.home]) is None


def test_overseas_numbers_get_their_zone_and_their_holidays() -> None:
    (reunion,) = PARIS.places_of("+262692123456")
    assert reunion == Place("Indian/Reunion", "FR", "974", "RE")
    # 17:30 in Paris is 20:30 in Réunion: open for Paris, closed for Réunion.
    moment = at("2026-11-24T17:30:00+01:00")
    assert PARIS.closed(moment, HOME) is None
    assert PARIS.closed(moment, reunion) == "marketing messages go out between 08:00 and 20:00"
    # 20 December is Réunion's Abolition of Slavery day, not metropolitan France's (a Monday
    # in 2027).
    holiday = at("2027-12-20T14:00:00+04:00")
    assert PARIS.closed(holiday, reunion) == "2027-12-20 is a public holiday (Abolition of Slavery)"
    assert PARIS.closed(holiday, HOME) is None
    # The first moment both are open: Réunion's 08:00 is 05:00 in Paris, so Paris's 08:00.
    assert PARIS.next_open(at("2026-11-24T20:30:00+01:00"), [HOME, reunion]) == at(
        "2026-11-25T08:00:00+01:00"
    )


def test_a_region_zone_can_be_configured_and_other_numbers_use_their_own() -> None:
    hours = Hours(MarketingHours(region_timezones={"RE": "Europe/Paris", "US": "America/Chicago"}))
    assert hours.places_of("+262692123456") == (Place("Europe/Paris", "FR", "974", "RE"),)
    assert hours.places_of("+12125551234") == (Place("America/Chicago", "US", None, "US"),)
    # Not configured: libphonenumber's zone of the number (New York for a 212 number).
    assert PARIS.places_of("+12125551234") == (Place("America/New_York", "US", None, "US"),)
    assert PARIS.places_of("+33612345678") == (HOME,)
    assert PARIS.places_of("someone@example.com") == (HOME,)


def test_places_of_many_keys_counts_each_place_once_with_its_first_recipient() -> None:
    found = PARIS.places_of_keys(["+33612345678", "+262692123456", "+33612345679"])
    assert found == {
        HOME: (2, "+33612345678"),
        Place("Indian/Reunion", "FR", "974", "RE"): (1, "+262692123456"),
    }


def test_window_end_is_the_first_zone_to_close() -> None:
    (reunion,) = PARIS.places_of("+262692123456")
    moment = at("2026-11-24T10:00:00+01:00")
    assert PARIS.window_end(moment, [HOME]) == at("2026-11-24T20:00:00+01:00")
    assert PARIS.window_end(moment, [HOME, reunion]) == at("2026-11-24T20:00:00+04:00")
