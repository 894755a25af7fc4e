from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from octoplan.sms import (
    GSM7_ALL,
    GSM7_BASIC,
    GSM7_EXTENDED,
    NOT_BASIC,
    SmsCount,
    auto_optimize,
    auto_optimize_all,
    count,
    is_gsm7,
)

A = "a"
EURO = "€"
SMILE = "\U0001f600"  # 😀, outside the BMP: a surrogate pair in UCS-2
FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # 👨‍👩‍👧, a ZWJ sequence
FLAG_FR = "\U0001f1eb\U0001f1f7"  # 🇫🇷, two regional indicators

# (text, encoding, characters, units, segments): published limits of GSM 03.38 and UCS-2
# concatenation (160/153, 70/67) at and around every boundary.
VECTORS: list[tuple[str, str, int, int, int]] = [
    ("", "GSM-7", 0, 0, 0),
    (A, "GSM-7", 1, 1, 1),
    (A * 160, "GSM-7", 160, 160, 1),
    (A * 161, "GSM-7", 161, 161, 2),
    (A * 306, "GSM-7", 306, 306, 2),
    (A * 307, "GSM-7", 307, 307, 3),
    (A * 459, "GSM-7", 459, 459, 3),
    (A * 460, "GSM-7", 460, 460, 4),
    (A * 1224, "GSM-7", 1224, 1224, 8),
    (A * 1225, "GSM-7", 1225, 1225, 9),
    ("Hello world!", "GSM-7", 12, 12, 1),
    ("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ", "GSM-7", 31, 31, 1),
    ("¡¿ÄÖÑÜ§äöñüà", "GSM-7", 12, 12, 1),
    # extension characters cost two septets
    (EURO, "GSM-7", 1, 2, 1),
    ("{}[]~|^\\", "GSM-7", 8, 16, 1),
    ("\x0c", "GSM-7", 1, 2, 1),
    (EURO * 80, "GSM-7", 80, 160, 1),
    (EURO * 81, "GSM-7", 81, 162, 2),
    (A * 159 + EURO, "GSM-7", 160, 161, 2),
    (A * 158 + EURO, "GSM-7", 159, 160, 1),
    # an escape pair never straddles two parts: at septet 152 it moves to the next part
    (A * 152 + EURO + A * 152, "GSM-7", 305, 306, 3),
    (A * 151 + EURO + A * 153, "GSM-7", 305, 306, 2),
    (A * 152 + "{" + A * 152, "GSM-7", 305, 306, 3),
    (A * 153 + "{" + A * 151, "GSM-7", 305, 306, 2),
    (A * 152 + "{" + A * 7, "GSM-7", 160, 161, 2),
    ("{" * 153, "GSM-7", 153, 306, 3),
    # French accents: é è à ù É Ç are GSM-7, the others are not
    ("é" * 160, "GSM-7", 160, 160, 1),
    ("Ça a été où, là ?", "GSM-7", 17, 17, 1),
    ("ç", "UCS-2", 1, 1, 1),
    ("ê" * 70, "UCS-2", 70, 70, 1),
    ("ê" * 71, "UCS-2", 71, 71, 2),
    ("ê" * 134, "UCS-2", 134, 134, 2),
    ("ê" * 135, "UCS-2", 135, 135, 3),
    ("â" * 201, "UCS-2", 201, 201, 3),
    ("â" * 202, "UCS-2", 202, 202, 4),
    ("Noël", "UCS-2", 4, 4, 1),
    ("œuf", "UCS-2", 3, 3, 1),
    # typography that silently doubles the cost
    ("l’été", "UCS-2", 5, 5, 1),
    ("“Bonjour”", "UCS-2", 9, 9, 1),
    ("«Bonjour»", "UCS-2", 9, 9, 1),
    ("10\u00a0€", "UCS-2", 4, 4, 1),
    ("10\u202f€", "UCS-2", 4, 4, 1),
    ("Attendez…", "UCS-2", 9, 9, 1),
    ("8h–20h", "UCS-2", 6, 6, 1),
    ("`code`", "UCS-2", 6, 6, 1),
    ("a\tb", "UCS-2", 3, 3, 1),
    ("α", "UCS-2", 1, 1, 1),
    (A * 159 + "’", "UCS-2", 160, 160, 3),
    # characters outside the BMP are surrogate pairs and never split
    (SMILE, "UCS-2", 1, 2, 1),
    (SMILE * 35, "UCS-2", 35, 70, 1),
    (SMILE * 36, "UCS-2", 36, 72, 2),
    (A * 68 + SMILE, "UCS-2", 69, 70, 1),
    (A * 69 + SMILE, "UCS-2", 70, 71, 2),
    (A * 66 + SMILE + A * 66, "UCS-2", 133, 134, 3),
    (A * 65 + SMILE + A * 67, "UCS-2", 133, 134, 2),
    (A * 67 + SMILE + A * 65, "UCS-2", 133, 134, 2),
    (SMILE * 67, "UCS-2", 67, 134, 3),
    (FAMILY, "UCS-2", 5, 8, 1),
    (FAMILY * 8, "UCS-2", 40, 64, 1),
    (FAMILY * 9, "UCS-2", 45, 72, 2),
    (FLAG_FR, "UCS-2", 2, 4, 1),
    ("Bonjour " + FLAG_FR + " !", "UCS-2", 12, 14, 1),
]


@pytest.mark.parametrize(("text", "encoding", "characters", "units", "segments"), VECTORS)
def test_published_vectors(
    text: str, encoding: str, characters: int, units: int, segments: int
) -> None:
    result = count(text)
    assert (result.encoding, result.characters, result.units, result.segments) == (
        encoding,
        characters,
        units,
        segments,
    )


def test_there_are_at_least_40_vectors() -> None:
    assert len(VECTORS) >= 40


def test_non_gsm_names_the_characters_forcing_ucs2_with_their_index() -> None:
    assert count("Merci d’avoir «réservé»").non_gsm == ((7, "’"), (14, "«"), (22, "»"))


def test_gsm_text_has_no_non_gsm_characters() -> None:
    assert count("Prix: 10€ {promo}").non_gsm == ()


def test_to_json_is_the_count_command_contract() -> None:
    assert count("l’été").to_json() == {"encoding": "UCS-2", "characters": 5, "segments": 1}


def test_count_is_a_frozen_value() -> None:
    result = count("abc")
    assert result == SmsCount("GSM-7", 3, 1, 3)
    with pytest.raises(AttributeError):
        result.segments = 2  # type: ignore[misc]


def test_tables_have_the_published_sizes() -> None:
    # 128 code points minus the escape, and the ten extension characters incl. form feed.
    assert (len(GSM7_BASIC), len(GSM7_EXTENDED)) == (127, 10)
    assert not GSM7_BASIC & GSM7_EXTENDED


@pytest.mark.parametrize(
    ("text", "expected"),
    [("", True), ("Bonjour", True), ("{€}", True), ("Ça", True), ("ça", False), ("`", False)],
)
def test_is_gsm7(text: str, expected: bool) -> None:
    assert is_gsm7(text) is expected


def _reference(text: str) -> tuple[str, int, int]:
    """Character-by-character packing, the slow obvious way, to check the fast one against."""
    gsm = all(c in GSM7_ALL for c in text)
    if gsm:
        sizes = [2 if c in GSM7_EXTENDED else 1 for c in text]
        single, part = 160, 153
    else:
        sizes = [2 if ord(c) > 0xFFFF else 1 for c in text]
        single, part = 70, 67
    units = sum(sizes)
    if units == 0:
        return ("GSM-7", 0, 0)
    if units <= single:
        return ("GSM-7" if gsm else "UCS-2", units, 1)
    parts, fill = 1, 0
    for size in sizes:
        if fill + size > part:
            parts, fill = parts + 1, 0
        fill += size
    return ("GSM-7" if gsm else "UCS-2", units, parts)


ALPHABET = st.sampled_from([*sorted(GSM7_ALL), "’", "ç", "ê", "\u00a0", SMILE, "`", "\t"])


@settings(max_examples=400, deadline=None)
@given(st.lists(ALPHABET, max_size=700).map("".join))
def test_matches_the_reference_packing(text: str) -> None:
    result = count(text)
    assert (result.encoding, result.units, result.segments) == _reference(text)
    assert result.characters == len(text)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(0, 400),
    st.sampled_from([EURO, "{", SMILE]),
    st.integers(0, 400),
)
def test_wide_characters_around_boundaries_match_the_reference(
    before: int, wide: str, after: int
) -> None:
    text = A * before + wide + A * after
    result = count(text)
    assert (result.encoding, result.units, result.segments) == _reference(text)


# Characters auto_optimize changes or trims, and some it leaves alone.
OPTIMIZED = st.sampled_from([*"aé ç’«»\u00a0\u202f…–—œ😀", "\u2019", "  ", "x"])


@settings(max_examples=400, deadline=None)
@given(st.lists(st.lists(OPTIMIZED, max_size=8).map("".join), max_size=12))
def test_auto_optimize_all_is_auto_optimize_of_each_value(values: list[str]) -> None:
    assert list(auto_optimize_all(values)) == [auto_optimize(value) for value in values]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.lists(OPTIMIZED, max_size=8).map("".join), min_size=1, max_size=4),
    st.lists(st.integers(0, 3), min_size=8, max_size=64),
)
def test_auto_optimize_all_of_few_distinct_values(pool: list[str], picks: list[int]) -> None:
    values = [pool[i % len(pool)] for i in picks]  # a column of first names, say
    assert list(auto_optimize_all(values)) == [auto_optimize(value) for value in values]


def test_auto_optimize_all_of_values_with_spaces_at_their_ends() -> None:
    values = ["Chloé ", "\u00a0François", "a  b", "", "x\u202f"]
    assert auto_optimize_all(values) == ["Chloé", "Francois", "a b", "", "x"]


def test_not_basic_matches_exactly_the_characters_outside_the_basic_set() -> None:
    # Every character of the BMP and a few astral ones: the class is built from the set.
    for code in [*range(0x10000), 0x1F600, 0x10FFFF]:
        char = chr(code)
        assert (NOT_BASIC.search(char) is None) == (char in GSM7_BASIC), hex(code)
    assert NOT_BASIC.search("Cécile à Orléans\nÉ") is None
    assert NOT_BASIC.search("Cécile ê") is not None
