"""Recipient identities: phone numbers to E.164, e-mails, live-chat conversation ids.

Each normalizer returns the identity as state and the API will know it, or raises
`InvalidRecipient` whose message is written for the person who typed the value.

Phone numbers go through `phonenumbers` (libphonenumber): national formats with the project
region, `00` prefixes, spaces, dots, `(0)`. `is_valid_number`, not `is_possible_number`, and
SMS/RCS need a number that can be a mobile. Parsing costs ~50 µs a number, which is most of a
plan's time on a big list, so numbers already written in E.164 take a fast path: the country
code is split off and the number's type read from the same metadata `phonenumbers` uses. The
fast path declines (and the full parse runs) whenever `parse` could rewrite the digits: a
calling code shared by several regions, a leading 0, or digits that start with the region's
national prefix. tests/test_contacts.py checks it against the full parse on a sample.
"""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers
from phonenumbers import PhoneNumberType as T

PHONE_CHANNELS = frozenset({"sms", "voice_sms", "rcs"})
_MOBILE_CHANNELS = frozenset({"sms", "rcs"})
_MOBILE = frozenset({T.MOBILE, T.FIXED_LINE_OR_MOBILE})
# A voice SMS is a call: any line that can ring, but not numbers that cost the caller extra.
_NOT_CALLABLE = frozenset({T.PREMIUM_RATE, T.SHARED_COST, T.TOLL_FREE, T.UAN, T.VOICEMAIL})

_TYPE_NAMES = {
    T.FIXED_LINE: "a fixed line",
    T.TOLL_FREE: "a toll-free number",
    T.PREMIUM_RATE: "a premium-rate number",
    T.SHARED_COST: "a shared-cost number",
    T.VOIP: "a VoIP number",
    T.PERSONAL_NUMBER: "a personal (forwarding) number",
    T.PAGER: "a pager number",
    T.UAN: "a company (UAN) number",
    T.VOICEMAIL: "a voicemail number",
}
_CHANNEL_NAMES = {"sms": "SMS", "rcs": "RCS messages", "voice_sms": "voice SMS"}

# What people type around the digits; anything else (letters, "x" extensions) is a mistake
# that phonenumbers would silently drop.
_PHONE_CHARS = re.compile(r"\+?[0-9 .\-()/\u00a0]+")
_E164 = re.compile(r"\+([1-9][0-9]{6,14})")
_EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

# French overseas departments share the 0 trunk prefix: `0692...` is a valid national number in
# RE but not in FR, a common mistake in French lists worth a precise hint.
_OVERSEAS = ("RE", "YT", "GP", "MQ", "GF", "PM", "BL", "MF")


class InvalidRecipient(ValueError):
    """A phone number, e-mail or conversation id that cannot be sent to; str() says why."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


@lru_cache(maxsize=512)
def _single_region_metadata(country_code: int) -> phonenumbers.PhoneMetadata | None:
    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(country_code)
    if regions is None or len(regions) != 1:
        return None
    return phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(country_code, regions[0])


@lru_cache(maxsize=1)
def _calling_codes() -> frozenset[str]:
    return frozenset(str(code) for code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE)


def _fast_e164_type(digits: str) -> tuple[str, int] | None:
    """(E.164, PhoneNumberType) for digits after '+', or None when only a full parse can tell."""
    codes = _calling_codes()
    for size in (1, 2, 3):
        if digits[:size] in codes:
            country_code, national = int(digits[:size]), digits[size:]
            break
    else:
        return None
    metadata = _single_region_metadata(country_code)
    if metadata is None or national.startswith("0"):
        return None
    prefix = metadata.national_prefix_for_parsing
    if prefix and re.match(prefix, national):
        return None
    number = phonenumbers.PhoneNumber(country_code=country_code, national_number=int(national))
    return "+" + digits, phonenumbers.number_type(number)


def _parse(raw: str, region: str) -> tuple[str, int]:
    shown = raw.strip()
    if not _PHONE_CHARS.fullmatch(shown) or shown.count("+") > 1:
        raise InvalidRecipient(
            f"'{shown}' is not a phone number: only digits, spaces, dots, "
            "dashes, parentheses and a leading + are allowed"
        )
    try:
        number = phonenumbers.parse(shown, region)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise InvalidRecipient(
            f"'{shown}' is not a valid phone number for region {region}",
            _region_hint(shown, region),
        )
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return e164, phonenumbers.number_type(number)


def _region_hint(shown: str, region: str) -> str | None:
    if region != "FR" or shown.startswith(("+", "00")):
        return None
    for other in _OVERSEAS:
        try:
            number = phonenumbers.parse(shown, other)
        except phonenumbers.NumberParseException:
            return None
        if phonenumbers.is_valid_number(number):
            e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
            return f"it is valid in region {other}: write it in international format ({e164})"
    return None


@lru_cache(maxsize=65536)
def _normalize(raw: str, region: str) -> tuple[str, int]:
    match = _E164.fullmatch(raw)
    fast = _fast_e164_type(match.group(1)) if match else None
    if fast is not None and fast[1] != T.UNKNOWN:
        return fast
    return _parse(raw, region)


def normalize_phone(raw: str, region: str, channel: str) -> str:
    """E.164 form of `raw` (national numbers read in `region`) if `channel` can reach it."""
    e164, kind = _normalize(raw, region)
    if channel in _MOBILE_CHANNELS and kind not in _MOBILE:
        what = _TYPE_NAMES.get(kind, "not a mobile number")
        raise InvalidRecipient(
            f"'{raw.strip()}' ({e164}) is {what}: it cannot receive {_CHANNEL_NAMES[channel]}",
            "SMS and RCS need a mobile number",
        )
    if channel == "voice_sms" and kind in _NOT_CALLABLE:
        raise InvalidRecipient(
            f"'{raw.strip()}' ({e164}) is {_TYPE_NAMES[kind]}: it cannot receive voice SMS"
        )
    return e164


def normalize_email(raw: str) -> str:
    address = raw.strip()
    if not _EMAIL.fullmatch(address):
        raise InvalidRecipient(f"'{address}' is not a valid e-mail address")
    return address.lower()


def normalize_conversation_id(raw: str) -> str:
    value = raw.strip().lower()
    if not _UUID.fullmatch(value):
        raise InvalidRecipient(
            f"'{raw.strip()}' is not a valid conversation_id",
            "a live-chat conversation_id is a UUID like 00000000-0000-0000-0000-000000000001",
        )
    return value


def country_of(e164: str) -> str | None:
    """ISO region of an E.164 number ('FR', 'RE'...), for pricing; None if unknown.

    Runs once per message: a calling code of a single region answers without parsing.
    """
    digits = e164[1:]
    codes = _calling_codes()
    for size in (1, 2, 3):
        if digits[:size] in codes:
            regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE[int(digits[:size])]
            if len(regions) == 1 and regions[0] != "001":
                return str(regions[0])
            break
    return _country_by_parse(e164)


@lru_cache(maxsize=4096)
def _country_by_parse(e164: str) -> str | None:
    try:
        region: str | None = phonenumbers.region_code_for_number(phonenumbers.parse(e164))
    except phonenumbers.NumberParseException:
        return None
    return region
