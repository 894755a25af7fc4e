"""What a plan read: each input file and its SHA-256.

A saved plan records them, so `apply FILE` names exactly which file changed since the plan was
reviewed, before it reads a contact or opens the state. The files are the ones `--changed-since`
follows (a campaign's file, its contact and exclude lists, its templates and what they include,
import or extend, and octoplan.yaml), for the campaigns the plan covers: a whole-project plan
covers every campaign file, so a campaign added or deleted since is seen too. Plain SHA-256 of
the bytes, so a reviewer can compare a figure with `sha256sum FILE`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from pathlib import Path

from octoplan.changes import campaign_inputs
from octoplan.errors import OctoplanError
from octoplan.ids import canonical_json
from octoplan.loader import Project
from octoplan.project import CONFIG_NAME

ABSENT = "absent"  # a file the plan would read, which did not exist
SHOWN = 5  # changed files named in a message; the rest are counted


def read_inputs(project: Project, also: Iterable[str] = ()) -> dict[str, str]:
    """Path (as the project names it) -> SHA-256 of its bytes, or ABSENT. `also`: files to
    hash too (those a saved plan read: one deleted since then shows as deleted)."""
    names = {CONFIG_NAME, *also}.union(*campaign_inputs(project).values())
    return {name: _sha256(project.root / name, name) for name in sorted(names)}


def inputs_digest(files: Mapping[str, str]) -> str:
    """One figure for all the inputs of a plan."""
    return hashlib.sha256(canonical_json(sorted(files.items())).encode()).hexdigest()


def _sha256(file: Path, name: str) -> str:
    try:
        with file.open("rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except (FileNotFoundError, NotADirectoryError):
        return ABSENT
    except OSError as e:
        raise OctoplanError(f"{name}: cannot read it ({e.strerror or type(e).__name__})") from None


def changed_inputs(saved: Mapping[str, str], current: Mapping[str, str]) -> list[str]:
    """What differs, one entry per file, e.g. `contacts/customers.csv (changed)`."""
    changes = []
    for name in sorted(saved.keys() | current.keys()):
        before, after = saved.get(name), current.get(name)
        if before == after:
            continue
        if after is None:
            how = "no longer used"
        elif after == ABSENT:
            how = "missing" if before is None else "deleted"
        elif before is None or before == ABSENT:
            how = "new"
        else:
            how = "changed"
        changes.append(f"{name} ({how})")
    return changes


def describe(changes: list[str]) -> str:
    shown = ", ".join(changes[:SHOWN])
    more = len(changes) - SHOWN
    return f"{shown} and {more:,} more" if more > 0 else shown
