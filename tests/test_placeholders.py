from __future__ import annotations

import pytest

from octoplan.placeholders import apply_placeholders, has_placeholders

FIELDS = {"first_name": "Axelle", "last_name": "Durand", "param1": "VIP", "param3": "{param1}"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Bonjour {first_name} {last_name}", "Bonjour Axelle Durand"),
        ("{param1}/{param2}/{param3}", "VIP//{param1}"),
        (
            "{First_name} {param6} {param0} { first_name }",
            "{First_name} {param6} {param0} { first_name }",
        ),
        ("{{first_name}}", "{Axelle}"),
        ("no braces", "no braces"),
        ("{first_name", "{first_name"),
    ],
)
def test_placeholders_as_the_api_applies_them(text: str, expected: str) -> None:
    assert apply_placeholders(text, FIELDS) == expected


def test_has_placeholders() -> None:
    assert has_placeholders("Hi {param5}")
    assert not has_placeholders("Hi {param6} {name}")
