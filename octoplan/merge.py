"""Server-side merge: render a template once per shape of contact, not once per contact.

Most templates use a contact's fields in two ways: printed as they are (`{{ contact.code }}`,
`{{ contact.first_name | default('') }}`), or to decide what to print (`{% if contact.city %}`,
`{% if contact.tier == "gold" %}`). `field_use` reads the template's syntax tree and sorts every
field into:

- printed: only ever printed verbatim (or replaced by a constant default when absent);
- tested: only ever tested for truth or definedness (a present value is a non-empty string, so
  only presence matters);
- valued: anything else (compared, filtered, concatenated, printed through a filter block...):
  the output may depend on the value.

Two contacts with the same valued fields and the same presence of the others get the same text
up to the printed values. So a `Skeleton` is rendered once per such group, with each printed
field replaced by a sentinel, and cut at the sentinels; a contact's text is then the skeleton's
pieces around its own values (one `%` formatting), and the request text is the same skeleton
with the API's own `{param1}`-style slots, shared by the whole group, so one request carries 500
recipients whose texts differ only in personal values.

This is an optimization, never a change of meaning: `field_use` declines (returns None: render
every contact) whenever the tree uses `contact` in a way it does not model (the whole mapping,
dynamic keys, names that are dict methods, includes and imports, `random`). The caller checks
the first contact of every skeleton against a full render and falls back for the whole group if
they differ, and any contact whose text holds a `{` (a placeholder-like value or literal) is
rendered and personalized the slow way.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from jinja2 import Environment, TemplateSyntaxError, nodes

from octoplan.placeholders import PLACEHOLDER_FIELDS
from octoplan.render import Namespace

_SENTINEL = re.compile("\x00([0-9]+)\x01")
_FINAL_OUTPUT_BREAKERS = (nodes.Macro, nodes.CallBlock, nodes.FilterBlock, nodes.AssignBlock)
_DECLINED_NODES = (nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport)
_DEFAULT_FILTERS = frozenset({"default", "d"})
_PRESENCE_TESTS = frozenset({"defined", "undefined"})
# The API's slots, in the order octoplan hands them to fields not named after one.
_FREE_SLOTS = ("param1", "param2", "param3", "param4", "param5", "last_name", "first_name")


@dataclass(frozen=True)
class FieldUse:
    printed: frozenset[str]
    tested: frozenset[str]
    valued: frozenset[str]


class _Declined(Exception):
    pass


def field_use(env: Environment, source: str) -> FieldUse | None:
    """How the template `source` uses contact fields; None when it cannot be merged."""
    if "\x00" in source or "\x01" in source:
        return None
    try:
        tree = env.parse(source)
    except TemplateSyntaxError:
        return None
    if any(True for _ in tree.find_all(_DECLINED_NODES)):
        return None
    uses: dict[str, set[str]] = {}
    try:
        _visit(tree, final_output=True, uses=uses)
    except _Declined:
        return None
    valued = {name for name, kinds in uses.items() if "valued" in kinds}
    printed = {name for name, kinds in uses.items() if "printed" in kinds} - valued
    tested = set(uses) - valued - printed
    return FieldUse(frozenset(printed), frozenset(tested), frozenset(valued))


def _children(node: nodes.Node) -> Iterator[tuple[str, nodes.Node]]:
    for name, value in node.iter_fields():
        if isinstance(value, nodes.Node):
            yield name, value
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, nodes.Node):
                    yield name, item


def _contact_field(node: nodes.Node) -> str | None:
    """`X` for `contact.X` or `contact["X"]`; None for anything else."""
    if isinstance(node, nodes.Getattr):
        target, name = node.node, node.attr
    elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
        target, name = node.node, node.arg.value
    else:
        return None
    if not (isinstance(target, nodes.Name) and target.name == "contact"):
        return None
    if not isinstance(name, str) or name.startswith("_") or hasattr(Namespace, name):
        raise _Declined  # `contact.items` is the dict method in Jinja, not a field
    return name


def _is_constant_default(node: nodes.Node) -> bool:
    return (
        isinstance(node, nodes.Filter)
        and node.name in _DEFAULT_FILTERS
        and all(isinstance(arg, nodes.Const) for arg in node.args)
        and all(isinstance(kw.value, nodes.Const) for kw in node.kwargs)
        and node.dyn_args is None
        and node.dyn_kwargs is None
    )


def _visit(
    node: nodes.Node,
    *,
    final_output: bool,
    uses: dict[str, set[str]],
    boolean: bool = False,
) -> None:
    if isinstance(node, nodes.Name) and node.name == "contact":
        raise _Declined  # the whole mapping: iterated, passed, reassigned...
    if isinstance(node, nodes.Filter) and node.name == "random":
        raise _Declined
    final_output = final_output and not isinstance(node, _FINAL_OUTPUT_BREAKERS)
    for field_name, child in _children(node):
        child_boolean = (
            (isinstance(node, nodes.If | nodes.CondExpr) and field_name == "test")
            or isinstance(node, nodes.Not)
            or (isinstance(node, nodes.And | nodes.Or) and boolean)
            or (
                isinstance(node, nodes.Test)
                and node.name in _PRESENCE_TESTS
                and field_name == "node"
            )
        )
        name = _contact_field(child)
        if name is not None:
            if child_boolean:
                kind = "tested"
            elif isinstance(node, nodes.Output) and final_output:
                kind = "printed"
            else:
                kind = "valued"
            uses.setdefault(name, set()).add(kind)
            continue
        if isinstance(node, nodes.Output) and final_output and _is_constant_default(child):
            assert isinstance(child, nodes.Filter)
            name = _contact_field(child.node) if child.node is not None else None
            if name is not None:
                uses.setdefault(name, set()).add("printed")
                for _, arg in _children(child):
                    if arg is not child.node:
                        _visit(arg, final_output=final_output, uses=uses)
                continue
        _visit(child, final_output=final_output, uses=uses, boolean=child_boolean)


def sentinel(index: int) -> str:
    return f"\x00{index}\x01"


@dataclass(frozen=True)
class Skeleton:
    """A group's text with holes for printed values.

    `text_format % values(cells)` is a contact's text. Slotted fields travel as recipient fields
    named `slots`; `request_text` is then the same for the whole group, or, when some printed
    fields could not get a slot (more than seven), `request_format % inlined values`.
    """

    printed: tuple[str, ...]  # the field printed at each hole, in text order
    literals: tuple[str, ...]  # the text around the holes (one more than holes)
    text_format: str
    slotted: tuple[str, ...]  # distinct printed fields with a slot, in slot order
    slots: tuple[str, ...]  # the API slot of each slotted field
    inlined: tuple[str, ...]  # fields printed at each hole without a slot, in text order
    request_text: str | None  # when nothing is inlined
    request_format: str


def _assign_slots(fields: Sequence[str]) -> dict[str, str]:
    slots: dict[str, str] = {}
    for name in fields:  # a field named like a slot keeps it
        if name in PLACEHOLDER_FIELDS:
            slots[name] = name
    free = [slot for slot in _FREE_SLOTS if slot not in slots.values()]
    for name in fields:
        if name not in slots and free:
            slots[name] = free.pop(0)
    return slots


def make_skeleton(rendered: str, names: Sequence[str]) -> Skeleton | None:
    """Cut a text rendered with `sentinel(i)` for field `names[i]`; None if it is not clean."""
    pieces = _SENTINEL.split(rendered)
    literals, holes = pieces[0::2], [names[int(i)] for i in pieces[1::2]]
    if any("\x00" in literal or "\x01" in literal for literal in literals):
        return None
    distinct = list(dict.fromkeys(holes))
    slots = _assign_slots(distinct)
    slotted = tuple(name for name in distinct if name in slots)
    escaped = [literal.replace("%", "%%") for literal in literals]
    text_format = escaped[0] + "".join("%s" + literal for literal in escaped[1:])
    request = [escaped[0]]
    for hole, literal in zip(holes, escaped[1:], strict=True):
        request.append("{" + slots[hole] + "}" if hole in slots else "%s")
        request.append(literal)
    request_format = "".join(request)
    inlined = tuple(hole for hole in holes if hole not in slots)
    return Skeleton(
        printed=tuple(holes),
        literals=tuple(literals),
        text_format=text_format,
        slotted=slotted,
        slots=tuple(slots[name] for name in slotted),
        inlined=inlined,
        request_text=None if inlined else request_format % (),
        request_format=request_format,
    )


def skeleton_fields(
    fields: Mapping[str, str], use: FieldUse
) -> tuple[dict[str, str], tuple[str, ...]]:
    """The contact mapping to render a skeleton with, and the printed fields by sentinel."""
    printed = tuple(sorted(name for name in use.printed if fields.get(name)))
    out = {name: value for name, value in fields.items() if value}
    for index, name in enumerate(printed):
        out[name] = sentinel(index)
    return out, printed
