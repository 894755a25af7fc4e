"""Contact files: CSV, YAML and JSON lists (and inline ones) read as rows of cells.

A source has column `names` and yields rows `(cells, line)`: `cells` is a list aligned with
`names`, every value stripped and "" where the contact has no value (an empty CSV cell, a YAML
`null` or `""`), and `line` is the 1-based line of the CSV row or YAML/JSON item. Rows are lists,
not dicts, because a plan reads a million of them. Row errors go to `source.errors` as
Diagnostics and the row is skipped, so one run reports every bad row; `source.column(line,
field)` finds the column of a value only when a message needs it (cheap rows, costly errors).
What the rows mean (identities, duplicates, exclusions) is octoplan/contacts.py's.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import chain, islice
from pathlib import Path
from typing import Any, Protocol

from octoplan.channels import IDENTITY_FIELDS
from octoplan.errors import Diagnostic, ValidationFailed
from octoplan.yamlsource import read_yaml, unfit_character

MAX_ERRORS_PER_SOURCE = 20
# A longer header row is refused before it is parsed: it is not a contact list's.
MAX_HEADER_CHARS = 1024 * 1024
# The longest field of a JSON or YAML contact: the csv module's own limit for a CSV cell.
MAX_FIELD_CHARS = csv.field_size_limit()
_CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Every byte but those: `chunk.translate(None, _TEXT_BYTES)` keeps only the control bytes, ten
# times faster than searching with the pattern, which then runs only when one is found.
_TEXT_BYTES = bytes(b for b in range(256) if not _CONTROL_BYTES.match(bytes([b])))
_SCAN_CHUNK = 1024 * 1024


Row = tuple[list[str], int]  # (cells aligned with the source's names, line)
# A chunk of rows as columns (each aligned with the source's names), and their lines.
Columns = tuple[list[list[str]], list[int]]
CHUNK_ROWS = 50_000


def _rows_of(chunks: Iterator[Columns]) -> Iterator[Row]:
    for columns, lines in chunks:
        for index, line in enumerate(lines):
            yield [column[index] for column in columns], line


def _chunks_of(rows: Iterator[Row], width: int, size: int) -> Iterator[Columns]:
    while chunk := list(islice(rows, size)):
        columns = [list(column) for column in zip(*(cells for cells, _ in chunk), strict=True)]
        yield columns or [[] for _ in range(width)], [line for _, line in chunk]


class ContactSource(Protocol):
    path: str
    errors: list[Diagnostic]
    names: list[str]  # known once `rows()` has yielded its first row

    def rows(self) -> Iterator[Row]: ...

    def chunks(self, size: int = ...) -> Iterator[Columns]: ...

    def column(self, line: int, name: str) -> int | None: ...


def file_error(
    path: str, line: int | None, col: int | None, message: str, hint: str | None = None
) -> Diagnostic:
    return Diagnostic(path, line, col, message, hint)


@dataclass(frozen=True, slots=True)
class RowError(Diagnostic):
    """An error about one contact only (its row is left out), which `on_invalid: skip` turns
    into a count; errors about the whole file (its header, its encoding) are plain
    Diagnostics and always stop the campaign."""


def row_error(
    path: str, line: int | None, col: int | None, message: str, hint: str | None = None
) -> Diagnostic:
    return RowError(path, line, col, message, hint)


# --- CSV -----------------------------------------------------------------------------------


def _sniff_delimiter(header: str) -> str:
    commas = semicolons = 0
    quoted = False
    for char in header:
        if char == '"':
            quoted = not quoted
        elif not quoted:
            commas += char == ","
            semicolons += char == ";"
    return ";" if semicolons > commas else ","


def _cell_columns(line: str, delimiter: str) -> list[int]:
    """1-based column where each cell of a CSV line starts."""
    columns, quoted = [1], False
    for index, char in enumerate(line):
        if char == '"':
            quoted = not quoted
        elif char == delimiter and not quoted:
            columns.append(index + 2)
    return columns


@dataclass
class CsvSource:
    file: Path
    path: str
    errors: list[Diagnostic] = field(default_factory=list)
    delimiter: str = ","
    names: list[str] = field(default_factory=list)
    # A shard of the file: (first byte, end byte, line of the first row), its header already
    # read (names and delimiter set) by whoever split the file (see octoplan/shards.py).
    part: tuple[int, int, int] | None = None
    # The reader and the lines before its first, for the line of a csv.Error.
    _reader: Any = field(default=None, init=False, repr=False)
    _before: int = field(default=1, init=False, repr=False)

    def rows(self) -> Iterator[Row]:
        return _rows_of(self.chunks())

    def chunks(self, size: int = CHUNK_ROWS) -> Iterator[Columns]:
        self._reader = None
        try:
            if self.part is not None:
                start, end, first_line = self.part
                with self.file.open("rb") as raw:
                    raw.seek(start)
                    text = raw.read(end - start).decode("utf-8")
                yield from self._lines(io.StringIO(text, newline=""), first_line - 1, size)
                return
            problem = not_text(self.file, self.path)
            if problem is not None:
                self.errors.append(problem)
                return
            with self.file.open(encoding="utf-8-sig", newline="") as handle:
                yield from self._chunks(handle, size)
        except FileNotFoundError:
            self.errors.append(file_error(self.path, None, None, "contact file not found"))
        except UnicodeDecodeError:
            self.errors.append(_not_utf8(self.file, self.path))
        except csv.Error as exc:
            line = self._reader.line_num + self._before if self._reader is not None else 1
            self.errors.append(_csv_error(self.path, line, exc))
        except OSError as exc:
            self.errors.append(file_error(self.path, None, None, f"cannot read: {exc.strerror}"))

    def _chunks(self, handle: Any, size: int) -> Iterator[Columns]:
        if not self._header(handle.readline(MAX_HEADER_CHARS + 1)):
            return
        # The header was read outside the reader: its lines are one behind.
        yield from self._lines(handle, 1, size)

    def _header(self, first: str) -> bool:
        """Read the header line: names and delimiter; False (and errors) if it is unusable."""
        if len(first) > MAX_HEADER_CHARS:
            message = f"the header row is longer than {MAX_HEADER_CHARS:,} characters"
            hint = "the first line must name the columns: is this a contact list?"
            self.errors.append(file_error(self.path, 1, None, message, hint))
            return False
        if not first.strip():
            self.errors.append(file_error(self.path, 1, None, "empty file: a header row is needed"))
            return False
        self.delimiter = _sniff_delimiter(first)
        header = next(csv.reader([first], delimiter=self.delimiter))
        self.names = [name.strip() for name in header]
        return self._header_ok(first)

    def read_header(self) -> bool:
        """Only the header (names, delimiter): what splitting the file needs."""
        try:
            with self.file.open(encoding="utf-8-sig", newline="") as handle:
                return self._header(handle.readline(MAX_HEADER_CHARS + 1))
        except (OSError, UnicodeDecodeError, csv.Error):
            return False

    def _lines(self, handle: Iterator[str], before: int, size: int) -> Iterator[Columns]:
        """Chunks of the rows of `handle`'s lines (`before`: lines of the file before its
        first). Without quotes a line is a row, so the csv module's chunks are the same
        `size` lines: those `_split` can read are split by str methods (a few C passes over
        the chunk instead of the csv module and a strip per cell, three times faster), the
        others read by the csv module as before; from the first quote on, a row may span
        lines and the csv module reads the rest of the file."""
        width = len(self.names)
        while lines := list(islice(handle, size)):
            text = "".join(lines)
            if '"' in text:
                reader = csv.reader(chain(lines, handle), delimiter=self.delimiter)
                yield from self._read(reader, before, size)
                return
            count = len(lines)
            columns = _split(text, lines, width, self.delimiter)
            del text  # (not kept while the chunk is used)
            if columns is None:
                yield from self._read(csv.reader(lines, delimiter=self.delimiter), before, size)
            else:
                del lines
                yield columns, list(range(before + 1, before + count + 1))
            before += count

    def _read(self, reader: Any, before: int, size: int) -> Iterator[Columns]:
        """Chunks of `reader`'s rows; `before`: lines of the file before the reader's first."""
        self._reader, self._before = reader, before
        width, last = len(self.names), before
        while rows := list(islice(reader, size)):
            end = reader.line_num + before
            if end - last == len(rows):
                lines = list(range(last + 1, end + 1))
            else:  # quoted line breaks: a row spans several lines
                lines, line = [], last + 1
                for cells in rows:
                    lines.append(line)
                    line += 1 + sum(cell.count("\n") for cell in cells)
            last = end
            if min(map(len, rows)) != width or max(map(len, rows)) != width:
                rows, lines = self._good(rows, lines, width)
            elif not all(map(any, rows)):
                kept = [i for i, cells in enumerate(rows) if any(cells)]  # blank lines
                rows, lines = [rows[i] for i in kept], [lines[i] for i in kept]
            if rows:
                yield [list(map(str.strip, column)) for column in zip(*rows, strict=True)], lines

    def _good(
        self, rows: list[list[str]], lines: list[int], width: int
    ) -> tuple[list[list[str]], list[int]]:
        """The rows of the right width; an error for each other one but blank lines."""
        good: list[list[str]] = []
        good_lines: list[int] = []
        for cells, line in zip(rows, lines, strict=True):
            if not any(cells):
                continue
            if len(cells) != width:
                self.errors.append(
                    row_error(
                        self.path,
                        line,
                        None,
                        f"row has {len(cells)} cells, the header has {width}",
                        f"cells are separated by '{self.delimiter}'; quote values that contain it",
                    )
                )
                continue
            good.append(cells)
            good_lines.append(line)
        return good, good_lines

    def _header_ok(self, first: str) -> bool:
        columns = _cell_columns(first, self.delimiter)
        seen: set[str] = set()
        for index, name in enumerate(self.names):
            col = columns[index] if index < len(columns) else None
            if not name:
                self.errors.append(file_error(self.path, 1, col, "empty column name in the header"))
            elif name in seen:
                self.errors.append(file_error(self.path, 1, col, f"duplicate column '{name}'"))
            seen.add(name)
        return not self.errors

    def column(self, line: int, name: str) -> int | None:
        if name not in self.names:
            return None
        with self.file.open(encoding="utf-8-sig", newline="") as handle:
            for number, text in enumerate(handle, start=1):
                if number == line:
                    columns = _cell_columns(text, self.delimiter)
                    index = self.names.index(name)
                    return columns[index] if index < len(columns) else None
        return None


# What str.strip() strips but a line break (no cell holds one here) or a space (see _padded).
_OTHER_SPACES = (
    "\t\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


def _split(text: str, lines: list[str], width: int, delimiter: str) -> list[list[str]] | None:
    """The columns of `lines` (`text`: them joined, without a quote) as the csv module and a
    strip of each cell would read them, or None when this cannot tell: a lone carriage return,
    a NUL, a cell over the csv module's size limit (its errors), a line of another width, a row
    that may be blank (its rules on those): the csv module reads those chunks."""
    limit = csv.field_size_limit()
    if "\x00" in text or (len(text) > limit and max(map(len, lines)) > limit):
        return None
    # The cells of every row, one after the other, between delimiters, each row followed by
    # a cell of its own, a NUL (which no line holds), but the last.
    end = delimiter + "\x00" + delimiter
    flat = text[:-2] if text.endswith("\r\n") else text.removesuffix("\n")
    if "\r" in flat:
        flat = flat.replace("\r\n", end)
        if "\r" in flat:
            return None
    flat = flat.replace("\n", end)
    cells = flat.split(delimiter)
    # Every line is `width` cells when the row ends are where rows of `width` cells put them
    # (there are no others): no count of each line's delimiters.
    step, rows = width + 1, len(lines)
    if len(cells) != step * rows - 1 or cells[width::step].count("\x00") != rows - 1:
        return None
    columns = [cells[i::step] for i in range(width)]
    if all("" in column for column in columns):
        return None  # maybe a row of empty cells, which the csv path leaves out
    if _padded(flat, delimiter):
        columns = [list(map(str.strip, column)) for column in columns]
    return columns


def _padded(flat: str, delimiter: str) -> bool:
    """May a cell of `flat` (cells between delimiters) start or end with white space?"""
    if flat.startswith(" ") or flat.endswith(" "):
        return True
    if " " + delimiter in flat or delimiter + " " in flat:
        return True
    return any(space in flat for space in _OTHER_SPACES)


def _csv_error(path: str, line: int, exc: csv.Error) -> Diagnostic:
    if "field larger than field limit" in str(exc):
        return file_error(
            path,
            line,
            None,
            f"a cell is longer than {csv.field_size_limit():,} characters",
            "contact fields are short: is a quote left open on this line or above it?",
        )
    return file_error(path, line, None, f"unreadable CSV: {exc}")


def not_text(file: Path, path: str) -> Diagnostic | None:
    """A UTF-16 file, or the first control character (a NUL byte...) of a file that is not
    text: one pass over the raw bytes, in chunks, before any parsing."""
    with file.open("rb") as handle:
        if handle.read(2) in (b"\xff\xfe", b"\xfe\xff"):
            return file_error(
                path,
                1,
                1,
                "UTF-16 text, not UTF-8",
                "save the file as UTF-8 (in Excel: 'CSV UTF-8')",
            )
        handle.seek(0)
        line, first = 1, True
        while chunk := handle.read(_SCAN_CHUNK):
            found = _CONTROL_BYTES.search(chunk) if chunk.translate(None, _TEXT_BYTES) else None
            if found is None:
                line += chunk.count(b"\n")
                first = False
                continue
            at = found.start()
            line += chunk.count(b"\n", 0, at)
            newline = chunk.rfind(b"\n", 0, at)
            col = None
            if newline >= 0 or first:
                col = len(chunk[newline + 1 : at].decode("utf-8", "replace")) + 1
            message = f"control character 0x{chunk[at]:02x} in a text file"
            hint = "contact files are UTF-8 text: is this a binary or UTF-16 file?"
            return file_error(path, line, col, message, hint)
    return None


def _not_utf8(file: Path, path: str) -> Diagnostic:
    # The streaming decoder does not know the line; decoding the whole file again does.
    raw = file.read_bytes()
    try:
        raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        at = exc.start + (3 if raw.startswith(b"\xef\xbb\xbf") else 0)
        line = raw.count(b"\n", 0, at) + 1
        col = at - raw.rfind(b"\n", 0, at)
        return file_error(
            path,
            line,
            col,
            f"not UTF-8 text (byte 0x{raw[at]:02x})",
            "save the file as UTF-8 (in Excel: 'CSV UTF-8')",
        )
    return file_error(path, None, None, "not UTF-8 text")


# --- YAML, JSON and inline lists -----------------------------------------------------------


def _scalar(value: object) -> str | None:
    """A YAML/JSON value as a contact field: None when absent, ValueError when not a scalar."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        text = str(value).strip()
        return text or None
    raise ValueError(type(value).__name__)


_IDENTITY_FIELDS = IDENTITY_FIELDS


def _fields_of(
    item: object, path: str, line: int, errors: list[Diagnostic], cols: Mapping[str, int]
) -> dict[str, str] | None:
    if not isinstance(item, Mapping):
        errors.append(row_error(path, line, None, "a contact must be a mapping of field: value"))
        return None
    fields: dict[str, str] = {}
    ok = True
    for name, value in item.items():
        col = cols.get(str(name))
        # JSON escapes (\u0000, \ud800) can carry what no text file holds, in names too.
        unfit = unfit_character(str(name))
        if not str(name).strip() or unfit is not None:
            problem = f": {unfit[0]}" if unfit else ""
            errors.append(row_error(path, line, col, f"bad field name {str(name)!r}{problem}"))
            ok = False
            continue
        if (
            name in _IDENTITY_FIELDS
            and isinstance(value, int | float)
            and not isinstance(value, bool)
        ):
            errors.append(
                row_error(
                    path,
                    line,
                    col,
                    f"{name} must be a string, not the number {value}",
                    'quote it: a number loses its leading 0 or + (write "0612345678")',
                )
            )
            ok = False
            continue
        try:
            text = _scalar(value)
        except ValueError as exc:
            errors.append(row_error(path, line, col, f"{name} must be a single value, not a {exc}"))
            ok = False
            continue
        if text is not None:
            if len(text) > MAX_FIELD_CHARS:
                message = f"{name} is longer than {MAX_FIELD_CHARS:,} characters"
                errors.append(row_error(path, line, col, message, "contact fields are short"))
                ok = False
                continue
            unfit = unfit_character(text)
            if unfit is not None:
                errors.append(row_error(path, line, col, f"{name}: {unfit[0]}", unfit[1]))
                ok = False
                continue
            fields[str(name)] = text
    return fields if ok else None


@dataclass
class ItemsSource:
    """Contacts already parsed: each item a mapping, with its line and the column of each key."""

    path: str
    items: Iterable[tuple[object, int, Mapping[str, int]]]
    errors: list[Diagnostic] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    _cols: dict[int, Mapping[str, int]] = field(default_factory=dict)

    def rows(self) -> Iterator[Row]:
        good: list[tuple[dict[str, str], int]] = []
        names: dict[str, None] = {}  # every field of every item, in the order first seen
        for item, line, cols in self.items:
            self._cols[line] = cols
            fields = _fields_of(item, self.path, line, self.errors, cols)
            if fields is not None:
                good.append((fields, line))
                names.update(dict.fromkeys(fields))
        self.names = list(names)
        for fields, line in good:
            yield [fields.get(name, "") for name in self.names], line

    def chunks(self, size: int = CHUNK_ROWS) -> Iterator[Columns]:
        rows = self.rows()
        first = list(islice(rows, 1))  # reads every item: the names are known after it
        return _chunks_of(chain(first, rows), len(self.names), size)

    def column(self, line: int, name: str) -> int | None:
        return self._cols.get(line, {}).get(name)


def _yaml_items(
    data: object, path: str, errors: list[Diagnostic]
) -> tuple[list[Any], tuple[str, ...]]:
    """The file's contacts, and where their list sits in the document (at the top, or under a
    `contacts:` key) so that each contact's position can be found."""
    where: tuple[str, ...] = ()
    if isinstance(data, Mapping) and list(data) == ["contacts"]:
        data, where = data["contacts"], ("contacts",)
    if data is None:
        return [], where
    if not isinstance(data, list):
        errors.append(file_error(path, 1, 1, "a contact file holds a list of contacts"))
        return [], where
    return data, where


def yaml_source(file: Path, path: str) -> ItemsSource:
    try:
        doc = read_yaml(file, path)
    except ValidationFailed as exc:
        return ItemsSource(path, [], list(exc.diagnostics))
    errors: list[Diagnostic] = []
    items: list[tuple[object, int, Mapping[str, int]]] = []
    contacts, where = _yaml_items(doc.data, path, errors)
    for index, item in enumerate(contacts):
        line = doc.value_pos((*where, index))[0]
        names = item if isinstance(item, Mapping) else ()
        cols = {str(k): doc.value_pos((*where, index, k))[1] for k in names}
        items.append((item, line, cols))
    return ItemsSource(path, items, errors)


def _json_items(
    text: str, path: str, errors: list[Diagnostic]
) -> Iterator[tuple[object, int, Mapping[str, int]]]:
    """Decode a JSON array item by item, so each contact knows the line it starts on."""
    decoder = json.JSONDecoder()
    index, line, counted = 0, 1, 0

    def next_char() -> str:
        nonlocal index
        while index < len(text) and text[index] in " \t\r\n":
            index += 1
        return text[index : index + 1]

    def line_at(at: int) -> int:
        nonlocal line, counted
        line += text.count("\n", counted, at)
        counted = at
        return line

    try:
        if next_char() != "[":
            message = "a contact file holds a JSON array of objects"
            errors.append(file_error(path, line_at(index), None, message))
            return
        index += 1
        if next_char() == "]":
            return
        while True:
            start = index
            item, index = decoder.raw_decode(text, index)
            yield item, line_at(start), {}
            separator = next_char()
            if separator == "]":
                return
            if separator != ",":
                raise json.JSONDecodeError("Expecting ',' delimiter", text, index)
            index += 1
            next_char()
    except json.JSONDecodeError as exc:
        errors.append(file_error(path, exc.lineno, exc.colno, f"invalid JSON: {exc.msg}"))
    except RecursionError:
        message = "invalid JSON: nesting too deep for a contact"
        errors.append(file_error(path, line_at(start), None, message))


def json_source(file: Path, path: str) -> ItemsSource:
    try:
        text = file.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return ItemsSource(path, [], [file_error(path, None, None, "contact file not found")])
    except UnicodeDecodeError:
        return ItemsSource(path, [], [_not_utf8(file, path)])
    except OSError as exc:
        return ItemsSource(path, [], [file_error(path, None, None, f"cannot read: {exc.strerror}")])
    source = ItemsSource(path, [])
    source.items = _json_items(text, path, source.errors)
    return source


def open_source(file: Path, path: str) -> ContactSource:
    """The reader for `file` by its extension; `path` is how messages name it."""
    suffix = file.suffix.lower()
    if suffix in (".yaml", ".yml"):
        return yaml_source(file, path)
    if suffix == ".json":
        return json_source(file, path)
    return CsvSource(file, path)
