"""Masking of personal data for plans, PR comments and logs.

`+33612345678` -> `+33 6•• •• •• 78`; `axelle.durand@example.com` -> `a•••@e•••.com`.
Masking runs once per recipient in a plan, so it avoids phonenumbers' (slow) formatter and
only uses its table of country calling codes.
"""

from __future__ import annotations

from functools import lru_cache

import phonenumbers

DOT = "•"


@lru_cache(maxsize=1)
def _country_codes() -> frozenset[str]:
    return frozenset(str(code) for code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE)


def _split_country_code(digits: str) -> tuple[str, str]:
    codes = _country_codes()
    for size in (1, 2, 3):
        if digits[:size] in codes:
            return digits[:size], digits[size:]
    return "", digits


def mask_phone(number: str) -> str:
    digits = number.lstrip("+")
    if not digits.isdigit() or len(digits) < 6:
        return DOT * 4
    cc, national = _split_country_code(digits)
    head, middle, tail = national[0], national[1:-2], national[-2:]
    # Group the hidden digits in pairs from the right, like a French number is written.
    masked = DOT * len(middle)
    groups: list[str] = []
    while len(masked) > 2:
        groups.insert(0, masked[-2:])
        masked = masked[:-2]
    first = head + masked
    national_masked = " ".join([first, *groups, tail])
    return f"+{cc} {national_masked}" if cc else national_masked


def mask_email(address: str) -> str:
    local, _, domain = address.partition("@")
    if not domain:
        return DOT * 4
    name, dot, tld = domain.rpartition(".")
    if not dot:
        name, tld = domain, ""
    masked_domain = f"{name[:1]}{DOT * 3}" + (f".{tld}" if tld else "")
    return f"{local[:1]}{DOT * 3}@{masked_domain}"


def mask_recipient(key: str) -> str:
    """Mask a recipient identity (E.164 number, e-mail or live-chat conversation id). A masked
    one (a saved plan read back) is left as it is."""
    if DOT in key:
        return key
    if key.startswith("+"):
        return mask_phone(key)
    if "@" in key:
        return mask_email(key)
    return key[:4] + DOT * 4
