"""The tree of user errors drawn in octoplan/errors.py is the tree the classes make."""

from __future__ import annotations

import importlib
import pkgutil
import re

import octoplan
from octoplan import errors
from octoplan.errors import OctoplanError


def drawn() -> list[tuple[int, str]]:
    """(depth, class name) of each line of the docstring's tree."""
    doc = errors.__doc__ or ""
    tree = doc[doc.index("Tree::") : doc.index("tests/test_errors_tree.py")]
    rows = []
    for line in tree.splitlines()[1:]:
        found = re.match(r"^    ((?:[│ ]   )*)(?:[├└]── )?([A-Z]\w+)", line)
        if found:
            depth = len(found.group(1)) // 4 + (0 if found.group(2) == "OctoplanError" else 1)
            rows.append((depth, found.group(2)))
    return rows


def defined() -> list[tuple[int, str]]:
    """(depth, class name) of every subclass of OctoplanError in octoplan, drawn in order."""
    for module in pkgutil.walk_packages(octoplan.__path__, "octoplan."):
        if module.name != "octoplan.__main__":
            importlib.import_module(module.name)
    rows: list[tuple[int, str]] = []

    def walk(cls: type, depth: int) -> None:
        rows.append((depth, cls.__name__))
        for sub in cls.__subclasses__():
            if sub.__module__.startswith("octoplan."):
                walk(sub, depth + 1)

    walk(OctoplanError, 0)
    return rows


def parents(rows: list[tuple[int, str]]) -> dict[str, str | None]:
    """Each class's parent, read from (depth, name) rows in drawing order."""
    path: list[str] = []
    found: dict[str, str | None] = {}
    for depth, name in rows:
        del path[depth:]
        found[name] = path[-1] if path else None
        path.append(name)
    return found


def test_the_drawn_tree_is_the_tree_of_the_classes() -> None:
    assert parents(drawn()) == parents(defined())
    assert parents(drawn())["AmbiguousResponseError"] == "TransientApiError"
