"""A campaign's desired messages, held as columns.

A plan over a million contacts holds a million messages; as columns of shared strings and small
tuples they take a fraction of the memory of a million objects, and the planner and the checks
work on whole columns at C speed (`map`, `zip`, `join`) instead of a Python loop per message.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple


class Recipient(Mapping[str, str]):
    """A recipient object as the API gets it: a read-only mapping over two tuples (`names` is
    shared by every recipient of a group)."""

    __slots__ = ("_names", "_values")

    def __init__(self, names: tuple[str, ...], values: tuple[str, ...]) -> None:
        self._names = names
        self._values = values

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


class DesiredMessage(NamedTuple):
    key: str  # recipient identity in state
    fields: Mapping[str, str]  # the recipient object as the API gets it
    text: str  # exactly what the recipient will see
    request_text: str  # the text put in the request (may hold {first_name}-style slots)
    segments: int
    encoding: str
    cost: float


@dataclass
class Messages:
    """Messages as aligned columns; `names[i]`/`values[i]` are recipient i's API fields."""

    keys: list[str] = field(default_factory=list)
    names: list[tuple[str, ...]] = field(default_factory=list)
    values: list[tuple[str, ...]] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    request_texts: list[str] = field(default_factory=list)
    segments: list[int] = field(default_factory=list)
    encodings: list[str] = field(default_factory=list)
    costs: list[float] = field(default_factory=list)
    order: list[int] = field(default_factory=list)  # each contact's place in the contact lists

    def __len__(self) -> int:
        return len(self.keys)

    def append(self, message: DesiredMessage, order: int) -> None:
        fields = message.fields
        self.keys.append(message.key)
        self.names.append(tuple(fields))
        self.values.append(tuple(fields.values()))
        self.texts.append(message.text)
        self.request_texts.append(message.request_text)
        self.segments.append(message.segments)
        self.encodings.append(message.encoding)
        self.costs.append(message.cost)
        self.order.append(order)

    def extend(self, other: Messages) -> None:
        self.keys.extend(other.keys)
        self.names.extend(other.names)
        self.values.extend(other.values)
        self.texts.extend(other.texts)
        self.request_texts.extend(other.request_texts)
        self.segments.extend(other.segments)
        self.encodings.extend(other.encodings)
        self.costs.extend(other.costs)
        self.order.extend(other.order)

    def fields(self, index: int) -> Recipient:
        return Recipient(self.names[index], self.values[index])

    def message(self, index: int) -> DesiredMessage:
        return DesiredMessage(
            self.keys[index],
            self.fields(index),
            self.texts[index],
            self.request_texts[index],
            self.segments[index],
            self.encodings[index],
            self.costs[index],
        )

    def __iter__(self) -> Iterator[DesiredMessage]:
        return (self.message(i) for i in range(len(self.keys)))
