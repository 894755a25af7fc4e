"""The positioned YAML reader: values, positions, and the unsafe constructs it refuses."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from ruamel.yaml.reader import Reader

from octoplan.errors import ValidationFailed
from octoplan.yamlsource import (
    MAX_ALIAS_EXPANSION,
    MAX_YAML_BYTES,
    _Reader,
    parse_yaml,
    read_yaml,
)


def error_of(text: str) -> str:
    with pytest.raises(ValidationFailed) as info:
        parse_yaml(text, "f.yaml")
    assert len(info.value.diagnostics) == 1
    return info.value.diagnostics[0].format()


def test_values_and_positions() -> None:
    doc = parse_yaml("a: 1\nb:\n  - x\n  - {c: true}\n", "f.yaml")
    assert doc.data == {"a": 1, "b": ["x", {"c": True}]}
    assert doc.values[("a",)] == (1, 4)
    assert doc.values[("b", 0)] == (3, 5)
    assert doc.values[("b", 1, "c")] == (4, 9)
    assert doc.keys[("b", 1, "c")] == (4, 6)
    assert doc.value_pos(("b", 1, "missing", 3)) == (4, 5)
    assert doc.key_pos(("a",)) == (1, 1)


def test_core_scalars_of_yaml_1_2() -> None:
    text = "a: 0x1F\nb: -1_000\nc: .inf\nd: ~\ne: True\nf: 1.5e3\ng: 0o17\nh: yes\ni: 08:00\n"
    doc = parse_yaml(text, "f.yaml")
    assert doc.data == {
        "a": 31,
        "b": -1000,
        "c": float("inf"),
        "d": None,
        "e": True,
        "f": 1500.0,
        "g": 15,
        "h": "yes",
        "i": "08:00",
    }


def test_timestamps_stay_as_written() -> None:
    doc = parse_yaml("a: 2026-12-04T10:00:00+01:00\nb: 2026-12-04\n", "f.yaml")
    assert doc.data == {"a": "2026-12-04T10:00:00+01:00", "b": "2026-12-04"}


def test_raw_text_of_non_string_scalars() -> None:
    doc = parse_yaml("phone: 0612345678\nname: Axelle\n", "f.yaml")
    assert doc.data == {"phone": 612345678, "name": "Axelle"}
    assert doc.raw == {("phone",): "0612345678"}


def test_empty_document() -> None:
    doc = parse_yaml("# nothing here\n", "f.yaml")
    assert (doc.data, doc.value_pos(())) == (None, (1, 1))


def test_aliases_within_the_limit_are_expanded() -> None:
    doc = parse_yaml("a: &x [1, 2]\nb: *x\n", "f.yaml")
    assert doc.data == {"a": [1, 2], "b": [1, 2]}


def test_alias_bomb() -> None:
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]']
    lines += [
        f"{b}: &{b} [{','.join([f'*{a}'] * 10)}]" for a, b in zip("abcde", "bcdef", strict=True)
    ]
    assert error_of("\n".join(lines) + "\n") == (
        f"f.yaml:1:16: error: YAML aliases expand to more than {MAX_ALIAS_EXPANSION:,} values\n"
        "  hint: write the values out, or use defaults in octoplan.yaml"
    )


def test_recursive_alias() -> None:
    assert error_of("a: &a [*a]\n") == "f.yaml:1:4: error: recursive YAML alias"


@pytest.mark.parametrize(
    ("text", "tag", "pos"),
    [
        ("a: !!python/object/apply:os.system [ls]\n", "!!python/object/apply:os.system", "1:4"),
        ("a: !!python/name:os.system ''\n", "!!python/name:os.system", "1:4"),
        ("a: !custom x\n", "!custom", "1:4"),
        ("a: !!binary aGk=\n", "!!binary", "1:4"),
        ("a: !!set {x}\n", "!!set", "1:4"),
        ("a: !!omap [{x: 1}]\n", "!!omap", "1:4"),
        ("- !!python/tuple [1, 2]\n", "!!python/tuple", "1:3"),
    ],
)
def test_unsafe_tags_are_refused(text: str, tag: str, pos: str) -> None:
    assert error_of(text) == (
        f"f.yaml:{pos}: error: YAML tag '{tag}' is not allowed\n"
        "  hint: campaign files use plain YAML: strings, numbers, booleans, lists and mappings"
    )


def test_complex_keys_are_refused() -> None:
    assert error_of("? [a, b]\n: 1\n") == "f.yaml:1:3: error: mapping keys must be plain words"


def test_every_duplicate_key_is_reported() -> None:
    with pytest.raises(ValidationFailed) as info:
        parse_yaml("a: 1\nb: 2\na: 3\nb: 4\n", "f.yaml")
    assert [d.format() for d in info.value.diagnostics] == [
        "f.yaml:3:1: error: duplicate key 'a' (first at line 1)\n  hint: remove one of them",
        "f.yaml:4:1: error: duplicate key 'b' (first at line 2)\n  hint: remove one of them",
    ]


def test_unterminated_quote_at_the_end() -> None:
    assert error_of('a: "open\n') == (
        'f.yaml:1:4: error: YAML syntax error: this " is never closed\n'
        '  hint: end the text with " on the same line, or write several lines as a block '
        "(text: |)"
    )


def test_read_yaml_names_missing_and_undecodable_files(tmp_path: Path) -> None:
    with pytest.raises(ValidationFailed) as info:
        read_yaml(tmp_path / "nope.yaml", "nope.yaml")
    assert str(info.value) == "nope.yaml: error: no such file"
    (tmp_path / "latin1.yaml").write_bytes(b"a: 1\nb: caf\xe9\n")
    with pytest.raises(ValidationFailed) as info:
        read_yaml(tmp_path / "latin1.yaml", "latin1.yaml")
    assert str(info.value) == (
        "latin1.yaml:2:7: error: not UTF-8 text (byte 0xe9)\n  hint: save the file as UTF-8"
    )


def test_a_bom_is_accepted(tmp_path: Path) -> None:
    (tmp_path / "bom.yaml").write_bytes("\ufeffa: é\n".encode())
    assert read_yaml(tmp_path / "bom.yaml", "bom.yaml").data == {"a": "é"}


DEEP_HINT = "\n  hint: campaign and contact files need a few levels of lists and mappings"


@pytest.mark.parametrize(
    ("text", "pos"),
    [
        ("a: " + "[" * 3000 + "]" * 3000 + "\n", "1:67"),  # beyond the recursive composer
        ("a: " + "{b: " * 70 + "}" * 70 + "\n", "1:253"),
        ("a:\n" + "".join("  " * i + "-\n" for i in range(1, 70)), "65:129"),
    ],
    ids=["flow-list", "flow-map", "block-list"],
)
def test_deep_nesting_is_refused_where_it_gets_too_deep(text: str, pos: str) -> None:
    assert error_of(text) == (
        f"f.yaml:{pos}: error: YAML nesting is deeper than 64 levels{DEEP_HINT}"
    )


def test_control_characters_are_refused_at_their_position() -> None:
    assert error_of("a: 1\nb: x\x00y\n") == (
        "f.yaml:2:5: error: character U+0000 is not allowed in YAML\n"
        "  hint: remove it: control characters cannot be written in YAML files"
    )
    assert error_of("a: \x1b[31m\n").startswith("f.yaml:1:4: error: character U+001B is not")


def test_control_characters_are_refused_in_non_ascii_text_too() -> None:
    # Non-ASCII text is checked by another pattern than ASCII text (octoplan's _Reader).
    assert error_of("a: livré\nb: x\x85y\x7fz\n") == (
        "f.yaml:2:7: error: character U+007F is not allowed in YAML\n"
        "  hint: remove it: control characters cannot be written in YAML files"
    )
    assert error_of("a: é\ufffe\n").startswith("f.yaml:1:5: error: character U+FFFE is not")
    assert parse_yaml("a: é\u00a0\U0001f600\n", "f.yaml").data == {"a": "é\xa0😀"}


def test_the_printable_test_refuses_what_ruamel_refuses() -> None:
    """octoplan's cheaper pattern (octoplan.yamlsource._Reader) and ruamel.yaml's own agree
    on every code point."""
    ours = _Reader.NON_PRINTABLE
    theirs = Reader.NON_PRINTABLE
    text = "".join(map(chr, range(0x110000)))
    assert [m.start() for m in ours.finditer(text)] == [m.start() for m in theirs.finditer(text)]
    assert ours.search("é") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            'a: "\\ud83d\\ude00"\n',
            "f.yaml:1:4: error: invalid character \\ud83d: half of a UTF-16 pair\n"
            "  hint: write the character itself, or escape it whole (\\U0001F600 for 😀)",
        ),
        (
            '"\\udc00": 1\n',
            "f.yaml:1:1: error: invalid character \\udc00: half of a UTF-16 pair\n"
            "  hint: write the character itself, or escape it whole (\\U0001F600 for 😀)",
        ),
        (
            'a: ok\nb: "\\U0010ffff\\U00110000"\n',
            "f.yaml:2:15: error: invalid character escape \\U00110000: no such character",
        ),
        (
            'a: "nul\\0"\n',
            "f.yaml:1:4: error: control character U+0000 is not allowed\n"
            "  hint: remove it: messages and contact fields are plain text",
        ),
        (
            'a: ["\\e[31m"]\n',
            "f.yaml:1:5: error: control character U+001B is not allowed\n"
            "  hint: remove it: messages and contact fields are plain text",
        ),
        ('a: "tab\\tnew\\nline\\r"\n', None),
        (
            "a: " + "1" * 5000 + "\n",
            "f.yaml:1:4: error: number is too long\n  hint: quote it if it is text",
        ),
        (
            "a: 0x" + "f" * 4000 + "\n",
            "f.yaml:1:4: error: number is too long\n  hint: quote it if it is text",
        ),
    ],
    ids=[
        "surrogate-value",
        "surrogate-key",
        "beyond-unicode",
        "nul-escape",
        "escape-escape",
        "tab-newline-ok",
        "long-int",
        "long-hex",
    ],
)
def test_values_that_are_not_text_or_numbers(text: str, expected: str | None) -> None:
    if expected is None:
        assert parse_yaml(text, "f.yaml").data == {"a": "tab\tnew\nline\r"}
    else:
        assert error_of(text) == expected


def test_a_file_over_the_size_limit_is_not_read(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    with big.open("wb") as handle:
        handle.truncate(MAX_YAML_BYTES + 1)  # sparse: instant, and never read
    with pytest.raises(ValidationFailed) as info:
        read_yaml(big, "campaigns/big.yaml")
    assert str(info.value) == (
        "campaigns/big.yaml: error: file is 10.0 MB; YAML files are limited to 10 MB\n"
        "  hint: put contacts in a CSV or JSON file (contacts: [contacts/<file>.csv])"
    )


def test_an_anchor_defined_twice_is_valid_yaml_and_silent(
    capfd: pytest.CaptureFixture[str],
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        doc = parse_yaml("a: &x 1\nb: &x 2\nc: *x\n", "f.yaml")
    assert doc.data == {"a": 1, "b": 2, "c": 2}
    assert capfd.readouterr() == ("", "")
