"""pydantic validation errors to diagnostics a person can act on, at the offending value."""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from octoplan import channels, rules
from octoplan.errors import Diagnostic

Loc = tuple[str | int, ...]
# Where a value or key was written: (path, line, col).
Locate = Callable[[Loc, bool], tuple[str, int | None, int | None]]
Raw = Callable[[Loc], str | None]

_PATTERN_MESSAGES = {
    "id": "id must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit",
    "renamed_from": "{field} must be a campaign id: 1 to 64 letters, digits, '.', '_' or '-', "
    "starting with a letter or digit",
    "conversation_id": "{field} must be a UUID v4",
    "currency": "{field} must be a three-letter currency code such as EUR",
    "base_url": "{field} must be an http:// or https:// URL",
    "start": "{field} must be a time written HH:MM",
    "end": "{field} must be a time written HH:MM",
}
# Words people use for an enumeration's values, by field: (the value meant, why).
_SYNONYMS: dict[str, dict[str, tuple[str, str]]] = {
    "purpose": {
        word: ("wholesale", "the Octopush API calls marketing messages wholesale")
        for word in ("marketing", "promotional", "promotion", "promo", "commercial", "newsletter")
    }
    | {
        word: ("alert", "the Octopush API calls transactional messages alert")
        for word in ("transactional", "notification", "transaction", "service", "otp")
    },
    "channel": {word: (c.name, c.described) for c in channels.ALL for word in c.aliases},
}
# Error types for "expected a container" (as octoplan/indent.py's CONTAINER_TYPES).
_CONTAINERS = frozenset({"dict_type", "model_type", "model_attributes_type", "list_type"})
_KINDS = {
    "string_type": "a string",
    "bool_type": "true or false",
    "int_type": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "datetime_type": "a date-time",
}


def field_name(loc: Loc) -> str:
    """('recipients', 2, 'email') -> 'recipients[2].email'."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, int):
        return f"integer {value}"
    if isinstance(value, float):
        return f"number {value}"
    if isinstance(value, str):
        return f"string '{value}'"
    return "a list" if isinstance(value, list) else "a mapping"


def _unwrap(annotation: Any) -> Any:
    origin = get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        return _unwrap(args[0]) if len(args) == 1 else annotation
    return annotation


def _model_at(model: type[BaseModel], loc: Loc) -> type[BaseModel] | None:
    """The model class validating the mapping at `loc` (None inside free-form data)."""
    current: Any = model
    for part in loc:
        if get_origin(current) is dict:  # a mapping of models (environments: NAME -> ...)
            current = _unwrap(get_args(current)[1])
            continue
        if isinstance(part, int):
            if get_origin(current) is list:
                current = _unwrap(get_args(current)[0])
                continue
            return None
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        info = current.model_fields.get(part)
        if info is None:
            return None
        current = _unwrap(info.annotation)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _choices(error: ErrorDetails) -> list[str]:
    expected = str((error.get("ctx") or {}).get("expected", ""))
    return [part.strip(" '") for part in expected.replace(" or ", ", ").split(",") if part]


def _suggest(value: Any, options: list[str]) -> str | None:
    if not isinstance(value, str):
        return None
    import difflib  # errors only: every `validate` imports this module

    close = difflib.get_close_matches(value, options, n=1, cutoff=0.6)
    if not close:
        close = [o for o in options if o.lower() == value.lower()]
    return f"did you mean '{close[0]}'?" if close else None


def _message(error: ErrorDetails, model: type[BaseModel], raw: Raw) -> tuple[str, str | None, bool]:
    """(message, hint, at_key) for one pydantic error."""
    loc: Loc = tuple(error["loc"])
    kind = error["type"]
    field = field_name(loc)
    value = error.get("input")
    ctx = error.get("ctx") or {}
    parent = loc[:-1]
    where = f" in {field_name(parent)}" if parent else ""
    if kind == "extra_forbidden":
        key = str(loc[-1])
        if key == "request_id":
            return (
                "request_id is generated by octoplan; remove it",
                "each batch gets a request_id derived from its content, so retries are "
                "deduplicated by the API",
                True,
            )
        target = _model_at(model, parent)
        options = list(target.model_fields) if target is not None else []
        hint = _suggest(key, options)
        if hint is None and 0 < len(options) <= 12:
            hint = f"allowed here: {', '.join(options)}"
        return f"unknown key '{key}'{where}", hint, True
    if kind == "missing":
        hint = (
            f"add e.g. channel: sms ({', '.join(rules.CHANNELS)})" if loc == ("channel",) else None
        )
        return f"missing required key '{loc[-1]}'{where}", hint, False
    if kind == "literal_error":
        options = _choices(error)
        got = f"'{value}'" if isinstance(value, str) else describe(value)
        message = f"{field} must be one of {', '.join(options)} (got {got})"
        meant = _SYNONYMS.get(str(loc[-1]), {}).get(str(value).lower())
        if meant is not None and meant[0] in options:
            return message, f"did you mean '{meant[0]}'? ({meant[1]})", False
        return message, _suggest(value, options), False
    if kind == "octoplan":
        message = error["msg"]
        if message.startswith("must "):
            message = f"{field} {message}"
        return message, ctx.get("hint"), False
    if kind in _KINDS:
        hint = None
        text = raw(loc)
        if kind == "string_type" and text is not None:
            hint = f'quote it to keep it as written: "{text}"'
        empty = value is None and kind in _CONTAINERS and isinstance(loc[-1], str)
        if empty:  # said at the key: a null's position is where the next line starts
            hint = f"`{loc[-1]}:` is empty: indent its entries under it, or remove the line"
        return f"{field} must be {_KINDS[kind]} (got {describe(value)})", hint, empty
    if kind == "string_too_short":
        if ctx.get("min_length") == 1:
            return f"{field} must not be empty", None, False
        return f"{field} must be at least {ctx.get('min_length')} characters", None, False
    if kind == "string_too_long":
        length = len(value) if isinstance(value, str) else "too many"
        limit = ctx.get("max_length")
        return f"{field} is {length} characters; at most {limit} are allowed", None, False
    if kind == "string_pattern_mismatch":
        # A list item (renamed_from's) is named by its list; the pattern is shown as written.
        name = str(loc[-2] if isinstance(loc[-1], int) and len(loc) > 1 else loc[-1])
        pattern = str(ctx["pattern"]).replace("{", "{{").replace("}", "}}")
        template = _PATTERN_MESSAGES.get(name, "{field} does not match " + pattern)
        return f"{template.format(field=field)} (got '{value}')", None, False
    bounds = {
        "greater_than_equal": ("at least", "ge"),
        "less_than_equal": ("at most", "le"),
        "greater_than": ("more than", "gt"),
        "less_than": ("less than", "lt"),
    }
    if kind in bounds:
        word, key = bounds[kind]
        bound = ctx[key]
        if isinstance(bound, float) and bound.is_integer():
            bound = int(bound)  # "at least 0", not "at least 0.0"
        return f"{field} must be {word} {bound} (got {value})", None, False
    return f"{field}: {error['msg']}", None, False


def diagnostics(
    exc: ValidationError,
    model: type[BaseModel],
    locate: Locate,
    raw: Raw,
    keys: Mapping[Loc, tuple[int, int]] | None = None,
) -> list[Diagnostic]:
    """`keys`: where each key of the document was written, to recognize a child key that lost
    its indentation (octoplan/indent.py)."""
    from octoplan.indent import lost_indentation  # errors only

    errors = exc.errors(include_url=False)
    regrouped = lost_indentation(errors, keys or {})
    result = []
    for index, error in enumerate(errors):
        if index in regrouped.dropped:
            continue
        message, hint, at_key = _message(error, model, raw)
        parent = regrouped.orphans.get(index)
        if parent is not None:
            key = str(error["loc"][-1])
            message = f"unknown key '{key}' right after an empty '{parent}:'"
            hint = f"did you mean to indent `{key}` under `{parent}`?"
        path, line, col = locate(tuple(error["loc"]), at_key)
        result.append(Diagnostic(path, line, col, message, hint))
    return result
