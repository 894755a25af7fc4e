"""YAML reading corners (issue 22): YAML 1.1 numbers, aliases, positions of what is absent,
a recursive alias, an escape naming no character, a path that is missing or a directory."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from octoplan.errors import ValidationFailed
from octoplan.yamlsource import _deep_position, parse_yaml, read_yaml

NUMBERS = "a: .NaN\nb: -.Inf\nc: 0x1F\nd: 0o17\ne: 1_000\nf: &x [1, 2]\ng: *x\n"


def failure(call: object) -> list[str]:
    with pytest.raises(ValidationFailed) as raised:
        assert callable(call)
        call()
    return [d.format() for d in raised.value.diagnostics]


def test_yaml_numbers_and_an_alias() -> None:
    doc = parse_yaml(NUMBERS, "vars.yaml")
    data = dict(doc.data)
    assert math.isnan(data.pop("a"))
    assert data == {"b": -math.inf, "c": 31, "d": 15, "e": 1000, "f": [1, 2], "g": [1, 2]}
    assert doc.value_pos(("g", 1)) == (6, 11)  # the alias's value is where it was written
    assert doc.value_pos(("nowhere", "at all")) == (1, 1)


def test_recursive_alias() -> None:
    assert failure(lambda: parse_yaml("a: &a [1, *a]\n", "c.yaml")) == [
        "c.yaml:1:4: error: recursive YAML alias"
    ]


def test_escape_past_the_last_character() -> None:
    assert failure(lambda: parse_yaml('vars: {x: "\\U00110000"}\n', "c.yaml")) == [
        "c.yaml:1:12: error: invalid character escape \\U00110000: no such character"
    ]


def test_missing_file_and_directory(tmp_path: Path) -> None:
    assert failure(lambda: read_yaml(tmp_path / "gone.yaml", "campaigns/gone.yaml")) == [
        "campaigns/gone.yaml: error: no such file"
    ]
    assert failure(lambda: read_yaml(tmp_path, "campaigns/dir.yaml")) == [
        "campaigns/dir.yaml: error: is a directory, not a file"
    ]


def test_an_empty_document_places_everything_at_its_start() -> None:
    doc = parse_yaml("# only a comment\n", "empty.yaml")
    assert doc.data is None
    assert doc.value_pos(("campaigns", 0, "text")) == (1, 1)
    assert doc.key_pos(("campaigns",)) == (1, 1)


def test_a_file_name_the_system_refuses_is_reported_as_unreadable(tmp_path: Path) -> None:
    too_long = tmp_path / ("x" * 300 + ".yaml")  # over NAME_MAX (255)
    assert failure(lambda: read_yaml(too_long, "long.yaml")) == [
        "long.yaml: error: cannot read: File name too long"
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: " + "[" * 70 + "]" * 70 + "\n", (1, 67)),  # the 64th level opens at column 67
        ("a: " + "[" * 70 + "\n", (1, 67)),  # found before the unclosed end breaks parsing
        ("a: {b: [[1]]}\n", None),  # shallow
        ("a: [1,\n b: }\n", None),  # broken before any deep node
    ],
)
def test_the_event_scan_finds_the_node_the_composer_refuses(
    text: str, expected: tuple[int, int] | None
) -> None:
    """ruamel.yaml 0.18 (still allowed by pyproject) has no max_depth: its composer recurses
    until a RecursionError, and the position then comes from this flat scan of the events. It
    must name the node that 0.19's composer names."""
    assert _deep_position(YAML(typ="safe"), text) == expected
    if expected is not None:
        line, column = expected
        assert failure(lambda: parse_yaml(text, "deep.yaml")) == [
            f"deep.yaml:{line}:{column}: error: YAML nesting is deeper than 64 levels\n"
            "  hint: campaign and contact files need a few levels of lists and mappings"
        ]
