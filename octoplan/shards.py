"""One big CSV contact list read on two cores.

A plan spends nearly all its time per contact: parsing the row, checking the number, merging
the text, the policies. For a big CSV file (several megabytes) the file is cut in two at a line
break outside quotes; a forked child process takes the second half while this process takes
the first, in two steps so that the result is exactly that of reading the file in one go:

1. both read and identify their half (parse, normalize numbers: `contacts.identified`); the
   child sends its keys here, a string per chunk;
2. here, the keys of both halves go through one `Deduper`, first half first (while the
   child's are on their way): the first occurrence of a number wins across the halves as in
   one file. The child gets, per chunk, which rows to keep;
3. both build the messages of their kept rows; the child sends its messages a chunk at a time
   (read here between the chunks built here), then its policy counters and render errors,
   which are added after the first half's.

Merged groups are compiled on each side (the same skeletons: they depend only on the template
and the group's values). If the child fails in any way, this process reads the second half
itself, so a plan never depends on the child. `OCTOPLAN_JOBS=1` turns it off; the threshold is
`OCTOPLAN_SHARD_BYTES` (for tests).
"""

from __future__ import annotations

import contextlib
import os
import pickle
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from octoplan.contacts import (
    Chunk,
    ContactSource,
    CsvSource,
    Deduper,
    _not_text,
    identified,
    kept,
)
from octoplan.errors import Diagnostic

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

MIN_BYTES = 8 * 1024 * 1024  # about 100,000 contacts: below that, forking costs more than it saves


class Builder(Protocol):
    """What a shard's messages are built by (desired._Builder)."""

    def add(self, chunk: Chunk) -> None: ...

    def take(self) -> Any: ...

    def open(self, part: Any) -> Any: ...

    def result(self) -> Any: ...

    def absorb(self, parts: list[Any], result: Any) -> None: ...


def jobs() -> int:
    configured = os.environ.get("OCTOPLAN_JOBS")
    if configured and configured.isdigit():
        return int(configured)
    return min(2, os.cpu_count() or 1)


def _min_bytes() -> int:
    configured = os.environ.get("OCTOPLAN_SHARD_BYTES")
    return int(configured) if configured and configured.isdigit() else MIN_BYTES


def split(source: ContactSource) -> tuple[CsvSource, CsvSource] | None:
    """The two halves of a big, clean CSV source; None to read it in one go (small, not CSV,
    not UTF-8, a bad header...: the one-go reader then reports what is wrong)."""
    if not isinstance(source, CsvSource) or source.part is not None or jobs() < 2:
        return None
    try:
        if source.file.stat().st_size < _min_bytes():
            return None
        if _not_text(source.file, source.path) is not None:
            return None
        data = source.file.read_bytes()
        data.decode("utf-8")
        if b"\r" in data and data.count(b"\r") != data.count(b"\r\n"):
            return None  # lone CRs end lines for the CSV reader, not for the byte cut
    except (OSError, UnicodeDecodeError):
        return None
    header = CsvSource(source.file, source.path)
    first_end = data.find(b"\n") + 1
    if not first_end or not header.read_header():
        return None
    middle = _cut(data, max(first_end, len(data) // 2))
    if middle is None or middle >= len(data):
        return None
    start = first_end
    first_line_of_second = data.count(b"\n", 0, middle) + 1
    delimiter, names = header.delimiter, header.names
    return (
        replace(source, errors=[], part=(start, middle, 2), delimiter=delimiter, names=names),
        replace(
            source,
            errors=[],
            part=(middle, len(data), first_line_of_second),
            delimiter=delimiter,
            names=list(names),
        ),
    )


def _cut(data: bytes, around: int) -> int | None:
    """The start of the first line at or after `around` that is not inside a quoted value
    (an even number of quotes before it: CSV escapes a quote by doubling it)."""
    position = data.find(b"\n", around)
    if position >= 0 and data.find(b'"', 0, position) < 0:
        return position + 1  # no quote before it: the common case, without counting
    while position >= 0:
        if data.count(b'"', 0, position) % 2 == 0:
            return position + 1
        position = data.find(b"\n", position + 1)
    return None


def build(
    source: CsvSource,
    halves: tuple[CsvSource, CsvSource],
    deduper: Deduper,
    builder: Builder,
    make_builder: Callable[[], Builder],
    channel: str,
    region: str,
) -> None:
    """Build `source`'s messages into `builder` from its two halves (see the module doc)."""
    first, second = halves
    # Imported here: most lists are read by one process, and `validate` starts faster.
    import multiprocessing
    import tempfile

    context = multiprocessing.get_context("fork")
    here, there = context.Pipe()
    # Parts go through files: a pipe would hold the child until this process reads them.
    spool = tempfile.TemporaryDirectory(prefix="octoplan-shard-")
    child = context.Process(
        target=_child,
        args=(there, second, channel, region, make_builder, Path(spool.name)),
        daemon=True,
    )
    child.start()
    there.close()
    try:
        mine = list(identified(first, channel, region))
        # This half's keys first (they come first; the child's arrive meanwhile).
        keeps = [deduper.keep(keys) for keys, _, _ in mine]
        theirs = _receive(here, "keys")
        their_keeps = None
        if theirs is not None:
            their_keeps = [deduper.keep(_split_keys(keys)) for keys in theirs[0]]
            if not _send(here, their_keeps):
                theirs = None
        # The child sends its messages a chunk at a time: they are read between the chunks
        # built here, so that neither side waits for the other's pickling.
        parts: list[Any] = []
        done: Any = None
        mine.reverse()  # popped from the end: each chunk's columns are freed once built
        keeps.reverse()
        while mine:
            (keys, columns, lines), keep = mine.pop(), keeps.pop()
            chunk = kept(first, keys, columns, lines, keep)
            if chunk is not None:
                builder.add(chunk)
            if theirs is not None and done is None:
                done = _drain(here, parts, builder.open, wait=False)
        if theirs is not None and done is None:
            done = _drain(here, parts, builder.open, wait=True)
        if done is not None and done is not _FAILED:
            result, errors = done
            builder.absorb(parts, result)
            second_errors: list[Diagnostic] = errors
        else:
            second_errors = _build_here(second, deduper, builder, their_keeps, channel, region)
        source.errors.extend([*first.errors, *second_errors])
    finally:
        here.close()
        child.join(timeout=5)
        if child.is_alive():
            child.kill()
        spool.cleanup()


def _build_here(
    half: CsvSource,
    deduper: Deduper,
    builder: Builder,
    keeps: list[list[int] | None] | None,
    channel: str,
    region: str,
) -> list[Diagnostic]:
    """The child failed: read its half here (with the rows it was told to keep, if it was)."""
    half = replace(half, errors=[])
    for index, (keys, columns, lines) in enumerate(identified(half, channel, region)):
        keep = keeps[index] if keeps is not None else deduper.keep(keys)
        chunk = kept(half, keys, columns, lines, keep)
        if chunk is not None:
            builder.add(chunk)
    return half.errors


def _joined_keys(keys: list[str]) -> str:
    # Keys are E.164 numbers, e-mail addresses or conversation ids: never a line break.
    return "\n".join(keys)


def _split_keys(joined: str) -> list[str]:
    return joined.split("\n")


_FAILED = ("failed",)


def _drain(
    connection: Connection, parts: list[Any], open_part: Callable[[Any], Any], *, wait: bool
) -> Any:
    """Read the child's parts, opened, into `parts` (those there are, or until it is done if
    `wait`); (result, errors) once it is done, _FAILED if it failed, None if not done yet."""
    try:
        while wait or connection.poll():
            message = connection.recv()
            if not isinstance(message, tuple):
                return _FAILED
            if message[0] == "part":
                file = Path(message[1])
                with file.open("rb") as handle:
                    parts.append(open_part(pickle.load(handle)))
                file.unlink()
            elif message[0] == "done":
                return message[1:]
            else:
                return _FAILED
    except (EOFError, OSError):
        return _FAILED
    return None


def _receive(connection: Connection, kind: str) -> Any:
    try:
        message = connection.recv()
    except (EOFError, OSError):
        return None
    if not isinstance(message, tuple) or message[0] != kind:
        return None
    return message[1:]


def _send(connection: Connection, value: Any) -> bool:
    try:
        connection.send(value)
    except (BrokenPipeError, OSError):
        return False
    return True


def _child(
    connection: Connection,
    half: CsvSource,
    channel: str,
    region: str,
    make_builder: Callable[[], Builder],
    spool: Path,
) -> None:  # pragma: no cover - runs in the forked child (tests compare its results)
    try:
        chunks = list(identified(half, channel, region))
        # One string a chunk: pickled at the speed of a copy, not key by key.
        connection.send(("keys", [_joined_keys(keys) for keys, _, _ in chunks]))
        keeps = connection.recv()
        builder = make_builder()
        chunks.reverse()  # popped from the end: each chunk's columns are freed once built
        keeps.reverse()
        index = 0
        while chunks:
            (keys, columns, lines), keep = chunks.pop(), keeps.pop()
            index += 1
            chunk = kept(half, keys, columns, lines, keep)
            if chunk is not None:
                builder.add(chunk)
                file = spool / f"part-{index}.pickle"
                with file.open("wb") as handle:
                    pickle.dump(builder.take(), handle, protocol=pickle.HIGHEST_PROTOCOL)
                connection.send(("part", str(file)))
        connection.send(("done", builder.result(), half.errors))
    except BaseException:
        import traceback  # only when the child fails

        with contextlib.suppress(BaseException):
            connection.send(("failed", traceback.format_exc()))
    finally:
        connection.close()
        os._exit(0)  # no atexit, no finalizers: the parent's files and connections are its own
