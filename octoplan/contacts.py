"""Contacts: read them from CSV, YAML, JSON or inline lists, normalize, deduplicate, exclude.

A source has column `names` and yields rows `(cells, line)`: `cells` is a list aligned with
`names`, every value stripped and "" where the contact has no value (an empty CSV cell, a YAML
`null` or `""`), and `line` is the 1-based line of the CSV row or YAML/JSON item. Rows are lists,
not dicts, because a plan reads a million of them. Row errors go to `source.errors` as
Diagnostics and the row is skipped, so one run reports every bad row; `source.column(line,
field)` finds the column of a value only when a message needs it (cheap rows, costly errors).

`stream` turns sources into rows keyed by their identity (E.164 number, lower-cased e-mail, or
conversation id), the identity cell normalized in place: the first occurrence of a key wins and
later ones are counted as duplicates; keys found in the `exclude` sources are dropped and
counted. `collect` is the same as a list of `Contact`s with dict fields.
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
from typing import Any, NamedTuple, Protocol

from octoplan import channels
from octoplan.channels import EMAIL_FIELD, IDENTITY_FIELDS
from octoplan.errors import Diagnostic, ValidationFailed
from octoplan.phones import (
    PHONE_CHANNELS,
    InvalidRecipient,
    normalize_conversation_id,
    normalize_email,
    normalize_phone,
    normalize_phones,
)
from octoplan.words import plural
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


class Contact(NamedTuple):
    key: str
    fields: dict[str, str]  # identity fields normalized, other fields as written
    path: str
    line: int


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


def _error(
    path: str, line: int | None, col: int | None, message: str, hint: str | None = None
) -> Diagnostic:
    return Diagnostic(path, line, col, message, hint)


@dataclass(frozen=True, slots=True)
class RowError(Diagnostic):
    """An error about one contact only (its row is left out), which `on_invalid: skip` turns
    into a count; errors about the whole file (its header, its encoding) are plain
    Diagnostics and always stop the campaign."""


def _row_error(
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
                reader = csv.reader(io.StringIO(text, newline=""), delimiter=self.delimiter)
                yield from self._read(reader, first_line - 1, size)
                return
            problem = _not_text(self.file, self.path)
            if problem is not None:
                self.errors.append(problem)
                return
            with self.file.open(encoding="utf-8-sig", newline="") as handle:
                yield from self._chunks(handle, size)
        except FileNotFoundError:
            self.errors.append(_error(self.path, None, None, "contact file not found"))
        except UnicodeDecodeError:
            self.errors.append(_not_utf8(self.file, self.path))
        except csv.Error as exc:
            line = self._reader.line_num + self._before if self._reader is not None else 1
            self.errors.append(_csv_error(self.path, line, exc))
        except OSError as exc:
            self.errors.append(_error(self.path, None, None, f"cannot read: {exc.strerror}"))

    def _chunks(self, handle: Any, size: int) -> Iterator[Columns]:
        if not self._header(handle.readline(MAX_HEADER_CHARS + 1)):
            return
        # The header was read outside the reader: its lines are one behind.
        yield from self._read(csv.reader(handle, delimiter=self.delimiter), 1, size)

    def _header(self, first: str) -> bool:
        """Read the header line: names and delimiter; False (and errors) if it is unusable."""
        if len(first) > MAX_HEADER_CHARS:
            message = f"the header row is longer than {MAX_HEADER_CHARS:,} characters"
            hint = "the first line must name the columns: is this a contact list?"
            self.errors.append(_error(self.path, 1, None, message, hint))
            return False
        if not first.strip():
            self.errors.append(_error(self.path, 1, None, "empty file: a header row is needed"))
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
                    _row_error(
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
                self.errors.append(_error(self.path, 1, col, "empty column name in the header"))
            elif name in seen:
                self.errors.append(_error(self.path, 1, col, f"duplicate column '{name}'"))
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


def _csv_error(path: str, line: int, exc: csv.Error) -> Diagnostic:
    if "field larger than field limit" in str(exc):
        return _error(
            path,
            line,
            None,
            f"a cell is longer than {csv.field_size_limit():,} characters",
            "contact fields are short: is a quote left open on this line or above it?",
        )
    return _error(path, line, None, f"unreadable CSV: {exc}")


def _not_text(file: Path, path: str) -> Diagnostic | None:
    """A UTF-16 file, or the first control character (a NUL byte...) of a file that is not
    text: one pass over the raw bytes, in chunks, before any parsing."""
    with file.open("rb") as handle:
        if handle.read(2) in (b"\xff\xfe", b"\xfe\xff"):
            return _error(
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
            return _error(path, line, col, message, hint)
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
        return _error(
            path,
            line,
            col,
            f"not UTF-8 text (byte 0x{raw[at]:02x})",
            "save the file as UTF-8 (in Excel: 'CSV UTF-8')",
        )
    return _error(path, None, None, "not UTF-8 text")


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
        errors.append(_row_error(path, line, None, "a contact must be a mapping of field: value"))
        return None
    fields: dict[str, str] = {}
    ok = True
    for name, value in item.items():
        col = cols.get(str(name))
        # JSON escapes (\u0000, \ud800) can carry what no text file holds, in names too.
        unfit = unfit_character(str(name))
        if not str(name).strip() or unfit is not None:
            problem = f": {unfit[0]}" if unfit else ""
            errors.append(_row_error(path, line, col, f"bad field name {str(name)!r}{problem}"))
            ok = False
            continue
        if (
            name in _IDENTITY_FIELDS
            and isinstance(value, int | float)
            and not isinstance(value, bool)
        ):
            errors.append(
                _row_error(
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
            errors.append(
                _row_error(path, line, col, f"{name} must be a single value, not a {exc}")
            )
            ok = False
            continue
        if text is not None:
            if len(text) > MAX_FIELD_CHARS:
                message = f"{name} is longer than {MAX_FIELD_CHARS:,} characters"
                errors.append(_row_error(path, line, col, message, "contact fields are short"))
                ok = False
                continue
            unfit = unfit_character(text)
            if unfit is not None:
                errors.append(_row_error(path, line, col, f"{name}: {unfit[0]}", unfit[1]))
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
        errors.append(_error(path, 1, 1, "a contact file holds a list of contacts"))
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
            errors.append(_error(path, line_at(index), None, message))
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
        errors.append(_error(path, exc.lineno, exc.colno, f"invalid JSON: {exc.msg}"))
    except RecursionError:
        message = "invalid JSON: nesting too deep for a contact"
        errors.append(_error(path, line_at(start), None, message))


def json_source(file: Path, path: str) -> ItemsSource:
    try:
        text = file.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return ItemsSource(path, [], [_error(path, None, None, "contact file not found")])
    except UnicodeDecodeError:
        return ItemsSource(path, [], [_not_utf8(file, path)])
    except OSError as exc:
        return ItemsSource(path, [], [_error(path, None, None, f"cannot read: {exc.strerror}")])
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


# --- normalization -------------------------------------------------------------------------


class FieldError(Exception):
    def __init__(self, name: str, error: InvalidRecipient) -> None:
        super().__init__(str(error))
        self.name = name
        self.hint = error.hint


def identity_field(channel: str) -> str:
    if channel in PHONE_CHANNELS:
        return "phone_number"
    return channels.get(channel).identity_field


def identify(fields: dict[str, str], channel: str, region: str) -> tuple[str, dict[str, str]]:
    """The contact's identity key and its fields with the identity normalized."""
    name = ""
    try:
        if channel in PHONE_CHANNELS:
            name = "phone_number"
            fields["phone_number"] = key = normalize_phone(fields[name], region, channel)
            return key, fields
        if channels.get(channel).identity_field == EMAIL_FIELD:
            name = EMAIL_FIELD
            fields[EMAIL_FIELD] = key = normalize_email(fields[name])
            return key, fields
        # live chat: a conversation id, else the phone number or e-mail it falls back to
        keys = []
        for name, normalize in (
            ("conversation_id", normalize_conversation_id),
            ("phone_number", lambda raw: normalize_phone(raw, region, channel)),
            (EMAIL_FIELD, normalize_email),
        ):
            if name in fields:
                fields[name] = normalize(fields[name])
                keys.append(fields[name])
        if not keys:
            raise KeyError(name)
        return keys[0], fields
    except InvalidRecipient as exc:
        raise FieldError(name, exc) from None


def _missing(channel: str) -> str:
    if channels.get(channel).several_identities:
        return "contact has no conversation_id, phone_number or email"
    return f"contact has no {identity_field(channel)} (needed for channel {channel})"


@dataclass
class ContactSet:
    contacts: list[Contact]
    duplicates: int = 0
    excluded: int = 0
    errors: list[Diagnostic] = field(default_factory=list)
    warnings: list[Diagnostic] = field(default_factory=list)  # rows skipped (on_invalid)


class Chunk(NamedTuple):
    """Contacts of one source to send to: their keys, their columns (the identity column
    normalized) and their lines, all aligned."""

    source: ContactSource
    keys: list[str]
    columns: list[list[str]]
    lines: list[int]

    def cells(self, index: int) -> list[str]:
        return [column[index] for column in self.columns]


def _select(columns: list[list[str]], keep: list[int]) -> list[list[str]]:
    return [[column[i] for i in keep] for column in columns]


def _identify(
    source: ContactSource,
    columns: list[list[str]],
    lines: list[int],
    channel: str,
    region: str,
    required: bool,
) -> tuple[list[str], list[list[str]], list[int]]:
    """Keys of a chunk's rows, identity cells normalized in place; rows without a valid
    identity are dropped (an error each, or silently when the identity is not `required`)."""
    names = source.names
    if channels.get(channel).several_identities:
        return _identify_live_chat(source, columns, lines, channel, region, required)
    name = identity_field(channel)
    if name not in names:
        if required:
            _no_identity_column(source, channel, lines)
        return [], [[] for _ in names], []
    index = names.index(name)
    raws = columns[index]
    if name == "phone_number":
        found = normalize_phones(raws, region, channel)
    else:
        found = [None] * len(raws)
    keep: list[int] = []
    for i, key in enumerate(found):
        if key is not None:
            keep.append(i)
            continue
        raw, line = raws[i], lines[i]
        if not raw:
            if required:
                source.errors.append(_row_error(source.path, line, None, _missing(channel)))
            continue
        try:
            found[i] = (
                normalize_phone(raw, region, channel)
                if name == "phone_number"
                else normalize_email(raw)
            )
        except InvalidRecipient as exc:
            col = source.column(line, name)
            source.errors.append(_row_error(source.path, line, col, str(exc), exc.hint))
            continue
        keep.append(i)
    keys = [key for key in found if key is not None]
    if len(keep) != len(raws):
        columns, lines = _select(columns, keep), [lines[i] for i in keep]
    columns[index] = keys
    return keys, columns, lines


_IDENTITY_WORDS = {
    "phone_number": (
        "phone",
        "phones",
        "mobile",
        "mobile_number",
        "tel",
        "telephone",
        "portable",
        "numero",
        "number",
        "msisdn",
        "cell",
        "gsm",
        "phone_no",
        "phonenumber",
    ),
    EMAIL_FIELD: ("mail", "e-mail", "email_address", "courriel", "e_mail", "emails"),
    "conversation_id": ("conversation", "conversation_uuid", "chat_id"),
}


def _no_identity_column(source: ContactSource, channel: str, lines: list[int]) -> None:
    """One error for the whole list, on its header (not one per row), naming the column
    that was probably meant."""
    from octoplan.suggest import closest

    wanted = (
        list(channels.get(channel).identity)
        if channels.get(channel).several_identities
        else [identity_field(channel)]
    )
    csv_file = isinstance(source, CsvSource)
    meant = next(
        (
            (column, field)
            for field in wanted
            for column in source.names
            if column.lower() in _IDENTITY_WORDS[field]
            or closest(column.lower(), [field]) is not None
        ),
        None,
    )
    what = "column" if csv_file else "field"
    needed = " or ".join(wanted)
    line = 1 if csv_file else (lines[0] if lines else 1)
    col = source.column(line, meant[0]) if meant else None
    hint = f"rename the {what} '{meant[0]}' to {meant[1]}" if meant else None
    if hint is None:
        present = ", ".join(source.names) or "none"
        hint = f"the {what}s are: {present}"
    if csv_file:
        message = f"the header has no {needed} column (needed for channel {channel})"
    else:
        message = f"no contact in this file has {needed} (needed for channel {channel})"
    error = _error(source.path, line, col, message, hint)
    if error not in source.errors:  # the list is read a chunk at a time
        source.errors.append(error)


def _identify_live_chat(
    source: ContactSource,
    columns: list[list[str]],
    lines: list[int],
    channel: str,
    region: str,
    required: bool,
) -> tuple[list[str], list[list[str]], list[int]]:
    names = source.names
    keys: list[str] = []
    rows: list[list[str]] = []
    kept_lines: list[int] = []
    for index, line in enumerate(lines):
        fields = {
            name: column[index]
            for name, column in zip(names, columns, strict=True)
            if column[index]
        }
        try:
            key, fields = identify(fields, channel, region)
        except FieldError as exc:
            col = source.column(line, exc.name)
            source.errors.append(_row_error(source.path, line, col, str(exc), exc.hint))
            continue
        except KeyError:
            if required:
                if not set(IDENTITY_FIELDS) & set(names):
                    _no_identity_column(source, channel, lines)
                    break
                source.errors.append(_row_error(source.path, line, None, _missing(channel)))
            continue
        keys.append(key)
        rows.append([fields.get(name, "") for name in names])
        kept_lines.append(line)
    return (
        keys,
        [list(column) for column in zip(*rows, strict=True)] or [[] for _ in names],
        kept_lines,
    )


def capped(errors: list[Diagnostic]) -> list[Diagnostic]:
    """A source's errors in line order (an items source checks shapes before identities),
    at most MAX_ERRORS_PER_SOURCE of them."""
    # (Each part of a list read on several cores reports a header problem: once is enough.)
    errors = sorted(dict.fromkeys(errors), key=lambda d: d.line or 0)
    if len(errors) <= MAX_ERRORS_PER_SOURCE:
        return errors
    more = len(errors) - MAX_ERRORS_PER_SOURCE
    last = errors[MAX_ERRORS_PER_SOURCE - 1]
    summary = Diagnostic(
        last.path, None, None, f"{more:,} more errors in this file not shown", count=more
    )
    return [*errors[:MAX_ERRORS_PER_SOURCE], summary]


def skipped(errors: list[Diagnostic], who: str) -> tuple[list[Diagnostic], Diagnostic | None]:
    """`on_invalid: skip`: a source's errors but those about single rows (which were left out),
    and one warning counting those rows, at the first of them."""
    rows = sorted(dict.fromkeys(e for e in errors if isinstance(e, RowError)), key=_line_of)
    kept = [e for e in errors if not isinstance(e, RowError)]
    if not rows:
        return kept, None
    first = rows[0]
    lines = ", ".join(str(e.line) for e in rows[:10]) + (", ..." if len(rows) > 10 else "")
    warning = Diagnostic(
        first.path,
        first.line,
        first.col,
        f"{who}: {plural(len(rows), 'invalid contact')} skipped (on_invalid: skip), "
        f"e.g. {first.message}",
        f"lines {lines}" if len(rows) > 1 else None,
        "warning",
    )
    return kept, warning


def _line_of(diagnostic: Diagnostic) -> int:
    return diagnostic.line or 0


def _keys(source: ContactSource, channel: str, region: str) -> Iterator[str]:
    for columns, lines in source.chunks():
        yield from _identify(source, columns, lines, channel, region, False)[0]


def identified(
    source: ContactSource, channel: str, region: str, required: bool = True
) -> Iterator[tuple[list[str], list[list[str]], list[int]]]:
    """(keys, columns, lines) of each chunk of `source`, rows without a valid identity
    dropped (see _identify)."""
    for columns, lines in source.chunks():
        keys, columns, lines = _identify(source, columns, lines, channel, region, required)
        if keys:
            yield keys, columns, lines


class Deduper:
    """Keeps the first occurrence of each key and drops excluded ones, counting both in
    `result`; `keep(keys)` is the positions of `keys` to send to, in order, or None for all."""

    def __init__(self, excluded: set[str], result: ContactSet) -> None:
        self.excluded = excluded
        self.result = result
        self.seen: set[str] = set()

    def keep(self, keys: list[str]) -> list[int] | None:
        seen, excluded, result = self.seen, self.excluded, self.result
        unique = set(keys)
        if len(unique) == len(keys) and seen.isdisjoint(unique):
            seen.update(unique)
            if not excluded or excluded.isdisjoint(unique):
                return None
            keep = [i for i, key in enumerate(keys) if key not in excluded]
            result.excluded += len(keys) - len(keep)
            return keep
        keep = []
        for i, key in enumerate(keys):
            if key in seen:
                result.duplicates += 1
            elif key in excluded:
                seen.add(key)
                result.excluded += 1
            else:
                seen.add(key)
                keep.append(i)
        return keep


def excluded_keys(
    exclude: Iterable[ContactSource], channel: str, region: str, result: ContactSet
) -> set[str]:
    """Keys of the exclude lists. Rows of an exclude list without the identity field are
    skipped (an opt-out list may hold e-mails and numbers together), but an invalid value there
    is an error: a typo in an opt-out list would otherwise send to someone who asked not to be
    contacted."""
    excluded: set[str] = set()
    for source in exclude:
        excluded.update(_keys(source, channel, region))
        result.errors.extend(capped(source.errors))
    return excluded


def kept(
    source: ContactSource,
    keys: list[str],
    columns: list[list[str]],
    lines: list[int],
    keep: list[int] | None,
) -> Chunk | None:
    if keep is None:
        return Chunk(source, keys, columns, lines)
    if not keep:
        return None
    return Chunk(source, [keys[i] for i in keep], _select(columns, keep), [lines[i] for i in keep])


def stream_chunks(
    sources: Iterable[ContactSource],
    exclude: Iterable[ContactSource],
    channel: str,
    region: str,
    result: ContactSet,
) -> Iterator[Chunk]:
    """Every contact to send to, in source order, a chunk of rows at a time.

    Duplicates and excluded keys are counted in `result`, and each source's errors added to
    `result.errors` once the source is read.
    """
    deduper = Deduper(excluded_keys(exclude, channel, region, result), result)
    for source in sources:
        for keys, columns, lines in identified(source, channel, region):
            chunk = kept(source, keys, columns, lines, deduper.keep(keys))
            if chunk is not None:
                yield chunk
        result.errors.extend(capped(source.errors))


def stream(
    sources: Iterable[ContactSource],
    exclude: Iterable[ContactSource],
    channel: str,
    region: str,
    result: ContactSet,
) -> Iterator[tuple[ContactSource, str, list[str], int]]:
    """`stream_chunks`, a contact at a time: (source, key, cells, line)."""
    for chunk in stream_chunks(sources, exclude, channel, region, result):
        for index, key in enumerate(chunk.keys):
            yield chunk.source, key, chunk.cells(index), chunk.lines[index]


def collect(
    sources: Iterable[ContactSource],
    exclude: Iterable[ContactSource],
    channel: str,
    region: str,
) -> ContactSet:
    """`stream`, as `Contact`s whose fields are a dict of the contact's non-empty values."""
    result = ContactSet([])
    for source, key, cells, line in stream(sources, exclude, channel, region, result):
        fields = {name: cell for name, cell in zip(source.names, cells, strict=True) if cell}
        result.contacts.append(Contact(key, fields, source.path, line))
    return result
