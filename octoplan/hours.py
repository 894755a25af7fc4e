"""Marketing hours: when a marketing message may reach its recipient, in the recipient's zone.

`policies.marketing_hours` gives the days, the hours and the public-holiday rule in the
project's time zone. A number of the project's region gets them there; a number of another
region gets them in that region's zone (`region_timezones` in the policy, else the French
overseas zones below, else the zones libphonenumber gives the number: all of them must be open)
and with that region's public holidays. See docs/campaign-format.md, "Marketing hours".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from operator import itemgetter
from typing import TYPE_CHECKING, Final
from zoneinfo import ZoneInfo

from octoplan.model import MarketingHours
from octoplan.phones import country_of, country_of_code
from octoplan.publicholidays import could_be_holiday

if TYPE_CHECKING:
    import holidays

WEEKDAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# French overseas regions: their zone, and their calendar in the `holidays` package (France's
# subdivision), since each has public holidays of its own (Abolition of slavery...).
OVERSEAS: Final[Mapping[str, tuple[str, str]]] = {
    "GP": ("America/Guadeloupe", "971"),
    "MQ": ("America/Martinique", "972"),
    "GF": ("America/Cayenne", "973"),
    "RE": ("Indian/Reunion", "974"),
    "YT": ("Indian/Mayotte", "976"),
    "PM": ("America/Miquelon", "PM"),
    "BL": ("America/St_Barthelemy", "BL"),
    "MF": ("America/Marigot", "MF"),
    "NC": ("Pacific/Noumea", "NC"),
    "PF": ("Pacific/Tahiti", "PF"),
    "WF": ("Pacific/Wallis", "WF"),
}
_SEARCH_DAYS = 31  # how far ahead the next window is looked for
_CODE = itemgetter(slice(0, 4))


@dataclass(frozen=True, slots=True)
class Place:
    """Where a recipient's marketing hours are counted: a zone and a holiday calendar."""

    zone: str
    country: str | None  # `holidays` country, None: no public holidays known
    subdiv: str | None = None
    region: str | None = None  # the numbers' region, for messages (None: the project's)

    @property
    def label(self) -> str:
        return self.zone if self.region is None else f"{self.region} ({self.zone})"


@lru_cache(maxsize=64)
def _calendar(country: str, subdiv: str | None, year: int) -> holidays.HolidayBase | None:
    # Imported when a time is checked: most plans never need the calendars (~25 ms).
    import holidays

    try:
        return holidays.country_holidays(country, subdiv=subdiv, years=year)
    except NotImplementedError:  # a country the package has no calendar for
        return None


@lru_cache(maxsize=4096)
def _number_zones(key: str) -> tuple[str, ...]:
    import phonenumbers
    from phonenumbers import timezone

    try:
        zones = timezone.time_zones_for_number(phonenumbers.parse(key))
    except phonenumbers.NumberParseException:
        return ()
    return tuple(z for z in zones if z != timezone.UNKNOWN_TIMEZONE)


class Hours:
    """The marketing-hours policy, asked about moments and recipients."""

    def __init__(self, policy: MarketingHours, home_region: str = "FR") -> None:
        self.policy = policy
        self.home = Place(policy.timezone, home_region)
        self._by_region: dict[str | None, tuple[Place, ...] | None] = {}

    # -- where ------------------------------------------------------------------------------

    def places_of_region(self, region: str | None) -> tuple[Place, ...] | None:
        """The places of every number of `region`; None: it depends on the number."""
        if region in self._by_region:
            return self._by_region[region]
        found: tuple[Place, ...] | None
        configured = self.policy.region_timezones.get(region or "")
        if region is None or region == self.home.country:
            found = (self.home,)
        elif configured is not None:
            found = (self._foreign(configured, region),)
        elif region in OVERSEAS:
            zone, subdiv = OVERSEAS[region]
            found = (Place(zone, "FR", subdiv, region),)
        else:
            found = None
        self._by_region[region] = found
        return found

    def _foreign(self, zone: str, region: str) -> Place:
        if region in OVERSEAS:
            return Place(zone, "FR", OVERSEAS[region][1], region)
        return Place(zone, region, None, region)

    def places_of(self, key: str) -> tuple[Place, ...]:
        """Where one recipient's hours are counted (a number of several zones: each)."""
        if not key.startswith("+"):
            return (self.home,)
        region = country_of_code(_CODE(key)) or country_of(key)
        found = self.places_of_region(region)
        if found is not None:
            return found
        zones = _number_zones(key)
        if not zones or region is None:
            return (self.home,)
        return tuple(self._foreign(zone, region) for zone in zones)

    def places_of_keys(self, keys: Iterable[str]) -> dict[Place, tuple[int, str]]:
        """Each place of these recipients: (how many recipients, the first of them)."""
        found: dict[Place, tuple[int, str]] = {}
        by_code: dict[str, tuple[Place, ...] | None] = {}
        for key in keys:
            code = _CODE(key) if key.startswith("+") else ""
            places = by_code.get(code)
            if places is None and code not in by_code:
                region = country_of_code(code) if code else None
                places = by_code[code] = (
                    self.places_of_region(region) if region is not None or not code else None
                )
            for place in places if places is not None else self.places_of(key):
                count, first = found.get(place, (0, key))
                found[place] = (count + 1, first)
        return found

    # -- when -------------------------------------------------------------------------------

    def _holiday(self, place: Place, day: date) -> str | None:
        if not self.policy.skip_public_holidays or place.country is None:
            return None
        if place.country == "FR" and place.subdiv is None and not could_be_holiday(day):
            return None  # answered without importing the package (publicholidays.py)
        calendar = _calendar(place.country, place.subdiv, day.year)
        if calendar is None or day not in calendar:
            return None
        return str(calendar[day])

    def closed(self, moment: datetime, place: Place) -> str | None:
        """Why marketing messages cannot reach `place` at `moment`; None when they can."""
        policy = self.policy
        local = moment.astimezone(ZoneInfo(place.zone))
        day = WEEKDAYS[local.weekday()]
        if day not in policy.days:
            return f"{day} is not a marketing day ({', '.join(policy.days) or 'none'})"
        holiday = self._holiday(place, local.date())
        if holiday is not None:
            return f"{local.date()} is a public holiday ({holiday})"
        if not policy.start_time <= local.time().replace(tzinfo=None) < policy.end_time:
            return f"marketing messages go out between {policy.start} and {policy.end}"
        return None

    def _opening(self, moment: datetime, place: Place) -> datetime | None:
        """The first moment at or after `moment` when `place` is open."""
        if self.closed(moment, place) is None:
            return moment
        zone = ZoneInfo(place.zone)
        today = moment.astimezone(zone).date()
        for ahead in range(_SEARCH_DAYS + 1):
            day = today + timedelta(days=ahead)
            start = datetime.combine(day, self.policy.start_time, tzinfo=zone)
            # A start inside a DST gap (02:30 on the spring-forward night) is not a real
            # time: the round trip through UTC gives the moment the clocks really show it.
            start = start.astimezone(ZoneInfo("UTC")).astimezone(zone)
            if start >= moment and self.closed(start, place) is None:
                return start
        return None

    def next_open(self, moment: datetime, places: Iterable[Place]) -> datetime | None:
        """The first moment at or after `moment` when every place is open at once; None if
        there is none within a month."""
        wanted = list(places) or [self.home]
        at = moment
        limit = moment + timedelta(days=_SEARCH_DAYS)
        while at <= limit:
            later = at
            for place in wanted:
                opening = self._opening(at, place)
                if opening is None:
                    return None
                later = max(later, opening)
            if later == at:
                return at
            at = later
        return None

    def window_end(self, moment: datetime, places: Iterable[Place]) -> datetime:
        """When the window open at `moment` closes for the first of `places`."""
        ends = []
        for place in list(places) or [self.home]:
            zone = ZoneInfo(place.zone)
            local = moment.astimezone(zone)
            ends.append(datetime.combine(local.date(), self.policy.end_time, tzinfo=zone))
        return min(ends)


def local_time(moment: datetime, zone: str) -> str:
    """'Mon 07 Dec 2026 08:00 Europe/Paris'."""
    return f"{moment.astimezone(ZoneInfo(zone)):%a %d %b %Y %H:%M} {zone}"
