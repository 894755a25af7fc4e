"""Masking of personal data for plans, PR comments and logs.

`+33612345678` -> `+33 6•• •• •• 78`; `axelle.durand@example.com` -> `a•••@e•••.com`; and
`mask_text` finds both in free text (a sample message, an error message) and masks them.
Masking runs once per recipient in a plan, so it avoids phonenumbers' (slow) formatter and
only uses its table of country calling codes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace
from functools import lru_cache

import phonenumbers

from octoplan.errors import Diagnostic

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


# Personal data a template printed into a text (a plan's sample messages, an error message):
# e-mail addresses, and runs of digits written as phone numbers are (`+33 6 12 34 56 78`,
# `06.12.34.56.78`, `+33 (0)6-12-34-56-78`, `0033612345678`). A run glued to letters (a
# request_id's hex digits, a ticket) or ending a word after a hyphen (`op-...`, a campaign id
# such as `promo-2026112701`) is not a number.
_EMAIL = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)*")
_SEPARATOR = r"[ \u00a0\u202f.\-/]"
_PHONE = re.compile(
    rf"(?<![\w+])(?<!\w-)\+?{_SEPARATOR}?(?:\(\d{{1,4}}\)|\d)"
    rf"(?:{_SEPARATOR}?(?:\(\d{{1,4}}\)|\d))*(?!\w)"
)
# A number written with +country code has at least 8 digits; a national one at least 9 (which
# keeps dates such as 27/11/2026 readable; a national number of 8 digits or fewer is missed).
_MIN_DIGITS_INTERNATIONAL, _MIN_DIGITS_NATIONAL = 8, 9


def _masked_run(match: re.Match[str]) -> str:
    run = match.group()
    digits = [c for c in run if c.isdigit()]
    international = run.startswith("+")
    if len(digits) < (_MIN_DIGITS_INTERNATIONAL if international else _MIN_DIGITS_NATIONAL):
        return run
    if international:
        return mask_phone("+" + "".join(digits))
    # Written as it was, but for the first digit and the last two.
    shown = {0, len(digits) - 2, len(digits) - 1}
    out, seen = [], 0
    for char in run:
        if char.isdigit():
            out.append(char if seen in shown else DOT)
            seen += 1
        else:
            out.append(char)
    return "".join(out)


def mask_text(text: str) -> str:
    """`text` with every e-mail address and phone number in it masked."""
    if "@" in text:
        text = _EMAIL.sub(lambda match: mask_email(match.group()), text)
    return _PHONE.sub(_masked_run, text)


def masked(diagnostics: Iterable[Diagnostic]) -> tuple[Diagnostic, ...]:
    """Diagnostics as a plan shows them: `mask_text` over their message and hint."""
    return tuple(
        replace(d, message=mask_text(d.message), hint=d.hint and mask_text(d.hint))
        for d in diagnostics
    )
