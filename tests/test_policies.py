from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from octoplan.model import MarketingHours, Pricing
from octoplan.policies import _EMPTY_FIELD, MessageChecks, check_send_at, empty_field_possible
from octoplan.sms import count

WHERE = ("campaigns/promo.yaml", 4, 7)


def checks(template: str, marketing: bool = True, max_segments: int = 3) -> MessageChecks:
    return MessageChecks(
        campaign_id="promo",
        channel="sms",
        marketing=marketing,
        text_where=WHERE,
        template_source=template,
        template_first_line=4,
        template_path="campaigns/promo.yaml",
        max_segments=max_segments,
        pricing=Pricing(sms={"FR": 0.05, "default": 0.1}),
    )


def report(c: MessageChecks, texts: dict[str, str]) -> list[str]:
    for recipient, text in texts.items():
        c.check(recipient, text, count(text))
    return [d.format() for d in c.report()]


def test_marketing_sms_needs_the_stop_mention() -> None:
    c = checks("Promo {{ x }}")
    assert report(c, {"+33612345678": "Promo -30%", "+33698765432": "Promo STOP au 30101"}) == [
        "campaigns/promo.yaml:4:7: error: campaign promo: marketing SMS must contain "
        "'STOP au 30101': missing in 1 of 2 messages (e.g. +33612345678)\n"
        "  hint: add 'STOP au 30101' to the text, or set purpose: alert if these messages are "
        "transactional"
    ]


def test_transactional_sms_needs_no_stop_mention() -> None:
    assert report(checks("Code", marketing=False), {"+33612345678": "Code 1234"}) == []


def test_ucs2_warning_names_the_character_its_place_and_the_cost() -> None:
    template = "Bonjour,\nl’offre {{ x }}"
    texts = {f"+336123456{i:02d}": "l’offre " + "x" * 80 for i in range(10, 13)}
    assert report(checks(template, marketing=False), texts) == [
        "campaigns/promo.yaml:4:7: warning: campaign promo: ’ (U+2019) at "
        "campaigns/promo.yaml:5:2 makes 3 messages UCS-2 (70 characters per SMS instead of "
        '160): 3 extra SMS parts in total\n  hint: replace them to stay in GSM-7: ’ -> "\'"'
    ]


def test_too_long_too_many_parts_and_empty_fields() -> None:
    c = checks("{{ contact.first_name }}", marketing=False, max_segments=3)
    assert report(c, {"+33612345678": "x" * 1300, "+33698765432": "Bonjour , ici"}) == [
        "campaigns/promo.yaml:4:7: error: campaign promo: 1 of 2 messages exceed the API's 1224 "
        "characters (e.g. +33612345678: 1,300 characters)",
        "campaigns/promo.yaml:4:7: warning: campaign promo: 1 of 2 messages need more than 3 SMS "
        "parts (e.g. +33612345678: 9 parts)\n"
        "  hint: shorten the text or raise policies.max_segments",
        "campaigns/promo.yaml:4:7: warning: campaign promo: 1 of 2 messages look like a field "
        "printed empty (e.g. +33698765432: 'Bonjour , ici')\n"
        "  hint: give the field a default: {{ contact.first_name | default('') }} and adjust the "
        "punctuation, or test it with {% if %}",
    ]


def test_cost_is_parts_times_the_price_of_the_destination() -> None:
    c = checks("x", marketing=False)
    assert c.check("+33612345678", "x" * 200, count("x" * 200)) == 0.1
    assert c.check("+447911123456", "hi", count("hi")) == 0.1
    assert c.check("+262692123456", "hi", count("hi")) == 0.1
    assert round(c.cost, 6) == 0.3


@pytest.mark.parametrize(
    ("when", "problem"),
    [
        ("2026-11-27T09:00:00+01:00", None),
        ("2026-11-27T07:59:00+01:00", "marketing messages go out between 08:00 and 20:00"),
        ("2026-11-27T20:00:00+01:00", "marketing messages go out between 08:00 and 20:00"),
        ("2026-11-27T19:30:00+00:00", "marketing messages go out between 08:00 and 20:00"),
        ("2026-11-29T10:00:00+01:00", "sun is not a marketing day (mon, tue, wed, thu, fri, sat)"),
        ("2026-07-14T10:00:00+02:00", "2026-07-14 is a public holiday (National Day)"),
    ],
)
def test_marketing_hours(when: str, problem: str | None) -> None:
    result = check_send_at(datetime.fromisoformat(when), MarketingHours(), WHERE, "promo")
    if problem is None:
        assert result is None
    else:
        assert result is not None
        local = datetime.fromisoformat(when).astimezone(ZoneInfo("Europe/Paris"))
        assert result.format() == (
            f"campaigns/promo.yaml:4:7: error: campaign promo: send_at "
            f"{local:%a %d %b %Y %H:%M} Europe/Paris is outside marketing hours: {problem}\n"
            "  hint: move send_at, or change policies.marketing_hours in octoplan.yaml"
        )


# What _EMPTY_FIELD is made of, and characters that are not.
PIECES = st.lists(st.sampled_from([" ", ",", ".", "(", ")", "a", "é", "%"]), max_size=5).map(
    "".join
)


@st.composite
def skeletons(draw: st.DrawFn) -> tuple[str, list[list[str]]]:
    """A text format (literals around holes) and, per hole, a column of values."""
    holes = draw(st.integers(0, 4))
    literals = [draw(PIECES) for _ in range(holes + 1)]
    rows = draw(st.integers(1, 4))
    columns = []
    for _ in range(holes):
        kind = draw(st.sampled_from(["empty", "values", "mixed"]))
        if kind == "empty":
            columns.append([""] * rows)
        else:
            values = st.text(st.sampled_from(" ,.()aé"), min_size=kind == "values", max_size=4)
            columns.append([draw(values) for _ in range(rows)])
    text_format = "%s".join(literal.replace("%", "%%") for literal in literals)
    return text_format, columns


@settings(max_examples=1000, deadline=None)
@given(skeletons())
def test_empty_field_possible_never_misses_a_text_that_looks_like_it(
    skeleton: tuple[str, list[list[str]]],
) -> None:
    text_format, columns = skeleton
    rows = len(columns[0]) if columns else 1
    texts = [text_format % tuple(column[i] for column in columns) for i in range(rows)]
    if any(_EMPTY_FIELD.search(text) for text in texts):
        assert empty_field_possible(text_format, columns)


def test_empty_field_possible_rules_out_the_common_case_from_the_values_alone() -> None:
    columns = [["Zoé", "Hugo"], ["", ""], ["C1", "C2"]]
    assert not empty_field_possible("Bonjour %s,%s code %s. STOP", columns)
    # An empty value between a space and a comma; a value that starts with a comma.
    assert empty_field_possible("Bonjour %s %s, code %s.", columns)
    assert empty_field_possible("Bonjour %s, code %s.", [["Zoé", ",Hugo"], ["C1", "C2"]])


def test_ucs2_characters_ranked_by_messages_then_code_point_with_their_place() -> None:
    """’ (3 messages) before ê (2) before ô (1), though ê and ô come first by code point; ’ is
    written at the template's very first character, ê and ô come from contact data."""
    template = "’{{ x }}"
    texts = {
        "+33612345610": "’ ê",
        "+33612345611": "’ ê ô",
        "+33612345612": "’",
    }
    assert report(checks(template, marketing=False), texts) == [
        "campaigns/promo.yaml:4:7: warning: campaign promo: ’ (U+2019) at "
        "campaigns/promo.yaml:4:1, ê (U+00EA) in contact data, ô (U+00F4) in contact data make "
        "3 messages UCS-2 (70 characters per SMS instead of 160)\n"
        "  hint: replace them to stay in GSM-7: ’ -> \"'\", ê -> 'e', ô -> 'o'"
    ]


@pytest.mark.parametrize(
    ("recipients", "costs"),
    [
        (["+33612345678", "+33712345678", "+33612345679"], [0.05, 0.05, 0.05]),
        (["+33612345678", "+262692123456", "+33612345679"], [0.05, 0.1, 0.05]),
        # +1 is shared by several countries: each number is priced by its own (one code).
        (["+12025550143", "+12025550144"], [0.1, 0.1]),
        (["+33612345678", "+3361234567"], [0.05, 0.05]),
    ],
)
def test_basic_messages_are_priced_by_each_destination(
    recipients: list[str], costs: list[float]
) -> None:
    c = MessageChecks(
        campaign_id="promo",
        channel="sms",
        marketing=False,
        text_where=WHERE,
        template_source="x",
        template_first_line=4,
        template_path="campaigns/promo.yaml",
        max_segments=3,
        pricing=Pricing(sms={"FR": 0.05, "US": 0.1, "default": 0.1}),
    )
    texts = ["hi"] * len(recipients)
    got = c.check_basic(recipients, texts, [1] * len(recipients), list(range(len(recipients))))
    assert got == costs
