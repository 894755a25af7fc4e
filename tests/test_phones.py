"""The fast paths of phone number normalization give exactly phonenumbers' answers.

`type_of` against `phonenumbers.number_type`, `normalize_phones` (a column at a time) against
`normalize_phone` (one number at a time, full parse behind it), on large random samples of
numbers written every way people write them, in many regions.
"""

from __future__ import annotations

import random

import phonenumbers
import pytest

from octoplan.phones import (
    InvalidRecipient,
    _numbering_of_code,
    _parse,
    country_of,
    country_of_code,
    normalize_phone,
    normalize_phones,
)

REGIONS = ("FR", "BE", "CH", "DE", "GB", "ES", "IT", "NL", "PT", "RE", "US", "MA", "SN", "IN")


def _samples(rng: random.Random, region: str, count: int) -> list[str]:
    code = phonenumbers.country_code_for_region(region)
    example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    national = str(example.national_number) if example else "612345678"
    out = []
    for _ in range(count):
        # Mostly near a real mobile number (so that many are valid), some anything at all.
        if rng.random() < 0.7:
            keep = rng.randint(1, len(national))
            digits = national[:keep] + "".join(rng.choice("0123456789") for _ in national[keep:])
        else:
            digits = str(rng.randrange(10 ** rng.randint(3, 12)))
        spaced = " ".join(digits[i : i + 2] for i in range(0, len(digits), 2))
        out.append(
            rng.choice(
                [
                    f"0{digits}",
                    f"+{code}{digits}",
                    f"+{code} {spaced}",
                    f"00{code}{digits}",
                    f"0{spaced}",
                    f"0{digits[:3]}.{digits[3:]}",
                    f"0{digits[:3]}-{digits[3:]}",
                    digits,
                    f"+{code}0{digits}",
                    f"+33{digits}",
                    f"(0){digits}",
                    "",
                ]
            )
        )
    return out


def _one_by_one(raw: str, region: str, channel: str) -> str | None:
    try:
        return normalize_phone(raw, region, channel) if raw else None
    except InvalidRecipient:
        return None


@pytest.mark.parametrize("region", REGIONS)
@pytest.mark.parametrize("channel", ["sms", "voice_sms"])
def test_a_column_of_numbers_normalizes_exactly_as_one_at_a_time(region: str, channel: str) -> None:
    rng = random.Random(f"{region}-{channel}")
    raws = _samples(rng, region, 3000)
    fast = normalize_phones(raws, region, channel)
    slow = [_one_by_one(raw, region, channel) for raw in raws]
    accepted = [key for key in fast if key is not None]
    # The column path only answers for numbers it can prove; every answer is the full one.
    assert all(f == s for f, s in zip(fast, slow, strict=True) if f is not None)
    if _numbering_of_code(phonenumbers.country_code_for_region(region)) is not None:
        assert len(accepted) > 0.1 * len(raws)  # calling codes of one region take the fast path


@pytest.mark.parametrize("region", REGIONS)
def test_one_at_a_time_is_the_full_parse(region: str) -> None:
    rng = random.Random(region)
    for raw in _samples(rng, region, 1500):
        try:
            expected: tuple[str, int] | None = _parse(raw, region)
        except InvalidRecipient:
            expected = None
        try:
            got = normalize_phone(raw, region, "voice_sms")
        except InvalidRecipient:
            got = None
        if expected is None or expected[1] in (
            phonenumbers.PhoneNumberType.PREMIUM_RATE,
            phonenumbers.PhoneNumberType.SHARED_COST,
            phonenumbers.PhoneNumberType.TOLL_FREE,
            phonenumbers.PhoneNumberType.UAN,
            phonenumbers.PhoneNumberType.VOICEMAIL,
        ):
            assert got is None, raw
        else:
            assert got == expected[0], raw


def test_the_compiled_numbering_plans_type_numbers_as_phonenumbers_does() -> None:
    rng = random.Random(7)
    checked = 0
    for code in sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE):
        numbering = _numbering_of_code(code)
        if numbering is None:
            continue
        for _ in range(60):
            national = str(rng.randrange(10 ** rng.randint(4, 11)))
            number = phonenumbers.PhoneNumber(country_code=code, national_number=int(national))
            assert numbering.type_of(national) == phonenumbers.number_type(number), (code, national)
            checked += 1
    assert checked > 10_000


def test_a_calling_code_names_the_country_as_a_full_lookup_does() -> None:
    rng = random.Random(11)
    for code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
        number = f"+{code}{rng.randrange(10**8, 10**9)}"
        region = country_of_code(number[:4])
        assert region is None or region == country_of(number), number
