"""A campaign's desired messages, held as columns.

A plan over a million contacts holds a million messages; as columns of shared strings and small
tuples they take a fraction of the memory of a million objects, and the planner and the checks
work on whole columns at C speed (`map`, `zip`, `join`) instead of a Python loop per message.

A recipient's API fields are a `names` tuple (shared by a whole group) and a `record`: the
values joined by US (0x1F). Contact values never hold control characters (contacts.py refuses
them), so the join is unambiguous, and a batch's recipients hash and travel between processes
as one string.
"""

from __future__ import annotations

import operator
from array import array
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import compress
from operator import itemgetter
from typing import Generic, NamedTuple, TypeVar

from octoplan.ids import content_hash
from octoplan.placeholders import apply_placeholders
from octoplan.sms import auto_optimize

FIELD, RECORD = "\x1f", "\x1e"  # ASCII unit and record separators
T = TypeVar("T")
N = TypeVar("N", int, float)
H = TypeVar("H", bound=Hashable)

_SORTED_FROM = 4096  # messages: below that, sorting them costs more than the planner saves

# The numeric columns are C arrays: 4 or 8 bytes a message instead of a list's pointer to an int
# or float object (32 + 8 bytes for an order). An order is a row number among all the contacts
# read, far below 2**31 (a list that long would not fit in memory); SMS parts stay below it too.
ORDER, SEGMENTS, COSTS = "i", "i", "d"

# A recipient's standing in state (`sent_flags`).
NOT_SENT, SENT, CHANGED = 0, 1, 2


class Recipient(Mapping[str, str]):
    """A recipient object as the API gets it: a read-only mapping over names and values."""

    __slots__ = ("_names", "_values")

    def __init__(self, names: tuple[str, ...], values: Sequence[str]) -> None:
        self._names = names
        self._values = values

    @classmethod
    def of(cls, names: tuple[str, ...], record: str) -> Recipient:
        return cls(names, record.split(FIELD))

    def __getitem__(self, name: str) -> str:
        try:
            return self._values[self._names.index(name)]
        except ValueError:
            raise KeyError(name) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def __repr__(self) -> str:
        return repr(dict(zip(self._names, self._values, strict=True)))


class Shared(Generic[H]):
    """A column of a few distinct values, each shared by whole groups of messages (the names of
    a recipient's fields, the encodings): a row is a one-byte code among them instead of a
    list's 8-byte pointer."""

    __slots__ = ("_where", "codes", "values")

    def __init__(self, column: Iterable[H] = (), codes: array[int] | None = None) -> None:
        """The values of `column`; or, with `codes`, `column` is the distinct values and
        `codes` each row's index among them (as `pack` sends them)."""
        self.values: list[H] = []
        self._where: dict[H, int] = {}
        self.codes: array[int] = array("B")
        if codes is None:
            self.extend(column)
        else:
            self.values = list(column)
            self._where = {value: index for index, value in enumerate(self.values)}
            self.codes = codes

    def _code(self, value: H) -> int:
        code = self._where.get(value)
        if code is None:
            code = self._where[value] = len(self.values)
            self.values.append(value)
            if code > 255 and self.codes.typecode == "B":
                self.codes = array("I", self.codes)
        return code

    def append(self, value: H) -> None:
        code = self._code(value)  # first: a new value may widen `codes` to a new array
        self.codes.append(code)

    def extend(self, column: Iterable[H]) -> None:
        if isinstance(column, Shared):
            codes: Iterable[int] = column.codes
            remap = [self._code(value) for value in column.values]
            if remap != list(range(len(remap))) or column.codes.typecode != self.codes.typecode:
                codes = map(remap.__getitem__, column.codes)
            self.codes.extend(codes)
            return
        values = column if isinstance(column, list) else list(column)
        if not values:
            return
        if values.count(values[0]) == len(values):  # one value (identity is checked first)
            code = self._code(values[0])  # first: a new value may widen `codes`
            self.codes.extend(array(self.codes.typecode, [code]) * len(values))
            return
        for value in dict.fromkeys(values):
            self._code(value)
        self.codes.extend(map(self._where.__getitem__, values))

    def gathered(self, take: Callable[[Sequence[int]], Sequence[int]]) -> list[H]:
        """The values at the rows `take` (a `gather`) picks, at C speed."""
        return list(map(self.values.__getitem__, take(self.codes)))

    def reordered(self, take: Callable[[Sequence[int]], Sequence[int]]) -> Shared[H]:
        return Shared(self.values, array(self.codes.typecode, take(self.codes)))

    def count(self, value: H) -> int:
        code = self._where.get(value)
        return 0 if code is None else self.codes.count(code)

    def __getitem__(self, index: int) -> H:
        return self.values[self.codes[index]]

    def __len__(self) -> int:
        return len(self.codes)

    def __iter__(self) -> Iterator[H]:
        return map(self.values.__getitem__, self.codes)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Shared | list):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable, like a list

    def __repr__(self) -> str:
        return f"Shared({list(self)!r})"


def gather(indexes: Sequence[int]) -> Callable[[Sequence[T]], Sequence[T]]:
    """column -> its values at `indexes`, in that order (a gather at C speed)."""
    if len(indexes) == 1:
        (only,) = indexes
        return lambda column: (column[only],)
    return itemgetter(*indexes)


def sent_flags(
    keys: Sequence[str],
    sent: Mapping[str, str],
    hashes: Callable[[list[int]], Iterable[str]],
) -> bytearray:
    """Each recipient's standing in state: NOT_SENT, SENT (this very text) or CHANGED (sent
    another text, which is never sent again). `sent`: recipient key -> the content hash state
    holds for it; `hashes(indexes)`: the content hashes of those messages, asked only for the
    recipients state has sent. Whole columns at once, at C speed but for the changed ones."""
    if not sent:
        return bytearray(len(keys))
    stored = list(map(sent.get, keys))
    flags = bytearray(map(bool, stored))
    known = list(compress(range(len(keys)), stored))
    if known:
        differs = map(operator.ne, map(stored.__getitem__, known), hashes(known))
        for index in compress(known, differs):
            flags[index] = CHANGED
    return flags


def record_of(values: Sequence[str]) -> str:
    """The record of one recipient's values (ValueError if a value holds a separator)."""
    if any(FIELD in value or RECORD in value for value in values):
        raise ValueError("a recipient value holds a control character")
    return FIELD.join(values)


class DesiredMessage(NamedTuple):
    key: str  # recipient identity in state
    fields: Mapping[str, str]  # the recipient object as the API gets it
    text: str  # exactly what the recipient will see
    request_text: str  # the text put in the request (may hold {first_name}-style slots)
    segments: int
    encoding: str
    cost: float


class Packed(NamedTuple):
    """Messages as a few long strings and arrays: what pickle sends between processes fast
    (it would memoize millions of small objects one by one)."""

    keys: str
    names: tuple[list[tuple[str, ...]], array[int]]
    records: str
    texts: str | list[str]
    request_texts: tuple[list[str], array[int]]
    segments: array[int]  # (the columns' own arrays: no copy)
    encodings: tuple[list[str], array[int]]
    costs: array[float]
    order: array[int]
    hashes: str
    sent: bytearray
    keep_texts: bool
    keyed_records: bool


def _indexed(column: list[T]) -> tuple[list[T], array[int]]:
    """Distinct values (a few: shared by groups) and each row's index among them."""
    distinct = list(dict.fromkeys(column))
    where = {value: index for index, value in enumerate(distinct)}
    return distinct, array("q", map(where.__getitem__, column))


def _expanded(indexed: tuple[list[T], array[int]]) -> list[T]:
    distinct, indexes = indexed
    return list(map(distinct.__getitem__, indexes))


def _split(joined: str, count: int) -> list[str]:
    return joined.split(RECORD) if count else []


@dataclass
class Messages:
    """Messages as aligned columns; `names[i]` and `record(i)` are recipient i's API fields."""

    keys: list[str] = field(default_factory=list)
    names: Shared[tuple[str, ...]] = field(default_factory=Shared)
    # Each recipient's record after its key ("" or FIELD and the other values), while
    # `keyed_records`: a record starts with the key, which `keys` holds already (some 16
    # bytes a message); whole records once one does not (several identity fields).
    records: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)  # empty unless `keep_texts`
    request_texts: list[str] = field(default_factory=list)
    segments: array[int] = field(default_factory=lambda: array(SEGMENTS))
    encodings: Shared[str] = field(default_factory=Shared)
    costs: array[float] = field(default_factory=lambda: array(COSTS))
    # Each contact's place in the contact lists.
    order: array[int] = field(default_factory=lambda: array(ORDER))
    # The content hash of each text (ids.py) when the messages were built without knowing the
    # state (apply builds them before it locks the state); else empty: `hash(i)` computes one.
    hashes: list[str] = field(default_factory=list)
    # Each recipient's standing in state (`sent_flags`) when they were built against it (a
    # plan); else empty.
    sent: bytearray = field(default_factory=bytearray)
    options: bytes = b""  # the campaign's options digest, for `hash(i)`
    # A plan keeps no texts (a million of them): `text(i)` gives one back from its request
    # text and fields, as the API would deliver it (personalized? auto-optimized?).
    keep_texts: bool = True
    personalized: bool = True
    optimized: bool = True
    keyed_records: bool = True

    def __len__(self) -> int:
        return len(self.keys)

    def append(
        self, message: DesiredMessage, order: int, content_hash: str | None, sent: int | None
    ) -> None:
        fields = message.fields
        self.keys.append(message.key)
        self.names.append(tuple(fields))
        record, key = record_of(list(fields.values())), message.key
        if self.keyed_records and record[: len(key) + 1] in (key, key + FIELD):
            record = record[len(key) :]
        else:
            self._whole_records()
        self.records.append(record)
        if self.keep_texts:
            self.texts.append(message.text)
        if content_hash is not None:
            self.hashes.append(content_hash)
        if sent is not None:
            self.sent.append(sent)
        self.request_texts.append(message.request_text)
        self.segments.append(message.segments)
        self.encodings.append(message.encoding)
        self.costs.append(message.cost)
        self.order.append(order)

    def _whole_records(self) -> None:
        if self.keyed_records:
            self.records = list(map(operator.add, self.keys, self.records))
            self.keyed_records = False

    def extend(self, other: Messages) -> None:
        if not other.keyed_records:
            self._whole_records()
        self.keys.extend(other.keys)
        self.names.extend(other.names)
        self.records.extend(
            map(operator.add, other.keys, other.records)
            if self.keyed_records != other.keyed_records
            else other.records
        )
        self.texts.extend(other.texts)
        self.request_texts.extend(other.request_texts)
        self.segments.extend(other.segments)
        self.encodings.extend(other.encodings)
        self.costs.extend(other.costs)
        self.order.extend(other.order)
        self.hashes.extend(other.hashes)
        self.sent.extend(other.sent)

    def in_key_order(self) -> Messages:
        """These messages by recipient key when they are many and far from that order (a big
        list in random order; a sorted list is left as it is). The planner orders a plan's
        recipients by key: it then merges a few sorted runs instead of sorting a million
        keys, and reads each request's recipients from a few places in its columns instead
        of from all over them. Cheap here: a bucket of a chunk fits in the CPU's caches."""
        keys = self.keys
        if len(keys) < _SORTED_FROM or sum(map(operator.gt, keys, keys[1:])) * 64 < len(keys):
            return self
        take = itemgetter(*sorted(range(len(keys)), key=keys.__getitem__))

        def taken(column: list[T]) -> list[T]:
            if not column or column.count(column[0]) == len(column):  # one shared value
                return column
            return list(take(column))

        def taken_array(column: array[N]) -> array[N]:
            if not column or column.count(column[0]) == len(column):
                return column
            return array(column.typecode, take(column))

        return replace(
            self,
            keys=taken(keys),
            names=self.names.reordered(take),
            records=taken(self.records),
            texts=taken(self.texts),
            request_texts=taken(self.request_texts),
            segments=taken_array(self.segments),
            encodings=self.encodings.reordered(take),
            costs=taken_array(self.costs),
            order=taken_array(self.order),
            hashes=taken(self.hashes),
            sent=bytearray(take(self.sent)) if self.sent else self.sent,
        )

    def pack(self, *, keys: bool = True) -> Packed:
        """`keys`: False leaves the keys out, for a receiver that has them (`unpack`)."""
        texts: str | list[str] = RECORD.join(self.texts)
        if texts.count(RECORD) != max(len(self.texts) - 1, 0):
            texts = self.texts  # a template may write a control character itself
        return Packed(
            keys="\n".join(self.keys) if keys else "",  # E.164 numbers, e-mails or UUIDs
            names=(self.names.values, self.names.codes),
            records=RECORD.join(self.records),
            texts=texts,
            request_texts=_indexed(self.request_texts),
            segments=self.segments,
            encodings=(self.encodings.values, self.encodings.codes),
            costs=self.costs,
            order=self.order,
            hashes="\n".join(self.hashes),
            sent=self.sent,
            keep_texts=self.keep_texts,
            keyed_records=self.keyed_records,
        )

    @classmethod
    def unpack(cls, packed: Packed, keys_by_order: list[str] | None = None) -> Messages:
        """`keys_by_order`: the keys of the builder's contacts by their order, when the packed
        messages were sent without theirs (shards.py: the keys, the receiver's own objects)."""
        if keys_by_order is not None:
            keys = list(map(keys_by_order.__getitem__, packed.order))
        else:
            keys = packed.keys.split("\n") if packed.keys else []
        texts = packed.texts
        return cls(
            keys=keys,
            names=Shared(*packed.names),
            records=_split(packed.records, len(keys)),
            texts=(texts.split(RECORD) if packed.keep_texts else [])
            if isinstance(texts, str)
            else texts,
            keep_texts=packed.keep_texts,
            request_texts=_expanded(packed.request_texts),
            segments=packed.segments,
            encodings=Shared(*packed.encodings),
            costs=packed.costs,
            order=packed.order,
            hashes=packed.hashes.split("\n") if packed.hashes else [],
            sent=packed.sent,
            keyed_records=packed.keyed_records,
        )

    def record(self, index: int) -> str:
        if self.keyed_records:
            return self.keys[index] + self.records[index]
        return self.records[index]

    def records_at(self, take: Callable[[Sequence[str]], Sequence[str]]) -> list[str]:
        """The records of the rows `take` (a `gather`) picks, at C speed."""
        if self.keyed_records:
            return list(map(operator.add, take(self.keys), take(self.records)))
        return list(take(self.records))

    def fields(self, index: int) -> Recipient:
        return Recipient.of(self.names[index], self.record(index))

    def hash(self, index: int) -> str:
        if self.hashes:
            return self.hashes[index]
        return content_hash(self.options, self.text(index))

    def text(self, index: int) -> str:
        """What recipient `index` receives."""
        if self.keep_texts:
            return self.texts[index]
        text = self.request_texts[index]
        if self.personalized:
            text = apply_placeholders(text, self.fields(index))
        return auto_optimize(text) if self.optimized else text

    def message(self, index: int) -> DesiredMessage:
        return DesiredMessage(
            self.keys[index],
            self.fields(index),
            self.text(index),
            self.request_texts[index],
            self.segments[index],
            self.encodings[index],
            self.costs[index],
        )

    def __iter__(self) -> Iterator[DesiredMessage]:
        return (self.message(i) for i in range(len(self.keys)))
