"""A child key that lost its indentation, told as such.

    vars:
    discount: 30

is valid YAML: `vars` is empty (null) and `discount` a key of the campaign. pydantic then
reports two errors that miss the point ("vars must be a mapping (got null)", "unknown key
'discount'"); this module finds the pair and says what happened instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pydantic_core import ErrorDetails

Loc = tuple[str | int, ...]
Pos = tuple[int, int]

# pydantic error types for "expected a container" (a mapping, a model or a list).
CONTAINER_TYPES = frozenset({"dict_type", "model_type", "model_attributes_type", "list_type"})


@dataclass(frozen=True)
class Regrouped:
    dropped: frozenset[int]  # indexes of the empty parents' errors, now said by their orphans
    orphans: Mapping[int, str]  # index of an unknown key's error -> the parent it belongs under


def lost_indentation(errors: Sequence[ErrorDetails], keys: Mapping[Loc, Pos]) -> Regrouped:
    """`keys`: where each mapping key was written. An empty container key followed, at the same
    indentation, by keys unknown there: those keys were meant to be indented under it."""
    unknown = {tuple(e["loc"]): i for i, e in enumerate(errors) if e["type"] == "extra_forbidden"}
    dropped: set[int] = set()
    orphans: dict[int, str] = {}
    for index, error in enumerate(errors):
        loc = tuple(error["loc"])
        if error["type"] not in CONTAINER_TYPES or error.get("input") is not None:
            continue
        if loc not in keys or not isinstance(loc[-1], str):
            continue
        parent = loc[:-1]
        siblings = sorted(
            (pos, other)
            for other, pos in keys.items()
            if len(other) == len(loc) and other[:-1] == parent
        )
        after = [other for pos, other in siblings if pos > keys[loc]]
        found = []
        for other in after:  # the unknown keys right below the empty one
            if other not in unknown:
                break
            found.append(unknown[other])
        if found:
            dropped.add(index)
            orphans.update((i, str(loc[-1])) for i in found)
    return Regrouped(frozenset(dropped), orphans)
