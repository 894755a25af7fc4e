"""YAML reading corners (issue 22): YAML 1.1 numbers, aliases, positions of what is absent,
a recursive alias, an escape naming no character, a path that is missing or a directory."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from octoplan.errors import ValidationFailed
from octoplan.yamlsource import parse_yaml, read_yaml

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
