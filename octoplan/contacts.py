"""Contacts: normalize, deduplicate, exclude the rows of contact sources.

The sources (CSV, YAML, JSON files and inline lists) are read by octoplan/contactfiles.py:
rows of cells aligned with the source's column names, row errors in `source.errors`.

`stream` turns sources into rows keyed by their identity (E.164 number, lower-cased e-mail, or
conversation id), the identity cell normalized in place: the first occurrence of a key wins and
later ones are counted as duplicates; keys found in the `exclude` sources are dropped and
counted. `collect` is the same as a list of `Contact`s with dict fields.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import NamedTuple, cast

from octoplan import channels
from octoplan.channels import EMAIL_FIELD, IDENTITY_FIELDS
from octoplan.contactfiles import (
    MAX_ERRORS_PER_SOURCE,
    ContactSource,
    CsvSource,
    RowError,
    file_error,
    row_error,
)
from octoplan.errors import Diagnostic
from octoplan.phones import (
    PHONE_CHANNELS,
    InvalidRecipient,
    normalize_conversation_id,
    normalize_email,
    normalize_phone,
    normalize_phones,
)
from octoplan.words import plural


class Contact(NamedTuple):
    key: str
    fields: dict[str, str]  # identity fields normalized, other fields as written
    path: str
    line: int


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
    if None not in found:  # the usual chunk: every row identified by the column pass
        columns[index] = cast(list[str], found)
        return cast(list[str], found), columns, lines
    for i in [i for i, key in enumerate(found) if key is None]:
        raw, line = raws[i], lines[i]
        if not raw:
            if required:
                source.errors.append(row_error(source.path, line, None, _missing(channel)))
            continue
        try:
            found[i] = (
                normalize_phone(raw, region, channel)
                if name == "phone_number"
                else normalize_email(raw)
            )
        except InvalidRecipient as exc:
            col = source.column(line, name)
            source.errors.append(row_error(source.path, line, col, str(exc), exc.hint))
    keep = [i for i, key in enumerate(found) if key is not None]
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
    error = file_error(source.path, line, col, message, hint)
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
            source.errors.append(row_error(source.path, line, col, str(exc), exc.hint))
            continue
        except KeyError:
            if required:
                if not set(IDENTITY_FIELDS) & set(names):
                    _no_identity_column(source, channel, lines)
                    break
                source.errors.append(row_error(source.path, line, None, _missing(channel)))
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
