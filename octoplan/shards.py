"""One big CSV contact list read on all cores.

A plan spends nearly all its time per contact: parsing the row, checking the number, merging
the text, the policies. A big CSV file (several megabytes) is cut into N parts at line breaks
outside quotes, N the number of cores this process may use (at most one part per
`MIN_BYTES // 2`); N - 1 forked children take parts 2..N while this process takes part 1, in
steps such that the result is exactly that of reading the file in one go:

1. all read and identify their part (parse, normalize numbers: `contacts.identified`); each
   child sends its keys here, a string per chunk;
2. here, the keys of all parts go through one `Deduper` in file order (part 1's, then part
   2's...): the first occurrence of a number wins across the parts as in one file. Each child
   gets, per chunk, which rows to keep;
3. all build the messages of their kept rows; the children send their messages a chunk at a
   time (read here between the chunks built here), then their policy counters and render
   errors, which are added in part order, as are the messages.

Merged groups are compiled on each side (the same skeletons: they depend only on the template
and the group's values). If a child fails in any way, this process reads its part itself (in
its place in the order), so a plan never depends on a child. `OCTOPLAN_JOBS` sets N (0 or 1
turn it off; any value that is not a whole number is ignored); the threshold is
`OCTOPLAN_SHARD_BYTES` (for tests). Fewer parts (down to none) when the children's copies
would not fit in the memory available (`_within_memory`; `OCTOPLAN_MEMORY_BYTES` says how much
there is instead of the machine and its container).
"""

from __future__ import annotations

import codecs
import contextlib
import itertools
import os
import pickle
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from octoplan import sysmem
from octoplan.contactfiles import ContactSource, CsvSource, not_text
from octoplan.contacts import Chunk, Deduper, identified, kept
from octoplan.errors import Diagnostic

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.context import ForkContext
    from multiprocessing.process import BaseProcess

MIN_BYTES = 8 * 1024 * 1024  # about 100,000 contacts: below that, forking costs more than it saves
# What a plan holds per contact at its peak, measured with bench/plan_bench.py's campaign
# (issue 20) and rounded up: ~310-390 bytes in one process; a forked child adds ~400 bytes per
# contact of its part (what it read and built, until this process has taken it).
PLAN_BYTES = 400
CHILD_BYTES = 400


class Builder(Protocol):
    """What a shard's messages are built by (fastpath.FastPath)."""

    def add(self, chunk: Chunk) -> None: ...

    def take(self) -> Any: ...

    def open(self, part: Any, keys: list[str]) -> Any: ...

    def result(self) -> Any: ...

    def absorb(self, parts: list[Any], result: Any) -> None: ...


def jobs() -> int:
    """How many processes a big list is read by: `OCTOPLAN_JOBS` if it is a whole number (0
    counts as 1), else the number of cores this process may run on."""
    configured = _whole_number("OCTOPLAN_JOBS")
    return _cores() if configured is None else max(1, configured)


def _whole_number(name: str) -> int | None:
    """The environment variable `name` if it holds a whole number; None otherwise (unset, or
    anything else, which is ignored)."""
    configured = os.environ.get(name, "").strip()
    return int(configured) if configured.isascii() and configured.isdigit() else None


def _cores() -> int:
    # The cores this process may use (a container or `taskset` may allow fewer than the
    # machine has); cpu_count where the platform cannot tell.
    if hasattr(os, "sched_getaffinity"):
        with contextlib.suppress(OSError):
            return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def _within_memory(rows: int, wanted: int) -> int:
    """The most parts (down to 1) whose plan fits in the memory this process may use: a list
    too big for the split's extra copies is read in one process, slower but within memory (a
    CI runner of 4 GiB plans 10 million contacts in one process, not in two)."""
    room = _memory()
    if room is None:
        return wanted
    while wanted >= 2 and rows * (PLAN_BYTES + CHILD_BYTES * (wanted - 1) // wanted) > room:
        wanted -= 1
    return wanted


def _memory() -> int | None:
    configured = _whole_number("OCTOPLAN_MEMORY_BYTES")
    return sysmem.available() if configured is None else configured


def _min_bytes() -> int:
    configured = _whole_number("OCTOPLAN_SHARD_BYTES")
    return MIN_BYTES if configured is None else configured


def split(source: ContactSource) -> list[CsvSource] | None:
    """The parts (two or more, in file order) of a big, clean CSV source; None to read it in
    one go (small, not CSV, not UTF-8, a bad header...: the one-go reader then reports what
    is wrong)."""
    if not isinstance(source, CsvSource) or source.part is not None:
        return None
    wanted = jobs()
    if wanted < 2:
        return None
    try:
        size = source.file.stat().st_size
        threshold = _min_bytes()
        if size < threshold:
            return None
        # Each part at least half the threshold: a file just over it goes in two.
        wanted = min(wanted, size // max(1, threshold // 2))
        if wanted < 2:
            return None
        if not_text(source.file, source.path) is not None:
            return None
        data = source.file.read_bytes()
        _check_utf8(data)
        if b"\r" in data and data.count(b"\r") != data.count(b"\r\n"):
            return None  # lone CRs end lines for the CSV reader, not for the byte cut
    except (OSError, UnicodeDecodeError):
        return None
    wanted = _within_memory(data.count(b"\n"), wanted)
    if wanted < 2:
        return None
    header = CsvSource(source.file, source.path)
    first_end = data.find(b"\n") + 1
    if not first_end or not header.read_header():
        return None
    cuts = [first_end]
    for index in range(1, wanted):
        cut = _cut(data, max(cuts[-1], len(data) * index // wanted))
        if cut is None or cut >= len(data):
            break
        cuts.append(cut)
    if len(cuts) < 2:
        return None
    cuts.append(len(data))
    delimiter, names = header.delimiter, header.names
    parts = []
    line = 2  # the line of the part's first row
    for start, end in itertools.pairwise(cuts):
        part = (start, end, line)
        parts.append(replace(source, errors=[], part=part, delimiter=delimiter, names=list(names)))
        if end < len(data):  # (the last part's lines are not needed: not counted)
            line += data.count(b"\n", start, end)
    return parts


def _check_utf8(data: bytes) -> None:
    """UnicodeDecodeError unless `data` is UTF-8: decoded a slice at a time, so that a file of
    half a gigabyte is not held a second time as text (up to four times its size)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    for start in range(0, len(data), _UTF8_SLICE):
        decoder.decode(data[start : start + _UTF8_SLICE])
    decoder.decode(b"", final=True)


_UTF8_SLICE = 16 * 1024 * 1024


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


_FAILED = ("failed",)


@dataclass
class _Child:
    """A forked child reading one part, as this process sees it."""

    part: CsvSource
    process: BaseProcess
    connection: Connection
    keeps: list[list[int] | None] | None = None  # which of its rows to keep, chunk by chunk
    # The keys of the rows it keeps, in order: its messages come without theirs (a copy of
    # what this process's deduper holds), their keys are read here by their order.
    keys: list[str] = field(default_factory=list)
    failed: bool = False
    parts: list[Any] = field(default_factory=list)  # its messages so far, opened
    done: Any = None  # (result, errors) once it is done, _FAILED if it failed
    # Its part read here (when it failed before sending its keys): (keys, columns, lines)
    here: list[Any] | None = None

    @property
    def waiting(self) -> bool:
        return not self.failed and self.done is None


def build(
    source: CsvSource,
    parts: list[CsvSource],
    deduper: Deduper,
    builder: Builder,
    make_builder: Callable[[], Builder],
    channel: str,
    region: str,
) -> None:
    """Build `source`'s messages into `builder` from its parts (see the module doc)."""
    first = parts[0]
    # Imported here: most lists are read by one process, and `validate` starts faster.
    import multiprocessing
    import tempfile
    from multiprocessing.connection import wait

    context = multiprocessing.get_context("fork")
    # Parts go through files: a pipe would hold a child until this process reads them.
    spool = tempfile.TemporaryDirectory(prefix="octoplan-shard-")
    children: list[_Child] = []
    try:
        _start(children, context, spool.name, parts[1:], channel, region, make_builder)
        # Part 1's keys first, then each child's in part order (theirs arrive meanwhile).
        # Part 1 waits folded meanwhile, as the children's parts do (see _child).
        mine: list[tuple[list[str], _Folded]] = []
        keeps = []
        for keys, columns, lines in identified(first, channel, region):
            keeps.append(deduper.keep(keys))
            mine.append((keys, _fold(columns, lines)))
        _deduplicate(children, deduper, channel, region)
        # The children send their messages a chunk at a time: they are read between the
        # chunks built here, so that no side waits for another's pickling.
        mine.reverse()  # popped from the end: each chunk's columns are freed once built
        keeps.reverse()
        while mine:
            (keys, folded), keep = mine.pop(), keeps.pop()
            columns, lines = _unfold(folded)
            chunk = kept(first, keys, columns, lines, keep)
            if chunk is not None:
                builder.add(chunk)
            for child in children:
                if child.waiting:
                    child.done = _drain(child, builder.open)
        errors = list(first.errors)
        for child in children:
            while child.waiting:
                # Read whichever is ready, not only this one: a child held on its pipe waits.
                ready = wait([c.connection for c in children if c.waiting])
                for other in children:
                    if other.waiting and other.connection in ready:
                        other.done = _drain(other, builder.open)
            if not child.failed and child.done is not _FAILED:
                result, their_errors = child.done
                builder.absorb(child.parts, result)
                errors.extend(their_errors)
            else:
                errors.extend(_build_here(child, builder, channel, region))
            child.parts, child.keys = [], []
        source.errors.extend(errors)
    finally:
        for child in children:
            child.connection.close()
        for child in children:
            child.process.join(timeout=5)
            if child.process.is_alive():
                child.process.kill()
        spool.cleanup()


def _start(
    children: list[_Child],
    context: ForkContext,
    spool: str,
    parts: list[CsvSource],
    channel: str,
    region: str,
    make_builder: Callable[[], Builder],
) -> None:
    """Fork a child per part (parts 2 and after), each appended to `children` once started."""
    for number, part in enumerate(parts, start=2):
        here, there = context.Pipe()
        folder = Path(spool) / str(number)
        folder.mkdir()
        # This process's ends of the pipes, which the child closes: were the parent killed,
        # the child's writes would fail instead of waiting forever for a reader.
        ends = [*(c.connection for c in children), here]
        process = context.Process(
            target=_child,
            args=(there, part, channel, region, make_builder, folder, ends),
            daemon=True,
        )
        children.append(_Child(part, process, here))
        process.start()
        # Closed here before the next fork: a child's death is then an end of file here.
        there.close()


def _deduplicate(children: list[_Child], deduper: Deduper, channel: str, region: str) -> None:
    """Each child's keys, in part order, through the deduper; the rows each is to keep sent
    back. A child that failed before sending its keys has its part read here, now: the parts
    after it are deduplicated after its keys."""
    for child in children:
        theirs = _receive(child.connection, "keys")
        if theirs is not None:
            child.keeps = []
            for joined in theirs[0]:
                keys = _split_keys(joined)
                keep = deduper.keep(keys)
                child.keeps.append(keep)
                child.keys.extend(keys if keep is None else map(keys.__getitem__, keep))
            child.failed = not _send(child.connection, child.keeps)
        else:
            # Read here, now: the parts after it are deduplicated after its keys.
            child.failed = True
            child.part = replace(child.part, errors=[])
            child.here = list(identified(child.part, channel, region))
            child.keeps = [deduper.keep(keys) for keys, _, _ in child.here]


def _build_here(child: _Child, builder: Builder, channel: str, region: str) -> list[Diagnostic]:
    """A child failed: read its part here, with the rows it was told to keep (or that its
    keys, read here, were given)."""
    part, keeps = child.part, child.keeps
    assert keeps is not None  # set for every child before any message is built
    if child.here is None:
        part = replace(part, errors=[])
        chunks: Any = identified(part, channel, region)
    else:
        chunks, child.here = child.here, None
    for index, (keys, columns, lines) in enumerate(chunks):
        chunk = kept(part, keys, columns, lines, keeps[index])
        if chunk is not None:
            builder.add(chunk)
    return part.errors


def _joined_keys(keys: list[str]) -> str:
    # Keys are E.164 numbers, e-mail addresses or conversation ids: never a line break.
    return "\n".join(keys)


def _split_keys(joined: str) -> list[str]:
    return joined.split("\n")


_FOLD = "\x1e"  # ASCII record separator: contact values never hold one (else not folded)
_Folded = tuple[list[str | list[str]], "array[int]"]


def _fold(columns: list[list[str]], lines: list[int]) -> _Folded:
    """A chunk's columns as one string each (a list when a value holds the separator), its
    lines as an array: some 50 bytes a row instead of an object per cell (some 400)."""
    folded: list[str | list[str]] = []
    for column in columns:
        joined = _FOLD.join(column)
        folded.append(joined if joined.count(_FOLD) == len(column) - 1 else column)
    return folded, array("i", lines)


def _unfold(folded: _Folded) -> tuple[list[list[str]], list[int]]:
    columns, lines = folded
    return [c.split(_FOLD) if isinstance(c, str) else c for c in columns], lines.tolist()


def _drain(child: _Child, open_part: Callable[[Any, list[str]], Any]) -> Any:
    """Read the child's parts there are, opened, into `child.parts`; (result, errors) once it
    is done, _FAILED if it failed, None if not done yet."""
    connection, parts = child.connection, child.parts
    try:
        while connection.poll():
            message = connection.recv()
            if not isinstance(message, tuple):
                return _FAILED
            if message[0] == "part":
                file = Path(message[1])
                with file.open("rb") as handle:
                    parts.append(open_part(pickle.load(handle), child.keys))
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
    part: CsvSource,
    channel: str,
    region: str,
    make_builder: Callable[[], Builder],
    spool: Path,
    ends: list[Connection],
) -> None:  # pragma: no cover - runs in the forked child (tests compare its results)
    try:
        for end in ends:
            end.close()
        # The whole part is read before the parent says which rows to keep: it waits folded
        # (`_fold`), a few strings a chunk instead of an object per cell.
        joined: list[str] = []
        chunks: list[_Folded] = []
        for keys, columns, lines in identified(part, channel, region):
            # One string a chunk: pickled at the speed of a copy, not key by key.
            joined.append(_joined_keys(keys))
            chunks.append(_fold(columns, lines))
        connection.send(("keys", joined))
        keeps = connection.recv()
        builder = make_builder()
        chunks.reverse()  # popped from the end: each chunk's columns are freed once built
        keeps.reverse()
        joined.reverse()
        index = 0
        while chunks:
            (columns, lines), keep = _unfold(chunks.pop()), keeps.pop()
            keys = _split_keys(joined.pop())
            index += 1
            chunk = kept(part, keys, columns, lines, keep)
            if chunk is not None:
                builder.add(chunk)
                file = spool / f"part-{index}.pickle"
                with file.open("wb") as handle:
                    pickle.dump(builder.take(), handle, protocol=pickle.HIGHEST_PROTOCOL)
                connection.send(("part", str(file)))
        connection.send(("done", builder.result(), part.errors))
    except BaseException:
        import traceback  # only when the child fails

        with contextlib.suppress(BaseException):
            connection.send(("failed", traceback.format_exc()))
    finally:
        connection.close()
        os._exit(0)  # no atexit, no finalizers: the parent's files and connections are its own
