""" "Did you mean ...?" for names a user typed: files, fields, filters.

Only computed when something is wrong, so it may look at the disk; it never walks more than a
bounded number of files (a campaigns repository can hold anything).
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

MAX_FILES = 5_000
_SKIPPED_DIRS = frozenset({".octoplan", ".git", ".venv", "node_modules", "__pycache__"})


def closest(word: str, options: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The option closest to `word` (a typo, another case), or None."""
    choices = [o for o in dict.fromkeys(options) if o != word]
    found = difflib.get_close_matches(word, choices, n=1, cutoff=cutoff)
    if found:
        return found[0]
    lowered = [o for o in choices if o.lower() == word.lower()]
    return lowered[0] if lowered else None


def files_under(base: Path, suffixes: tuple[str, ...]) -> list[str]:
    """Files under `base` with one of `suffixes`, as posix paths relative to it (hidden and
    tool folders skipped, at most MAX_FILES looked at)."""
    found: list[str] = []
    seen = 0
    for directory, folders, names in os.walk(base):
        folders[:] = sorted(f for f in folders if f not in _SKIPPED_DIRS and not f.startswith("."))
        for name in sorted(names):
            seen += 1
            if seen > MAX_FILES:
                return found
            if name.lower().endswith(suffixes):
                found.append((Path(directory) / name).relative_to(base).as_posix())
    return found


def similar_file(name: str, candidates: list[str]) -> str | None:
    """The file the user probably meant: the same file name elsewhere (a wrong or missing
    folder prefix), else the file whose name (without its extension, which every candidate
    shares) is closest."""
    wanted = PurePosixPath(name.replace("\\", "/"))
    same_name = [c for c in candidates if PurePosixPath(c).name == wanted.name]
    if same_name:
        return min(same_name, key=len)
    by_stem: dict[str, str] = {}
    for candidate in sorted(candidates, key=len):
        by_stem.setdefault(PurePosixPath(candidate).name.split(".")[0], candidate)
    match = closest(wanted.name.split(".")[0], by_stem)
    return by_stem[match] if match is not None else None
