"""Recipient identities: phone numbers to E.164, e-mails, live-chat conversation ids.

Each normalizer returns the identity as state and the API will know it, or raises
`InvalidRecipient` whose message is written for the person who typed the value.

Phone numbers go through `phonenumbers` (libphonenumber): national formats with the project
region, `00` prefixes, spaces, dots, `(0)`. `is_valid_number`, not `is_possible_number`, and
SMS/RCS need a number that can be a mobile. A full parse costs ~50 µs a number, which would be
most of a plan's time on a big list, so the usual shapes take a fast path (~2 µs): digits with
spaces, dots or dashes, either in E.164 (`+33 6 12 34 56 78`) or national with the region's
plain trunk prefix (`06 12 34 56 78` in FR). The calling code is split off or the prefix
stripped, and the number's type read from the same metadata, with the same tests in the same
order, as `phonenumbers.number_type`. The fast path declines (and the full parse runs) whenever
`parse` could read the digits differently: a calling code shared by several regions, a trunk
prefix with a transform rule, an international call prefix, a leading 0 left after the prefix;
and it only ever answers "valid", so every error message comes from the full parse.
tests/test_phones.py proves it gives the full parse's answer on a large sample.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import NamedTuple

import phonenumbers
from phonenumbers import PhoneNumberType as T

from octoplan import channels

# Sets of names (octoplan/channels.py) for tests made once per contact.
PHONE_CHANNELS = channels.names_where(lambda c: c.phone)
_MOBILE_CHANNELS = channels.names_where(lambda c: c.mobile_only)
_CALLING_CHANNELS = channels.names_where(lambda c: c.callable_only)
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

# What people type around the digits; anything else (letters, "x" extensions) is a mistake
# that phonenumbers would silently drop.
_PHONE_CHARS = re.compile(r"\+?[0-9 .\-()/\u00a0]+")
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


_TYPED = (
    (T.PREMIUM_RATE, "premium_rate"),
    (T.TOLL_FREE, "toll_free"),
    (T.SHARED_COST, "shared_cost"),
    (T.VOIP, "voip"),
    (T.PERSONAL_NUMBER, "personal_number"),
    (T.PAGER, "pager"),
    (T.UAN, "uan"),
    (T.VOICEMAIL, "voicemail"),
)
_Desc = tuple[frozenset[int], re.Pattern[str]]


def _desc(desc: phonenumbers.PhoneNumberDesc | None) -> _Desc | None:
    if desc is None or not desc.national_number_pattern:
        return None
    return frozenset(desc.possible_length), re.compile(desc.national_number_pattern)


def _matches(desc: _Desc | None, number: str) -> bool:
    if desc is None:
        return False
    lengths, pattern = desc
    return (not lengths or len(number) in lengths) and pattern.fullmatch(number) is not None


class _Numbering:
    """One region's numbering plan compiled from phonenumbers' metadata.

    `type_of` answers what `phonenumbers.number_type` answers (its `_number_type_helper`: the
    general description, then premium rate, toll free, ..., voicemail, fixed line, mobile, each
    with its possible lengths and a full match), but in two regex runs instead of up to ten:
    for each number length, the descriptions that admit it become one alternation in that same
    order, and a full match picks the first alternative that matches the whole number.
    """

    def __init__(self, metadata: phonenumbers.PhoneMetadata) -> None:
        self.calling_code = str(metadata.country_code)
        self.general = _desc(metadata.general_desc)
        self.same_fixed_and_mobile = bool(metadata.same_mobile_and_fixed_line_pattern)
        self.mobile = _desc(metadata.mobile)
        kinds = [(kind, _desc(getattr(metadata, name))) for kind, name in _TYPED]
        kinds.append((T.FIXED_LINE, _desc(metadata.fixed_line)))
        if not self.same_fixed_and_mobile:
            kinds.append((T.MOBILE, self.mobile))
        self.kinds = [(kind, desc) for kind, desc in kinds if desc is not None]
        self._by_length: dict[int, tuple[re.Pattern[str], list[int]] | None] = {}
        prefix = metadata.national_prefix_for_parsing
        self.strips = re.compile(prefix) if prefix else None
        # The national fast path only reads plans whose national prefix is plain digits
        # stripped as is (FR "0"); transform rules and carrier codes need the full parse.
        simple = (
            prefix is not None and prefix.isdigit() and not metadata.national_prefix_transform_rule
        )
        self.national_prefix = prefix if simple else None
        international = metadata.international_prefix
        self.international = re.compile(international) if international else None
        # An international call prefix of plain digits (FR "00"): `0033 6...` is `+33 6...`,
        # read on the fast paths (a quarter of a real export may be written so).
        self.dial_out = international if international and international.isdigit() else None

    def _alternation(self, length: int) -> tuple[re.Pattern[str], list[int]] | None:
        """For numbers of `length`: the general description as a lookahead, then the
        descriptions admitting that length, a group each (None when a pattern has groups of its
        own, which would confuse `lastindex`: the one-by-one tests run then)."""
        general = self.general
        if general is None or (general[0] and length not in general[0]):
            return re.compile("(?!)"), []
        admitted = [(k, d) for k, d in self.kinds if not d[0] or length in d[0]]
        if general[1].groups or any(d[1].groups for _, d in admitted):
            return None
        alternatives = "|".join(f"({d[1].pattern})" for _, d in admitted) or "(?!)"
        pattern = re.compile(f"(?=(?:{general[1].pattern})\\Z)(?:{alternatives})")
        return pattern, [k for k, _ in admitted]

    def type_of(self, number: str) -> int:
        try:
            compiled = self._by_length[len(number)]
        except KeyError:
            compiled = self._by_length[len(number)] = self._alternation(len(number))
        if compiled is None:
            return self._type_one_by_one(number)
        match = compiled[0].fullmatch(number)
        if match is None or match.lastindex is None:
            return T.UNKNOWN
        return self._refine(compiled[1][match.lastindex - 1], number)

    def _type_one_by_one(self, number: str) -> int:
        if not _matches(self.general, number):
            return T.UNKNOWN
        for kind, desc in self.kinds:
            if _matches(desc, number):
                return self._refine(kind, number)
        return T.UNKNOWN

    def _refine(self, kind: int, number: str) -> int:
        if kind == T.FIXED_LINE and (self.same_fixed_and_mobile or _matches(self.mobile, number)):
            return T.FIXED_LINE_OR_MOBILE
        return kind


@lru_cache(maxsize=512)
def _numbering_of_code(country_code: int) -> _Numbering | None:
    """The plan of a calling code used by one region only (shared codes need a full parse)."""
    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(country_code)
    if regions is None or len(regions) != 1:
        return None
    metadata = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(
        country_code, regions[0]
    )
    return None if metadata is None else _Numbering(metadata)


@lru_cache(maxsize=64)
def _numbering_of_region(region: str) -> _Numbering | None:
    code = phonenumbers.country_code_for_region(region)
    return _numbering_of_code(code) if code else None


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
    numbering = _numbering_of_code(country_code)
    if numbering is None or national.startswith("0"):
        return None
    if numbering.strips is not None and numbering.strips.match(national):
        return None  # parse would strip it as a national prefix
    return "+" + digits, numbering.type_of(national)


def _fast_national_type(digits: str, region: str) -> tuple[str, int] | None:
    """(E.164, PhoneNumberType) for a national number written with its trunk prefix
    (`06 12 34 56 78` in FR), or None when only a full parse can tell."""
    numbering = _numbering_of_region(region)
    if numbering is None or numbering.national_prefix is None:
        return None
    prefix = numbering.national_prefix
    if not digits.startswith(prefix) or digits.startswith(numbering.calling_code):
        return None
    if numbering.international is not None and numbering.international.match(digits):
        return None  # an international call prefix (00...): parse reads a country code
    national = digits[len(prefix) :]
    if not national or national.startswith("0"):
        return None
    return "+" + numbering.calling_code + national, numbering.type_of(national)


def _fast_type(raw: str, region: str) -> tuple[str, int] | None:
    """The fast paths: digits with spaces, dots or dashes, in E.164 or national form (the
    region's international call prefix read as `+`: `0033 6...` is `+33 6...`)."""
    digits = raw if raw.isdigit() else raw.replace(" ", "").replace(".", "").replace("-", "")
    dial_out = _dial_out_pattern(region)
    if dial_out is not None:
        digits = dial_out.sub("+", digits, count=1)
    if digits.startswith("+"):
        digits = digits[1:]
        if 7 <= len(digits) <= 15 and digits.isascii() and digits.isdigit():
            return _fast_e164_type(digits) if digits[0] != "0" else None
        return None
    if digits.isascii() and digits.isdigit():
        return _fast_national_type(digits, region)
    return None


@lru_cache(maxsize=64)
def _dial_out_pattern(region: str) -> re.Pattern[str] | None:
    """The region's international call prefix when it is plain digits (FR "00"), at the start
    of a line and before a country code: what a full parse reads as `+`. A 0 after the prefix
    is no country code: the full parse decides then."""
    numbering = _numbering_of_region(region)
    prefix = numbering.dial_out if numbering is not None else None
    return re.compile(f"^{prefix}(?=[1-9])", re.MULTILINE) if prefix is not None else None


class _Bulk(NamedTuple):
    """A whole column of numbers of one region read by one regex (see normalize_phones)."""

    pattern: re.Pattern[str]
    international: str  # "+33"


def _lengths(lengths: frozenset[int]) -> str:
    return "|".join(f"[0-9]{{{n}}}" for n in sorted(lengths))


@lru_cache(maxsize=64)
def _bulk(region: str, accepted: frozenset[int]) -> _Bulk | None:
    """One regex for `_fast_national_type` and `_fast_e164_type` of the region's own numbers,
    written for `findall` over the whole column, a number a line: each line's national number
    when its type is `accepted`, else "" (the line matched by the last alternative, `.*`).

    The same declines as lookaheads (and the international call prefix read as `+`), then the
    general description, then each type's description (with its lengths) in `type_of`'s order,
    in an atomic group: the first description that matches the whole number is its type, as
    in `type_of`. An accepted type's alternative stops before the line break, the others take
    it, so that the lookbehind after the group fails for them. None when the plan has patterns
    this cannot express (groups of their own, a trunk prefix that is not digits)."""
    numbering = _numbering_of_region(region)
    if numbering is None or numbering.general is None:
        return None
    compiled = [numbering.general[1], *(d[1] for _, d in numbering.kinds)]
    if numbering.strips is not None:
        compiled.append(numbering.strips)
    if numbering.international is not None:
        compiled.append(numbering.international)
    if any(pattern.groups for pattern in compiled):
        return None
    code, prefix = numbering.calling_code, numbering.national_prefix
    idd = f"(?!{numbering.international.pattern})" if numbering.international else ""
    strips = f"(?!{numbering.strips.pattern})" if numbering.strips else ""
    general_lengths, general = numbering.general
    national = f"(?!{code}){idd}{re.escape(prefix)}(?!0)" if prefix else "(?!)"
    # `0033 6...` is `+33 6...` (see _dial_out_pattern: its prefix is digits, followed here by
    # the calling code, which never starts with 0).
    plus = f"(?:\\+|{numbering.dial_out})" if numbering.dial_out is not None else "\\+"
    e164 = f"{plus}{code}(?=[0-9]{{{max(0, 7 - len(code))},{15 - len(code)}}}$)(?!0){strips}"
    # A type's lengths are checked only where they are narrower than the general ones (which
    # are checked first): each lookahead costs a scan of the number.
    alternatives = "|".join(
        (
            f"(?=(?:{_lengths(lengths)})$)"
            if lengths and not (general_lengths and lengths >= general_lengths)
            else ""
        )
        + f"(?:{pattern.pattern})"
        + ("$" if kind in accepted else "\\n")
        for kind, (lengths, pattern) in numbering.kinds
    )
    length_check = f"(?=(?:{_lengths(general_lengths)})$)" if general_lengths else ""
    number = f"{length_check}(?=(?:{general.pattern})$)(?>{alternatives})(?<!\\n)"
    pattern = re.compile(f"(?:{national}|{e164})({number})\\n|.*\\n", re.ASCII | re.MULTILINE)
    return _Bulk(pattern, "+" + code)


def _accepted(channel: str) -> frozenset[int]:
    if channel in _MOBILE_CHANNELS:
        return _MOBILE
    return frozenset(range(-1, 20)) - _NOT_CALLABLE  # every type but the uncallable ones


def normalize_phones(raws: Sequence[str], region: str, channel: str) -> list[str | None]:
    """`normalize_phone` of a whole column: the E.164 form of each number the fast paths
    accept for `channel`, None for the others (empty, invalid, unreachable, or only a full
    parse can tell: the caller runs `normalize_phone` on those, for the answer or the error).

    The region's own numbers go through one `findall` over the whole column (`_bulk`: no
    Python work per number), the rest through `_fast_type`: a million numbers in half a
    second.
    """
    bulk = _bulk(region, _accepted(channel)) if raws else None
    joined = "\n".join(raws)
    if bulk is None or joined.count("\n") != len(raws) - 1:
        return [_one(raw, region, channel) for raw in raws]
    if " " in joined or "." in joined or "-" in joined:
        joined = joined.replace(" ", "").replace(".", "").replace("-", "")
    nationals: list[str] = bulk.pattern.findall(joined + "\n")
    if len(nationals) != len(raws):  # (cannot happen: every line is one match)
        return [_one(raw, region, channel) for raw in raws]
    international = bulk.international
    out: list[str | None] = []
    out += (international + ("\n" + international).join(nationals)).split("\n")
    if "" in nationals:
        for index, national in enumerate(nationals):
            if not national:
                raw = raws[index]
                out[index] = _one(raw, region, channel) if raw else None
    return out


def _one(raw: str, region: str, channel: str) -> str | None:
    fast = _fast_type(raw, region) if raw else None
    if fast is None or fast[1] not in _accepted(channel):
        return None
    return fast[0]


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


def _normalize(raw: str, region: str) -> tuple[str, int]:
    fast = _fast_type(raw, region)
    if fast is not None and fast[1] != T.UNKNOWN:
        return fast
    return _parse(raw, region)


def normalize_phone(raw: str, region: str, channel: str) -> str:
    """E.164 form of `raw` (national numbers read in `region`) if `channel` can reach it."""
    e164, kind = _normalize(raw, region)
    if channel in _MOBILE_CHANNELS and kind not in _MOBILE:
        what = _TYPE_NAMES.get(kind, "not a mobile number")
        raise InvalidRecipient(
            f"'{raw.strip()}' ({e164}) is {what}: "
            f"it cannot receive {channels.get(channel).messages}",
            "SMS and RCS need a mobile number",
        )
    if channel in _CALLING_CHANNELS and kind in _NOT_CALLABLE:
        raise InvalidRecipient(
            f"'{raw.strip()}' ({e164}) is {_TYPE_NAMES[kind]}: "
            f"it cannot receive {channels.get(channel).messages}"
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


def country_of_code(prefix: str) -> str | None:
    """The region of every number starting with `prefix` ("+336": a plus and three digits)
    when its calling code belongs to one region, as `country_of` would answer; None when the
    answer depends on the rest of the number."""
    digits = prefix[1:4]
    codes = _calling_codes()
    for size in (1, 2, 3):
        if digits[:size] in codes:
            regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE[int(digits[:size])]
            if len(regions) == 1 and regions[0] != "001":
                return str(regions[0])
            return None
    return None


def country_of(e164: str) -> str | None:
    """ISO region of an E.164 number ('FR', 'RE'...), for pricing; None if unknown.

    A calling code of a single region answers without parsing.
    """
    return country_of_code(e164[:4]) or _country_by_parse(e164)


@lru_cache(maxsize=4096)
def _country_by_parse(e164: str) -> str | None:
    try:
        region: str | None = phonenumbers.region_code_for_number(phonenumbers.parse(e164))
    except phonenumbers.NumberParseException:
        return None
    return region
