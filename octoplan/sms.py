"""SMS encoding and segment counting (GSM 03.38 / 3GPP TS 23.038).

A text is GSM-7 when every character is in the basic table or the extension table (the latter
cost two septets: an escape and the character); anything else makes the whole message UCS-2.

- GSM-7: 160 septets in one SMS, 153 per part when concatenated; an escape pair never spans
  two parts, so a part may end one septet short.
- UCS-2: 70 UTF-16 units in one SMS, 67 per part; a character outside the BMP (most emoji) is a
  surrogate pair of 2 units, never split either.

`SmsCount.characters` is the number of Unicode code points (Python's `len`): what a person
counts for plain text and what the 1224-character API limit is checked against. `units` is what
the network counts: septets for GSM-7, UTF-16 units for UCS-2. An empty text has 0 segments.

`measure` runs once per rendered message in a plan (a million times for a big list), so
pure-ASCII text takes a regex-only fast path and splitting only looks at the few characters that
can straddle a part boundary; `count` is the same, cached by text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Literal, NamedTuple

Encoding = Literal["GSM-7", "UCS-2"]

GSM7_BASIC: frozenset[str] = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED: frozenset[str] = frozenset("\x0c^{}\\[~]|€")
GSM7_ALL: frozenset[str] = GSM7_BASIC | GSM7_EXTENDED

GSM7_SINGLE = 160
GSM7_PART = 153
UCS2_SINGLE = 70
UCS2_PART = 67
MAX_TEXT_LENGTH = 1224  # the API's limit on `text`: 8 concatenated GSM-7 parts

# Replacements that keep a text in GSM-7, for the "this character doubles the cost" advice.
GSM7_REPLACEMENTS: dict[str, str] = {
    "\u2019": "'",
    "\u2018": "'",
    "\u201a": "'",
    "\u2032": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "«": '"',
    "»": '"',
    "\u00a0": " ",
    "\u202f": " ",
    "\u2009": " ",
    "\u2007": " ",
    "\u2026": "...",
    "\u2013": "-",
    "\u2014": "-",
    "\u2212": "-",
    "\t": " ",
    "`": "'",
    "ç": "Ç",
    "â": "a",
    "ê": "e",
    "î": "i",
    "ô": "o",
    "û": "u",
    "ë": "e",
    "ï": "i",
    "ÿ": "y",
    "á": "a",
    "í": "i",
    "ó": "o",
    "ú": "u",
    "Â": "A",
    "Ê": "E",
    "Î": "I",
    "Ô": "O",
    "Û": "U",
    "È": "E",
    "À": "A",
    "Ù": "U",
    "œ": "oe",
    "Œ": "OE",
}


def _char_class(chars: frozenset[str]) -> str:
    return "".join(re.escape(c) for c in sorted(chars))


_ASCII_BASIC = frozenset(c for c in GSM7_BASIC if c.isascii())
# Matches any ASCII character that is not a one-septet GSM-7 character (` ^ { } ...).
_ASCII_NOT_BASIC = re.compile(f"[^{_char_class(_ASCII_BASIC)}]")
# Matches any character that is not a one-septet GSM-7 character: what `set(text) <=
# GSM7_BASIC` asks, in one C pass without building a set of the text's characters.
NOT_BASIC = re.compile(f"[^{_char_class(GSM7_BASIC)}]")
_EXTENDED = re.compile(f"[{_char_class(GSM7_EXTENDED)}]")
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


class SmsCount(NamedTuple):
    encoding: Encoding
    characters: int
    segments: int
    units: int
    non_gsm: tuple[tuple[int, str], ...] = ()

    def to_json(self) -> dict[str, object]:
        return {"encoding": self.encoding, "characters": self.characters, "segments": self.segments}


def is_gsm7(text: str) -> bool:
    if text.isascii() and _ASCII_NOT_BASIC.search(text) is None:
        return True
    return set(text) <= GSM7_ALL


def _parts(units: int, single: int, part: int, wide_at: list[int]) -> int:
    """Parts needed for `units`, where a 2-unit character starts at each offset in `wide_at`.

    A 2-unit character whose first unit would be the last one of a part moves whole to the next
    part, which shifts every later offset by one.
    """
    if units == 0:
        return 0
    if units <= single:
        return 1
    shift = 0
    for offset in wide_at:
        if (offset + shift) % part == part - 1:
            shift += 1
    return -(-(units + shift) // part)


def _count_gsm(text: str) -> SmsCount:
    n = len(text)
    wide_at = [m.start() + i for i, m in enumerate(_EXTENDED.finditer(text))]
    units = n + len(wide_at)
    return SmsCount("GSM-7", n, _parts(units, GSM7_SINGLE, GSM7_PART, wide_at), units)


def _count_ucs2(text: str) -> SmsCount:
    wide_at = [m.start() + i for i, m in enumerate(_ASTRAL.finditer(text))]
    units = len(text) + len(wide_at)
    non_gsm = tuple((i, c) for i, c in enumerate(text) if c not in GSM7_ALL)
    return SmsCount(
        "UCS-2", len(text), _parts(units, UCS2_SINGLE, UCS2_PART, wide_at), units, non_gsm
    )


def measure(text: str) -> SmsCount:
    """Encoding, length and number of SMS parts of `text`, as the network will send it."""
    if text.isascii() and _ASCII_NOT_BASIC.search(text) is None:
        n = len(text)
        segments = 0 if n == 0 else 1 if n <= GSM7_SINGLE else -(-n // GSM7_PART)
        return SmsCount("GSM-7", n, segments, n)
    if set(text) <= GSM7_ALL:
        return _count_gsm(text)
    return _count_ucs2(text)


# Many contacts often share one text; a plan's per-contact texts call `measure` directly.
count = lru_cache(maxsize=8192)(measure)


# What the API's `auto_optimize_text` (on unless sent as false) does to an SMS, after FACTS.md:
# transliterate to GSM-7 and trim spaces; `œ` and emoji are left alone.
_AUTO_OPTIMIZE = str.maketrans(
    {
        "ç": "c",
        "â": "a",
        "ê": "e",
        "î": "i",
        "ô": "o",
        "û": "u",
        "ë": "e",
        "ï": "i",
        "\u2019": "'",
        "\u2018": "'",
        "\u201c": '"',
        "\u201d": '"',
        "«": '"',
        "»": '"',
        "\u00a0": " ",
        "\u202f": " ",
        "\u2026": "...",
        "\u2013": "-",
        "\u2014": "-",
    }
)
_RUNS_OF_SPACES = re.compile(r" {2,}")


def optimize_piece(text: str, first: bool, last: bool) -> str:
    """`auto_optimize` of a piece of a text between personal values: transliterated and runs
    of spaces collapsed, but trimmed only at the ends of the whole text."""
    text = _RUNS_OF_SPACES.sub(" ", text.translate(_AUTO_OPTIMIZE))
    if first:
        text = text.lstrip(" ")
    if last:
        text = text.rstrip(" ")
    return text


def auto_optimize(text: str) -> str:
    """The text the API delivers when `auto_optimize_text` is on."""
    if text.isascii() and "  " not in text and text == text.strip(" "):
        return text
    return _RUNS_OF_SPACES.sub(" ", text.translate(_AUTO_OPTIMIZE)).strip(" ")


_JOIN = "\x1f"  # no contact value holds it, and the transliteration leaves it alone


def auto_optimize_all(values: Sequence[str]) -> Sequence[str]:
    """`auto_optimize` of each value of a column, at C speed: the values as they are when
    nothing would change them; one call per distinct value when they are few (first names,
    cities); else one pass over all of them joined (the transliteration works character by
    character, a run of spaces never crosses the separator, and values that end up with a
    space at an end are trimmed one by one)."""
    joined = _JOIN.join(values)
    if joined.isascii() and "  " not in joined and not _spaced_ends(joined):
        return values
    if joined.count(_JOIN) != len(values) - 1:
        return [auto_optimize(value) for value in values]  # a value holds the separator
    distinct = set(values)
    if len(distinct) * 8 <= len(values):
        optimized = {value: auto_optimize(value) for value in distinct}
        return list(map(optimized.__getitem__, values))
    done = _RUNS_OF_SPACES.sub(" ", joined.translate(_AUTO_OPTIMIZE))
    pieces = done.split(_JOIN) if values else []
    return [piece.strip(" ") for piece in pieces] if _spaced_ends(done) else pieces


def _spaced_ends(joined: str) -> bool:
    """Does a value of `joined` start or end with a space?"""
    return " " + _JOIN in joined or _JOIN + " " in joined or joined != joined.strip(" ")
