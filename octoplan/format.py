"""Canonical layout of campaign files, comments kept: the engine behind `octoplan fmt`.

Top-level keys follow KEY_ORDER, then the remaining campaign fields in model order, then any
unknown key as written, and `metadata` last; metadata keys follow the model's order. Indentation
is 2 spaces (sequences indented under their key), long lines are never folded, and quoting and
flow style (`{phone_number: ...}`) are kept as written. A comment on its own line belongs to the
value above it (ruamel's rule), so it moves with that key; an end-of-line comment keeps its column.
"""

from __future__ import annotations

import io
import warnings
from typing import Any, Final

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap

from octoplan.model import Campaign, Metadata

KEY_ORDER: Final = (
    "id",
    "renamed_from",
    "channel",
    "purpose",
    "sender",
    "send_at",
    "text",
    "template",
    "vars",
    "recipients",
    "contacts",
    "exclude",
    "batch_size",
)


def _yaml() -> YAML:
    yaml = YAML(typ="rt", pure=True)
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def _rank(order: list[str], last: tuple[str, ...] = ()) -> dict[str, int]:
    ranks = {key: i for i, key in enumerate(order)}
    for i, key in enumerate(last):
        ranks[key] = 10_000 + i
    return ranks


_TOP: Final = _rank(list(dict.fromkeys([*KEY_ORDER, *Campaign.model_fields])), last=("metadata",))
_META: Final = _rank(list(Metadata.model_fields))


def _reorder(mapping: CommentedMap, ranks: dict[str, int]) -> None:
    # Unknown keys sort after known ones (before any "last" key), keeping their order.
    keys = sorted(mapping, key=lambda k: ranks.get(str(k), 5_000))
    for key in keys:
        mapping.move_to_end(key)


def format_text(text: str) -> str:
    """The canonical form of a campaign file's text (already checked to be safe YAML)."""
    yaml = _yaml()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. an anchor defined twice: valid YAML
        data: Any = yaml.load(text)
    if not isinstance(data, CommentedMap):
        return text
    _reorder(data, _TOP)
    metadata = data.get("metadata")
    if isinstance(metadata, CommentedMap):
        _reorder(metadata, _META)
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()
