"""YAML files to plain Python values plus a source map: every value knows its line and column.

Only the safe subset of YAML is accepted: mappings, sequences and the core scalar types. Explicit
tags outside that set (`!!python/object`, `!custom`...) are refused at their position, and so are
duplicate keys, merge keys (`<<`), tabs in indentation, several documents in one file, alias
expansions large enough to be a "billion laughs" bomb, nesting deeper than 64 levels, control
characters, escapes that name no character, and files over 10 MB. Timestamps stay the strings
they were written as: the model parses date-times itself, so `fmt` and JSON Schema see what the
user wrote.
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import CollectionEndEvent, CollectionStartEvent, ScalarEvent
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.parser import Parser
from ruamel.yaml.reader import Reader, ReaderError

from octoplan.errors import Diagnostic, ValidationFailed

Key = str | int
Loc = tuple[Key, ...]
Pos = tuple[int, int]  # 1-based line and column

# A document expanding to more values than this through aliases is refused (billion laughs).
MAX_ALIAS_EXPANSION: Final = 100_000
# Deeper nodes are refused (the root is at depth 1): campaigns need a few levels, and the
# parser recurses per level.
MAX_DEPTH: Final = 64
# Larger files are refused before they are read: YAML is parsed in pure Python (~1 MB/s), and
# bulk contacts belong in CSV or JSON files.
MAX_YAML_BYTES: Final = 10 * 1024 * 1024

_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS: Final = frozenset(
    f"{_TAG}{name}" for name in ("str", "int", "float", "bool", "null", "timestamp")
)
_NOT_PLAIN_KEY: Final = "mapping keys must be plain words"
_SAFE_HINT: Final = "campaign files use plain YAML: strings, numbers, booleans, lists and mappings"
# What the YAML reader refuses when written raw, and an escape (`"\0"`, `"\ud83d"`) can still
# produce: control characters, and halves of UTF-16 pairs (not text that can be encoded).
_UNFIT: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff]")
# Longer integers are refused: Python cannot even print one of over 4,300 digits.
_MAX_INT_CHARS: Final = 1000
_BIG_ESCAPE: Final = re.compile(r"\\U([0-9A-Fa-f]{8})")


class _Reader(Reader):
    """ruamel.yaml's reader with the same test of printable characters, written as what it
    refuses rather than what it allows: ruamel's pattern spans the whole of Unicode and takes
    Python ~5 ms to compile, on the first file holding a non-ASCII character (any French text);
    this one compiles in a tenth of that. tests/test_yamlsource.py checks both match the same
    characters, all 1,114,112 of them."""

    NON_PRINTABLE = re.compile(  # type: ignore[assignment]  # ruamel types it as its lazy wrapper
        "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff\ufffe\uffff]"
    )


@dataclass(slots=True)
class YamlDocument:
    """A parsed file: `data` and where each value (and each mapping key) was written."""

    path: str
    data: Any
    values: dict[Loc, Pos] = field(default_factory=dict)
    keys: dict[Loc, Pos] = field(default_factory=dict)
    # Source text of non-string scalars, so a hint can say `quote it: "0612345678"`.
    raw: dict[Loc, str] = field(default_factory=dict)

    def value_pos(self, loc: Loc) -> Pos:
        """Position of the value at `loc`, or of its nearest ancestor that exists."""
        for end in range(len(loc), -1, -1):
            pos = self.values.get(loc[:end])
            if pos is not None:
                return pos
        return (1, 1)

    def key_pos(self, loc: Loc) -> Pos:
        return self.keys.get(loc) or self.value_pos(loc)


def _pos(node: Node) -> Pos:
    return (node.start_mark.line + 1, node.start_mark.column + 1)


def _fail(path: str, pos: Pos | None, message: str, hint: str | None = None) -> ValidationFailed:
    line, col = pos if pos is not None else (None, None)
    return ValidationFailed([Diagnostic(path, line, col, message, hint)])


def _scalar(node: ScalarNode) -> Any:
    tag = str(node.tag)
    text = node.value
    if tag == f"{_TAG}str" or tag == f"{_TAG}timestamp":
        return text
    if tag == f"{_TAG}null":
        return None
    if tag == f"{_TAG}bool":
        return text.lower() == "true"
    if tag == f"{_TAG}int":
        if len(text) > _MAX_INT_CHARS:
            raise ValueError(text)
        digits = text.replace("_", "")
        sign = -1 if digits.startswith("-") else 1
        digits = digits.lstrip("+-")
        for prefix, base in (("0x", 16), ("0o", 8), ("0b", 2)):
            if digits.lower().startswith(prefix):
                return sign * int(digits[2:], base)
        return sign * int(digits, 10)
    lowered = text.lower().replace("_", "")
    if lowered.lstrip("+-") == ".inf":
        return -math.inf if lowered.startswith("-") else math.inf
    if lowered == ".nan":
        return math.nan
    return float(lowered)


class _Builder:
    def __init__(self, doc: YamlDocument) -> None:
        self.doc = doc
        self.errors: list[Diagnostic] = []
        self.seen: set[int] = set()
        self.active: set[int] = set()
        self.expanded = 0

    def error(self, node: Node, message: str, hint: str | None = None) -> None:
        line, col = _pos(node)
        self.errors.append(Diagnostic(self.doc.path, line, col, message, hint))

    def build(self, node: Node, loc: Loc) -> Any:
        self.doc.values[loc] = _pos(node)
        if len(loc) >= MAX_DEPTH:  # the root is at depth 1
            raise _too_deep(self.doc.path, _pos(node))
        if id(node) in self.seen:
            # An alias: count what it expands to, and refuse recursion.
            if id(node) in self.active:
                raise _fail(self.doc.path, _pos(node), "recursive YAML alias")
            self.expanded += 1
            if self.expanded > MAX_ALIAS_EXPANSION:
                raise _fail(
                    self.doc.path,
                    _pos(node),
                    f"YAML aliases expand to more than {MAX_ALIAS_EXPANSION:,} values",
                    "write the values out, or use defaults in octoplan.yaml",
                )
        self.seen.add(id(node))
        tag = str(node.tag)
        if isinstance(node, ScalarNode):
            if tag not in _SCALAR_TAGS:
                self.error(node, f"YAML tag '{_short(tag)}' is not allowed", _SAFE_HINT)
                return None
            if not self.text_ok(node):
                return None
            try:
                value = _scalar(node)
            except ValueError:  # an integer too long to be of use
                self.error(node, "number is too long", "quote it if it is text")
                return None
            if not isinstance(value, str):
                self.doc.raw[loc] = node.value
            return value
        self.active.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                if tag != f"{_TAG}seq":
                    self.error(node, f"YAML tag '{_short(tag)}' is not allowed", _SAFE_HINT)
                return [self.build(item, (*loc, i)) for i, item in enumerate(node.value)]
            assert isinstance(node, MappingNode)
            if tag != f"{_TAG}map":
                self.error(node, f"YAML tag '{_short(tag)}' is not allowed", _SAFE_HINT)
            return self.mapping(node, loc)
        finally:
            self.active.discard(id(node))

    def text_ok(self, node: ScalarNode) -> bool:
        problem = unfit_character(node.value)
        if problem is None:
            return True
        self.error(node, *problem)
        return False

    def mapping(self, node: MappingNode, loc: Loc) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if str(key_node.tag) == f"{_TAG}merge":
                self.error(
                    key_node,
                    "YAML merge keys (<<) are not supported",
                    "repeat the keys, or put shared values in defaults in octoplan.yaml",
                )
                continue
            if not isinstance(key_node, ScalarNode) or str(key_node.tag) not in _SCALAR_TAGS:
                self.error(key_node, _NOT_PLAIN_KEY)
                continue
            if not self.text_ok(key_node):
                continue
            key = str(key_node.value)
            if key in result:
                first_line = self.doc.keys[(*loc, key)][0]
                self.error(
                    key_node,
                    f"duplicate key '{key}' (first at line {first_line})",
                    "remove one of them",
                )
                continue
            self.doc.keys[(*loc, key)] = _pos(key_node)
            result[key] = self.build(value_node, (*loc, key))
        return result


def _short(tag: str) -> str:
    return "!!" + tag[len(_TAG) :] if tag.startswith(_TAG) else tag


def _tab_error(text: str, path: str) -> ValidationFailed | None:
    for number, line in enumerate(text.splitlines(), start=1):
        indent = line[: len(line) - len(line.lstrip(" \t"))]
        if "\t" in indent and line.strip():
            return _fail(
                path,
                (number, indent.index("\t") + 1),
                "tab character in indentation",
                "YAML indents with spaces; replace the tab with spaces",
            )
    return None


def unfit_character(text: str) -> tuple[str, str] | None:
    """(message, hint) when `text` holds a character no message or contact field may hold:
    a control character other than tab and newlines, or half of a UTF-16 pair."""
    found = _UNFIT.search(text)
    if found is None:
        return None
    code = ord(found.group())
    if code >= 0xD800:
        return (
            f"invalid character \\u{code:04x}: half of a UTF-16 pair",
            "write the character itself, or escape it whole (\\U0001F600 for 😀)",
        )
    return (
        f"control character U+{code:04X} is not allowed",
        "remove it: messages and contact fields are plain text",
    )


def _too_deep(path: str, pos: Pos | None) -> ValidationFailed:
    return _fail(
        path,
        pos,
        f"YAML nesting is deeper than {MAX_DEPTH} levels",
        "campaign and contact files need a few levels of lists and mappings",
    )


def _deep_position(yaml: YAML, text: str) -> Pos | None:
    """Where the first node deeper than MAX_DEPTH starts. Events come from a flat loop, so
    this works on text that the recursive composer could not handle."""
    depth = 0  # of the enclosing collections
    try:
        for event in yaml.parse(text):
            if isinstance(event, CollectionStartEvent | ScalarEvent) and depth >= MAX_DEPTH:
                return (event.start_mark.line + 1, event.start_mark.column + 1)
            if isinstance(event, CollectionStartEvent):
                depth += 1
            elif isinstance(event, CollectionEndEvent):
                depth -= 1
    except (YAMLError, ValueError):
        pass
    return None


def _position(text: str, index: int) -> Pos:
    line = text.count("\n", 0, index) + 1
    return (line, index - (text.rfind("\n", 0, index) + 1) + 1)


def parse_yaml(text: str, path: str) -> YamlDocument:
    """Parse one YAML document; raise ValidationFailed with positioned diagnostics."""
    tab = _tab_error(text, path)
    if tab is not None:
        raise tab
    doc = YamlDocument(path=path, data=None)
    # typ="safe" would compose with libyaml if ruamel.yaml's C extension (the `libyaml` extra) were
    # installed; it is not a dependency today, so this runs in pure Python (~0.3 ms per inline
    # recipient), which is why bulk contacts belong in contact files.
    yaml = YAML(typ="safe")
    # Stops the composer at the first node deeper than MAX_DEPTH (ruamel.yaml >= 0.19; older
    # ones go on until a RecursionError, after seconds of quadratic work on "[[[[...").
    yaml.max_depth = MAX_DEPTH
    if yaml.Parser is Parser:  # the pure-Python parser reads through a Reader (libyaml does not)
        yaml.Reader = _Reader
    try:
        with warnings.catch_warnings():
            # ruamel.yaml warns on stderr about an anchor defined twice, which is valid YAML
            # (aliases use the latest): a user should never see a library's warning.
            warnings.simplefilter("ignore")
            nodes = list(yaml.compose_all(text))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        pos = (mark.line + 1, mark.column + 1) if mark is not None else None
        if type(exc).__name__ == "MaxDepthExceededError":
            raise _too_deep(path, pos) from None
        from octoplan.yamlerrors import plain_error  # only when there is an error to tell

        plain = plain_error(exc, text)
        raise _fail(path, plain.pos, f"YAML syntax error: {plain.message}", plain.hint) from None
    except ReaderError as exc:
        character = exc.character if isinstance(exc.character, int) else ord(exc.character)
        raise _fail(
            path,
            _position(text, exc.position),
            f"character U+{character:04X} is not allowed in YAML",
            "remove it: control characters cannot be written in YAML files",
        ) from None
    except YAMLError as exc:
        raise _fail(path, None, f"YAML error: {exc}") from None
    except RecursionError:
        raise _too_deep(path, _deep_position(yaml, text)) from None
    except ValueError:  # an escape naming no character, e.g. \U00110000
        big = next((m for m in _BIG_ESCAPE.finditer(text) if int(m[1], 16) > 0x10FFFF), None)
        pos = _position(text, big.start()) if big else None
        shown = big.group() if big else "escape"
        raise _fail(path, pos, f"invalid character escape {shown}: no such character") from None
    if len(nodes) > 1:
        raise _fail(
            path,
            _pos(nodes[1]),
            "only one YAML document per file is allowed",
            "move the second document to a file of its own",
        )
    if not nodes or nodes[0] is None:
        doc.values[()] = (1, 1)
        return doc
    builder = _Builder(doc)
    doc.data = builder.build(nodes[0], ())
    if builder.errors:
        raise ValidationFailed([_jinja_key(d, text) for d in builder.errors])
    return doc


def _jinja_key(diagnostic: Diagnostic, text: str) -> Diagnostic:
    if diagnostic.message != _NOT_PLAIN_KEY or diagnostic.line is None:
        return diagnostic
    from octoplan.yamlerrors import jinja_key_error

    plain = jinja_key_error(text, diagnostic.line)
    if plain is None or plain.pos is None:
        return diagnostic
    line, col = plain.pos
    return Diagnostic(diagnostic.path, line, col, f"YAML syntax error: {plain.message}", plain.hint)


def read_yaml(file: Path, path: str) -> YamlDocument:
    """Read and parse `file`; `path` is how diagnostics name it (project-relative)."""
    try:
        size = file.stat().st_size
        if size > MAX_YAML_BYTES:
            raise _fail(
                path,
                None,
                f"file is {size / 1024 / 1024:.1f} MB; YAML files are limited to "
                f"{MAX_YAML_BYTES // 1024 // 1024} MB",
                "put contacts in a CSV or JSON file (contacts: [contacts/<file>.csv])",
            )
        data = file.read_bytes()
    except FileNotFoundError:
        raise _fail(path, None, "no such file") from None
    except IsADirectoryError:
        raise _fail(path, None, "is a directory, not a file") from None
    except OSError as exc:
        raise _fail(path, None, f"cannot read: {exc.strerror}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise _fail(
            path,
            (line, col),
            f"not UTF-8 text (byte 0x{data[exc.start]:02x})",
            "save the file as UTF-8",
        ) from None
    return parse_yaml(text, path)
