"""YAML syntax errors in plain words, at the culprit.

ruamel.yaml reports where its parser gave up ("expected ',' or ']', but got '<stream end>'",
"expected <block end>, but found '<block mapping start>'"), which is often a line after the
mistake and always in the parser's vocabulary. Here the common mistakes are recognized from the
parser's problem, its context and the source lines, and told as what the user did: a '[' never
closed (where it opens), a quote never closed, a value holding ': ' or starting with a Jinja
'{{' that needs quotes, a key indented unlike its neighbours, a missing ':'. Anything else keeps
the parser's message with its tokens in words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

Pos = tuple[int, int]  # 1-based line and column

_CLOSERS = {"[": "]", "{": "}"}
_TOKENS = {
    "<block end>": "the end of the block",
    "<block mapping start>": "a new key",
    "<block sequence start>": "a list",
    "<scalar>": "a value",
    "<stream end>": "the end of the file",
    "<document start>": "'---'",
    "<document end>": "'...'",
    "<flow mapping end>": "'}'",
    "<flow sequence end>": "']'",
}
_KEY_LINE = re.compile(r"^(\s*)(-\s+)?([^\s#:'\"][^:#]*?):(\s+|$)(.*)$")


@dataclass(frozen=True)
class PlainError:
    pos: Pos | None
    message: str
    hint: str | None = None


def _mark(mark: Any) -> Pos | None:
    return None if mark is None else (mark.line + 1, mark.column + 1)


def _line(lines: list[str], number: int) -> str:
    return lines[number - 1] if 0 < number <= len(lines) else ""


def _in_words(text: str) -> str:
    for token, words in _TOKENS.items():
        text = text.replace(f"'{token}'", words).replace(token, words)
    return text


def _jinja_value(lines: list[str], numbers: list[int]) -> PlainError | None:
    """A value starting with `{{` or `{%` (YAML reads `{` as a mapping)."""
    for number in numbers:
        found = _KEY_LINE.match(_line(lines, number))
        if found and found.group(5).lstrip().startswith(("{{", "{%")):
            value = found.group(5).rstrip()
            key = found.group(3)
            column = _line(lines, number).index(value) + 1
            quoted = value.replace('"', '\\"')
            return PlainError(
                (number, column),
                "a Jinja text must be quoted: YAML reads a value starting with '{' as a mapping",
                f'quote it: {key}: "{quoted}"',
            )
    return None


def jinja_key_error(text: str, line: int) -> PlainError | None:
    """`text: {{ x }}` parses (as a mapping whose key is a mapping): said as the quoting
    mistake it is."""
    return _jinja_value(text.splitlines(), [line])


def _unclosed(lines: list[str], opened: Pos, problem: Pos | None, kind: str) -> PlainError:
    line, col = opened
    bracket = _line(lines, line)[col - 1 : col] or ("[" if "sequence" in kind else "{")
    closer = _CLOSERS.get(bracket, "]")
    what = "list" if bracket == "[" else "mapping"
    if problem is not None and problem[0] > line:
        return PlainError(
            opened,
            f"this '{bracket}' is never closed",
            f"end the {what} with '{closer}' on the same line, e.g. "
            + ("contacts: [contacts/customers.csv]" if bracket == "[" else "{first_name: Lou}"),
        )
    return PlainError(
        problem or opened,
        f"unexpected character in the {what} opened by '{bracket}' at column {col}",
        "separate items with ', ' and quote an item holding ':' or ','",
    )


def _over_indented(lines: list[str], line: int, found: re.Match[str]) -> PlainError:
    """A key indented under a key that already has a value (`purpose: alert` then
    `  sender: ShopX`): YAML reads it as more of that value, then trips on its ':'."""
    own = len(found.group(1))
    above = next(
        (
            (number, match)
            for number in range(line - 1, 0, -1)
            if (match := _KEY_LINE.match(_line(lines, number))) and len(match.group(1)) < own
        ),
        None,
    )
    key = found.group(3)
    if above is None:
        return PlainError((line, own + 1), f"'{key}' is indented more than the keys above it")
    number, match = above
    parent_indent = len(match.group(1)) + len(match.group(2) or "")
    return PlainError(
        (line, own + 1),
        f"'{key}' is indented under '{match.group(3)}' (line {number}), which already has a value",
        f"indent '{key}' like '{match.group(3)}' (by {parent_indent} spaces), or quote "
        "a value that holds ': '",
    )


def _open_quote(lines: list[str], before: int) -> PlainError | None:
    """The last `key: "text` (or `'text`) before line `before` whose quote is not closed on
    its line: a quote left open runs on into the next lines, and the parser trips later."""
    for number in range(before - 1, 0, -1):
        found = _KEY_LINE.match(_line(lines, number))
        value = found.group(5).rstrip() if found else ""
        if value[:1] in ("'", '"'):
            quote = value[0]
            rest = value[1:]
            closed = rest.endswith(quote) and not rest.endswith("\\" + quote) if rest else False
            if not closed and rest.count(quote) % 2 == 0:
                column = _line(lines, number).index(value) + 1
                return PlainError(
                    (number, column),
                    f"this {quote} is never closed on its line",
                    f"end the text with {quote} on the same line, or write several lines as a "
                    "block (text: |)",
                )
    return None


def _indentation(lines: list[str], start: int, problem: Pos) -> PlainError:
    """A key or item whose indentation matches none of the lines it could belong with."""
    line = problem[0]
    text = _line(lines, line)
    found = _KEY_LINE.match(text)
    name = f"'{found.group(3)}'" if found else "this line"
    indents: set[int] = set()
    for other in lines[max(start - 1, 0) : line - 1]:
        stripped = other.lstrip(" ")
        if not stripped or stripped.startswith("#"):
            continue
        indents.add(len(other) - len(stripped))
        item = re.match(r"-\s+(?=[^\s#])", stripped)
        if item:  # `- key: value`: the item's keys start after the dash
            indents.add(len(other) - len(stripped) + item.end())
    own = len(text) - len(text.lstrip(" "))
    choices = " or ".join(str(n) for n in sorted(indents)) if indents else "0"
    return PlainError(
        (line, own + 1),
        f"{name} is indented by {own} space{'s' if own != 1 else ''}, like no line above it",
        f"indent it like the keys it belongs with (by {choices} spaces)",
    )


def plain_error(exc: Any, text: str) -> PlainError:
    """`exc`: a ruamel.yaml MarkedYAMLError raised while composing `text`."""
    lines = text.splitlines()
    problem_text = str(exc.problem or "").strip()
    context = str(exc.context or "").strip()
    problem, opened = _mark(exc.problem_mark), _mark(exc.context_mark)
    candidates = [p[0] for p in (opened, problem) if p is not None]
    jinja = _jinja_value(lines, candidates)
    if jinja is not None:
        return jinja
    if context.startswith("while parsing a flow") and opened is not None:
        return _unclosed(lines, opened, problem, context)
    if context.startswith("while scanning a") and "quoted scalar" in context and opened:
        quoted = _bad_quote(lines, opened, problem, problem_text)
        if quoted is not None:
            return quoted
    found = _by_problem(lines, problem_text, problem, opened)
    if found is not None:
        return found
    message = _in_words(problem_text or context or "invalid YAML")
    where = None
    if context and opened is not None and problem_text:
        where = f"{_in_words(context)} at line {opened[0]}"
    return PlainError(problem or opened, message, where)


def _bad_quote(
    lines: list[str], opened: Pos, problem: Pos | None, problem_text: str
) -> PlainError | None:
    """A quoted text never closed, or holding an unknown escape."""
    quote = _line(lines, opened[0])[opened[1] - 1 : opened[1]] or '"'
    if "end of stream" in problem_text or "document separator" in problem_text:
        return PlainError(
            opened,
            f"this {quote} is never closed",
            f"end the text with {quote} on the same line, or write several lines as a "
            "block (text: |)",
        )
    if "escape" in problem_text:
        character = problem_text.rsplit(" ", 1)[-1]
        return PlainError(
            problem,
            f"unknown escape \\{character.strip(chr(39))} in a double-quoted text",
            "write \\\\ for a backslash, or quote the text with ' instead of \"",
        )
    return None


def _by_problem(
    lines: list[str], problem_text: str, problem: Pos | None, opened: Pos | None
) -> PlainError | None:
    """The mistakes the parser's problem names: a value holding ': ' or starting with a
    reserved character, a missing ':', an unknown alias, a line that ends no block."""
    if problem_text == "mapping values are not allowed here" and problem is not None:
        found = _KEY_LINE.match(_line(lines, problem[0]))
        if found and not found.group(2) and problem[1] == len(found.group(1) + found.group(3)) + 1:
            return _over_indented(lines, problem[0], found)
        hint = "quote the value"
        if found and found.group(5):
            value = found.group(5).rstrip().replace('"', '\\"')
            hint = f'quote the value: {found.group(3)}: "{value}"'
        return PlainError(problem, "a value holding ': ' must be quoted", hint)
    if problem_text.startswith("could not find expected ':'") and opened is not None:
        source = _line(lines, opened[0]).strip()
        word, _, rest = source.partition(" ")
        hint = f"write it as {word}: {rest}" if rest else f"write it as {source}: <value>"
        return PlainError(
            (opened[0], _line(lines, opened[0]).index(source) + 1 if source else 1),
            "this line is not `key: value`: the ':' is missing",
            hint,
        )
    if problem_text.startswith("found character") and "cannot start any token" in problem_text:
        char = problem_text.split("'")[1] if "'" in problem_text else "?"
        if char == "\\t":
            return PlainError(problem, "tab character", "YAML indents with spaces")
        found = _KEY_LINE.match(_line(lines, problem[0])) if problem else None
        hint = "quote the value"
        if found and found.group(5):
            hint = f'quote the value: {found.group(3)}: "{found.group(5).rstrip()}"'
        return PlainError(problem, f"a value cannot start with '{char}' unless quoted", hint)
    if problem_text.startswith("found undefined alias"):
        name = problem_text.rsplit(" ", 1)[-1].strip("'")
        return PlainError(
            problem,
            f"*{name} refers to no anchor &{name}",
            "quote the value if the '*' is text",
        )
    if problem_text.startswith("expected <block end>") and problem is not None:
        left_open = _open_quote(lines, problem[0])
        if left_open is not None:
            return left_open
        found_token = problem_text.split("but found", 1)[-1].strip().strip("'")
        if found_token == "-":
            return PlainError(
                problem,
                "a list item ('- ') where a key was expected",
                "indent the list under the key it belongs to (recipients:, contacts:...)",
            )
        if found_token in ("]", "}"):
            return PlainError(problem, f"this '{found_token}' closes nothing", "remove it")
        if found_token in ("<block mapping start>", "<block sequence start>", "?"):
            return _indentation(lines, opened[0] if opened else 1, problem)
        return PlainError(
            problem,
            f"unexpected {_in_words(found_token)} here",
            "check this line's indentation, and quote values holding ':', '#' or brackets",
        )
    return None
