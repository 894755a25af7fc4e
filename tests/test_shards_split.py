"""Which contact files are read in parts (octoplan/shards.py, `split`): a big clean CSV is cut
at row starts; a file the byte cut would misread (lone CRs, not UTF-8, a NUL: not text), one
with no header line, or one whose quotes never close is read in one go (None), so that the
one-go reader reports what is wrong with it at its line."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from octoplan import shards
from octoplan.contactfiles import CsvSource

ROWS = "".join(f"+3361{i:07d},Name{i}\n" for i in range(400))


@pytest.fixture(autouse=True)
def _small_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OCTOPLAN_JOBS", "4")
    monkeypatch.setenv("OCTOPLAN_SHARD_BYTES", "1000")


def source(tmp_path: Path, data: bytes) -> CsvSource:
    file = tmp_path / "c.csv"
    file.write_bytes(data)
    return CsvSource(file, "contacts/c.csv")


def test_a_big_clean_csv_is_cut_in_parts_at_row_starts(tmp_path: Path) -> None:
    data = ("phone_number,first_name\n" + ROWS).encode()
    parts = shards.split(source(tmp_path, data))
    assert parts is not None and len(parts) == 4
    spans = [part.part for part in parts if part.part is not None]
    assert len(spans) == 4
    assert spans[0][0] == len("phone_number,first_name\n")
    for (_, end, _), (start, _, _) in itertools.pairwise(spans):
        assert start == end  # contiguous
        assert data[end - 1 : end] == b"\n" and data[end : end + 5] == b"+3361"
    assert spans[-1][1] == len(data)
    assert {tuple(part.names) for part in parts} == {("phone_number", "first_name")}


@pytest.mark.parametrize(
    "data",
    [
        ("phone_number,first_name\r" + ROWS.replace("\n", "\r")).encode(),  # lone CRs
        ("phone_number,first_name\n" + ROWS).encode("utf-16"),  # not UTF-8
        ("phone_number,first_name\n" + ROWS).encode() + b"\xff",  # not UTF-8 at the end
        ('phone_number,first_name\n+33600000000,"never closed\n' + ROWS).encode(),
        ("phone_number,first_name" + ROWS.replace("\n", ";")).encode(),  # one line only
    ],
    ids=["lone-cr", "utf-16", "bad-last-byte", "open-quote", "no-line-break"],
)
def test_a_file_the_byte_cut_could_misread_is_read_in_one_go(tmp_path: Path, data: bytes) -> None:
    assert shards.split(source(tmp_path, data)) is None


def test_a_small_file_or_one_process_is_read_in_one_go(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = ("phone_number,first_name\n" + ROWS).encode()
    monkeypatch.setenv("OCTOPLAN_SHARD_BYTES", str(len(data) + 1))
    assert shards.split(source(tmp_path, data)) is None
    monkeypatch.setenv("OCTOPLAN_SHARD_BYTES", "1000")
    monkeypatch.setenv("OCTOPLAN_JOBS", "1")
    assert shards.split(source(tmp_path, data)) is None


# 401 lines (header and 400 rows); a plan's estimate: 400 bytes a contact, and a child's copies
# 400 bytes a contact of its part.
@pytest.mark.parametrize(
    ("memory", "parts"),
    [
        (str(10**9), 4),  # plenty: one part per job
        (str(401 * (400 + 400 * 3 // 4)), 4),  # exactly what four parts take
        (str(401 * (400 + 400 * 3 // 4) - 1), 3),  # a byte less: three parts
        (str(401 * (400 + 400 // 2)), 2),  # what two parts take
        (str(401 * (400 + 400 // 2) - 1), None),  # less: one process
        ("0", None),
    ],
)
def test_a_list_whose_split_would_not_fit_in_memory_is_cut_in_fewer_parts_or_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, memory: str, parts: int | None
) -> None:
    monkeypatch.setenv("OCTOPLAN_MEMORY_BYTES", memory)
    found = shards.split(source(tmp_path, ("phone_number,first_name\n" + ROWS).encode()))
    assert (None if found is None else len(found)) == parts


def test_without_a_memory_figure_the_machine_says_how_much_there_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OCTOPLAN_MEMORY_BYTES", raising=False)
    monkeypatch.setenv("OCTOPLAN_MEMORY_BYTES", "a lot")  # not a number: ignored
    parts = shards.split(source(tmp_path, ("phone_number,first_name\n" + ROWS).encode()))
    assert parts is not None and len(parts) == 4  # this machine has more than 400 kB


def test_utf8_is_checked_a_slice_at_a_time_across_characters_cut_in_two(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shards, "_UTF8_SLICE", 7)  # slices end inside 'é' and '€' again and again
    accented = ROWS.replace("Name", "Élé€")
    parts = shards.split(source(tmp_path, ("phone_number,first_name\n" + accented).encode()))
    assert parts is not None and len(parts) == 4
    broken = ("phone_number,first_name\n" + accented).encode()
    middle = len(broken) // 2
    broken = broken[:middle] + b"\xc3(" + broken[middle:]  # a lead byte without its follower
    assert shards.split(source(tmp_path, broken)) is None
