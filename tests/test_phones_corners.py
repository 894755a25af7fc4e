"""Phone number corners (issue 22): regions whose plans the fast paths leave to a full parse,
trunk prefixes written twice or in brackets, fixed lines, international call prefixes, an
overseas number written the French way, and the region of numbers whose calling code is
shared or non-geographic."""

from __future__ import annotations

import phonenumbers
import pytest

from octoplan.phones import (
    InvalidRecipient,
    _fast_type,
    country_of,
    country_of_code,
    normalize_phone,
    normalize_phones,
)


@pytest.mark.parametrize(
    ("raw", "region", "e164"),
    [
        ("+33 06 12 34 56 78", "FR", "+33612345678"),  # trunk 0 after the calling code
        ("(0)6 12 34 56 78", "FR", "+33612345678"),
        ("0151 23456789", "DE", "+4915123456789"),
        ("07911 123456", "GB", "+447911123456"),
        ("(212) 555-0123", "US", "+12125550123"),  # fixed line or mobile: the plan cannot tell
        ("011 33 6 12 34 56 78", "US", "+33612345678"),  # the US international call prefix
    ],
)
def test_numbers_a_full_parse_reads(raw: str, region: str, e164: str) -> None:
    assert normalize_phone(raw, region, "sms") == e164


@pytest.mark.parametrize(
    ("raw", "region", "message", "hint"),
    [
        (
            "0 06 12 34 56 78",
            "FR",
            "'0 06 12 34 56 78' is not a valid phone number for region FR",
            None,
        ),
        (
            "0692 12 34 56",
            "FR",
            "'0692 12 34 56' is not a valid phone number for region FR",
            "it is valid in region RE: write it in international format (+262692123456)",
        ),
        (
            "030 1234567",
            "DE",
            "'030 1234567' (+49301234567) is a fixed line: it cannot receive SMS",
            "SMS and RCS need a mobile number",
        ),
        (
            "020 7946 0958",
            "GB",
            "'020 7946 0958' (+442079460958) is a fixed line: it cannot receive SMS",
            "SMS and RCS need a mobile number",
        ),
        (
            "06 12 34 56 78",
            "BR",
            "'06 12 34 56 78' is not a valid phone number for region BR",
            None,
        ),
    ],
)
def test_numbers_refused(raw: str, region: str, message: str, hint: str | None) -> None:
    with pytest.raises(InvalidRecipient) as raised:
        normalize_phone(raw, region, "sms")
    assert (str(raised.value), raised.value.hint) == (message, hint)


def test_bulk_leaves_what_it_cannot_read_to_the_caller() -> None:
    # A cell with a line break (a quoted CSV cell) and a foreign number: None, each read
    # again one by one by the caller.
    assert normalize_phones(["06 12 34 56 78", "0612\n345678", "+44 7911 123456"], "FR", "sms") == [
        "+33612345678",
        None,
        None,
    ]
    assert normalize_phones([], "FR", "sms") == []


def test_the_international_call_prefix_is_read_on_the_fast_paths() -> None:
    # `0033...` (FR dials out with 00) is `+33...`: answered here, not left to a full parse
    # (a quarter of a real export may be written so); a 0 after 00 is no country code.
    raws = ["0033612345678", "0033 6 12 34 56 78", "00 33 6.12.34.56.78", "0033012345678"]
    assert normalize_phones(raws, "FR", "sms") == [
        "+33612345678",
        "+33612345678",
        "+33612345678",
        None,
    ]
    assert [_fast_type(raw, "FR") for raw in raws[:2]] == [
        ("+33612345678", phonenumbers.PhoneNumberType.MOBILE),
        ("+33612345678", phonenumbers.PhoneNumberType.MOBILE),
    ]
    assert _fast_type("0033012345678", "FR") is None


def test_country_of_shared_and_non_geographic_codes() -> None:
    assert country_of("+12125550123") == "US"  # +1 is shared: parsed
    assert country_of("+80012345678") == "001"  # international freephone
    assert country_of("+9") is None
    assert country_of("+33612345678") == "FR"
    assert country_of("+262692123456") == "RE"
    assert country_of_code("+121") is None
    assert country_of_code("+336") == "FR"
