"""Fuzzing contact files (hypothesis): random bytes, invalid UTF-8, NUL and other control bytes,
BOMs (leading and stray), `,`/`;`/tab delimiters mixed, quotes left open, ragged rows, duplicate
or empty column names, random JSON and YAML documents, every channel, and the same files as
exclude lists; plus fixed extremes (a 10 MB cell, a row of a million cells, a huge header).
Reading must give contacts or positioned diagnostics: never an exception.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from octoplan.contactfiles import open_source
from octoplan.contacts import ContactSet, collect
from octoplan.rules import CHANNELS
from tests.fuzzing import FUZZ, check_diagnostics

NAMES = ["phone_number", "email", "conversation_id", "first_name", "param1", "city", "", " "]
CELLS = st.one_of(
    st.sampled_from(
        [
            "+33612345678",
            "06 12 34 56 78",
            "0612345678",
            "01 23 45 67 89",
            "+1 202 555 0143",
            "a@example.com",
            "A@EXAMPLE.COM",
            "not-an-email@",
            "0b5c2a3e-8f1d-4c1a-9b7e-2d4f6a8c0e1f",
            "{{ 7*7 }}",
            "",
            " ",
            '"',
            '""',
            '"a,b"',
            "a;b",
            "\n",
            "\r\n",
            "\x00",
            "\x1b[2J",
            "\ufeff",
            "é",
            "😀",
            "x" * 300,
        ]
    ),
    st.text(max_size=20),
)


@st.composite
def csv_bytes(draw: st.DrawFn) -> bytes:
    delimiter = draw(st.sampled_from([",", ";", "\t"]))
    header = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=5))
    rows = [header]
    for _ in range(draw(st.integers(0, 6))):
        width = draw(st.sampled_from([len(header), len(header), 0, 1, len(header) + 2]))
        rows.append(draw(st.lists(CELLS, min_size=width, max_size=width)))
    text = "\n".join(draw(st.sampled_from([delimiter, ",", ";"])).join(r) for r in rows) + "\n"
    data = draw(st.sampled_from([b"", b"\xef\xbb\xbf", b"\xff\xfe"])) + text.encode()
    if draw(st.booleans()):  # a few stray bytes somewhere: invalid UTF-8, NUL, a split BOM...
        at = draw(st.integers(0, len(data)))
        junk = draw(st.sampled_from([b"\xe9", b"\x00", b"\xef\xbb", b"\xc3", b"\xff", b"\r"]))
        data = data[:at] + junk + data[at:]
    return data


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20) | CELLS,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(NAMES) | st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=12,
)


def read(file: Path, name: str, channel: str) -> ContactSet:
    """The file as contacts and as an exclude list; every diagnostic checked."""
    path = f"contacts/{name}"
    result = collect([open_source(file, path)], [], channel, "FR")
    check_diagnostics(result.errors, {path})
    excluded = collect([], [open_source(file, path)], channel, "FR")
    check_diagnostics(excluded.errors, {path})
    return result


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("contacts")


@FUZZ
@given(st.binary(max_size=400), st.sampled_from(["c.csv", "c.json", "c.yaml"]))
def test_random_bytes(folder: Path, data: bytes, name: str) -> None:
    (folder / name).write_bytes(data)
    read(folder / name, name, "sms")


@FUZZ
@given(csv_bytes(), st.sampled_from(CHANNELS))
def test_csv_files(folder: Path, data: bytes, channel: str) -> None:
    (folder / "c.csv").write_bytes(data)
    result = read(folder / "c.csv", "c.csv", channel)
    for contact in result.contacts:
        assert all(value and value == value.strip() for value in contact.fields.values())


@FUZZ
@given(JSON_VALUES, st.sampled_from(CHANNELS), st.booleans())
def test_json_files(folder: Path, value: object, channel: str, escaped: bool) -> None:
    text = json.dumps(value, ensure_ascii=escaped)
    (folder / "c.json").write_text(text, encoding="utf-8", errors="surrogatepass")
    read(folder / "c.json", "c.json", channel)


@FUZZ
@given(JSON_VALUES, st.sampled_from(CHANNELS))
def test_yaml_files(folder: Path, value: object, channel: str) -> None:
    # JSON is YAML: flow style, with escapes YAML must refuse (\u0000, \ud800).
    text = json.dumps(value, ensure_ascii=True)
    (folder / "c.yaml").write_text(text, encoding="utf-8")
    read(folder / "c.yaml", "c.yaml", channel)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            b"phone_number,first_name\n+33612345678," + b"x" * (10 * 1024 * 1024) + b"\n",
            "contacts/c.csv:2: error: a cell is longer than 131,072 characters\n"
            "  hint: contact fields are short: is a quote left open on this line or above it?",
        ),
        (
            b"phone_number,first_name\n" + b"x," * 1_000_000 + b"\n",
            "contacts/c.csv:2: error: row has 1000001 cells, the header has 2\n"
            "  hint: cells are separated by ','; quote values that contain it",
        ),
        (
            b"phone_number," + b"c," * 1_000_000 + b"\n",
            "contacts/c.csv:1: error: the header row is longer than 1,048,576 characters\n"
            "  hint: the first line must name the columns: is this a contact list?",
        ),
    ],
    ids=["10-mb-cell", "million-cells", "million-columns"],
)
def test_extremes(folder: Path, data: bytes, expected: str) -> None:
    (folder / "c.csv").write_bytes(data)
    assert [d.format() for d in read(folder / "c.csv", "c.csv", "sms").errors] == [expected]
