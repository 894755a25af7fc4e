"""Where the project is: `-C DIR`, else the nearest parent holding octoplan.yaml, else cwd."""

from __future__ import annotations

from pathlib import Path

from octoplan.errors import UsageError

CONFIG_NAME = "octoplan.yaml"


def find_root(explicit: Path | None = None, start: Path | None = None) -> Path:
    if explicit is not None:
        if not explicit.is_dir():
            raise UsageError(f"{explicit}: not a directory (given with -C/--project)")
        return explicit.resolve()
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / CONFIG_NAME).is_file():
            return candidate
    return here
