"""JSON written a piece at a time, exactly as `json.dumps(value, indent=2, ensure_ascii=False)`
writes it.

A plan of a million recipients lists each of them, masked, in its batches. Built whole, its JSON
held every masked recipient and then the whole text at once (the plan's memory nearly doubled),
and `json.dumps` with an indent runs its pure-Python encoder over every string. Here the pieces
are yielded as they are made: a list of strings (a batch's recipients) is encoded by the C
encoder in one call, and `Masked` recipients are masked only as their list is written.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from typing import Any

INDENT = "  "


class Masked(Sequence[str]):
    """Recipients listed masked, masked when read: equal to the list of masked keys."""

    __slots__ = ("_keys", "_mask")

    def __init__(self, keys: Sequence[str], mask: Callable[[str], str]) -> None:
        self._keys, self._mask = keys, mask

    def __len__(self) -> int:
        return len(self._keys)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return list(map(self._mask, self._keys[index]))
        return self._mask(self._keys[index])

    def __iter__(self) -> Iterator[str]:
        return map(self._mask, self._keys)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Masked):
            other = list(other)
        return isinstance(other, list) and list(self) == other

    __hash__ = None  # type: ignore[assignment]  # equal to a list, so unhashable like one

    def __repr__(self) -> str:
        return f"Masked({len(self)} recipients)"


def chunks(value: Any) -> Iterator[str]:
    """The text of `json.dumps(value, indent=2, ensure_ascii=False)`, in pieces (object keys
    must be strings)."""
    return _encode(value, 0)


def dumps(value: Any) -> str:
    return "".join(chunks(value))


def _encode(value: Any, level: int) -> Iterator[str]:
    if isinstance(value, dict):
        yield from _object(value, level)
    elif isinstance(value, list | tuple | Masked):
        yield from _array(value, level)
    else:
        yield json.dumps(value, ensure_ascii=False)


def _object(value: dict[Any, Any], level: int) -> Iterator[str]:
    if not value:
        yield "{}"
        return
    inner = "\n" + INDENT * (level + 1)
    separator = "{" + inner
    for key, item in value.items():
        yield separator + json.dumps(_key(key), ensure_ascii=False) + ": "
        yield from _encode(item, level + 1)
        separator = "," + inner
    yield "\n" + INDENT * level + "}"


def _array(value: Sequence[Any], level: int) -> Iterator[str]:
    if not value:
        yield "[]"
        return
    inner = "\n" + INDENT * (level + 1)
    items = list(value) if isinstance(value, Masked) else value
    if all(type(item) is str for item in items):
        # One C-encoder call: `[` + items joined by the indented separator + `]`.
        text = json.dumps(items, ensure_ascii=False, separators=("," + inner, ": "))
        yield "[" + inner + text[1:-1] + "\n" + INDENT * level + "]"
        return
    separator = "[" + inner
    for item in items:
        yield separator
        yield from _encode(item, level + 1)
        separator = "," + inner
    yield "\n" + INDENT * level + "]"


def _key(key: Any) -> str:
    if not isinstance(key, str):  # json.dumps would write it as a string: plans never have one
        raise TypeError(f"JSON object keys must be strings here, not {type(key).__name__}")
    return key
