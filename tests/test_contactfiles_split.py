"""CSV chunks without quotes are split by str methods (contactfiles._split): they must be the
csv module's rows, each cell stripped, blank rows left out and ragged rows reported, whatever
the line endings, padding, white space or chunk size."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import pytest

from octoplan.contactfiles import CsvSource

CELLS = ["a", "", " ", " x", "y ", "é", "\u00a0z", "z\u2003", "\tt", "06 12", "+33 6", "b c"]


def _file(rng: random.Random, width: int, delimiter: str, quotes: bool) -> str:
    header = delimiter.join(f"c{i}" for i in range(width)) + "\r\n"
    rows = []
    for _ in range(rng.randint(0, 40)):
        cells = rng.choices(CELLS + (['"q"', '"a,b;c"'] if quotes else []), k=width)
        if rng.random() < 0.05:
            cells = cells[: rng.randint(0, width - 1)] or [""]  # ragged, or blank
        if rng.random() < 0.05:
            cells = [""] * width  # a row of empty cells
        rows.append(delimiter.join(cells) + rng.choice(["\n", "\r\n", "\r\n", "\r"]))
    return header + "".join(rows)


def _expected(file: Path, width: int) -> tuple[list[tuple[int, list[str]]], list[int]]:
    """(line, stripped cells) of each row the csv module reads, and the lines of ragged rows."""
    rows, ragged = [], []
    with file.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, delimiter=_sniffed(file))
        next(reader)
        for cells in reader:
            line = reader.line_num
            if not any(cells):
                continue
            if len(cells) != width:
                ragged.append(line)
            else:
                rows.append((line, [cell.strip() for cell in cells]))
    return rows, ragged


def _sniffed(file: Path) -> str:
    return ";" if file.read_text(encoding="utf-8").startswith("c0;") else ","


@pytest.mark.parametrize("seed", range(40))
def test_csv_chunks_are_the_csv_modules_rows_stripped(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    width = rng.randint(1, 4)
    file = tmp_path / "list.csv"
    file.write_text(
        _file(rng, width, rng.choice(",;"), quotes=seed % 4 == 0), encoding="utf-8", newline=""
    )
    source = CsvSource(file, "contacts/list.csv")
    got: list[tuple[int, list[str]]] = []
    for columns, lines in source.chunks(rng.choice([1, 3, 7, 1000])):
        got += [(line, [column[i] for column in columns]) for i, line in enumerate(lines)]
    rows, ragged = _expected(file, width)
    assert got == rows
    assert [error.line for error in source.errors] == ragged
