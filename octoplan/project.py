"""Where the project is: `-C DIR`, else the nearest parent holding octoplan.yaml, else cwd."""

from __future__ import annotations

from pathlib import Path

from octoplan.errors import UsageError

CONFIG_NAME = "octoplan.yaml"
CAMPAIGNS_DIR = "campaigns"


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


def require_project(root: Path) -> None:
    """Refuse a directory that is no octoplan project (no octoplan.yaml, no campaigns/): a
    command run in the wrong place must say so, not report "0 campaigns valid" and create a
    state there."""
    if (root / CONFIG_NAME).is_file() or (root / CAMPAIGNS_DIR).is_dir():
        return
    raise UsageError(
        f"{root} is not an octoplan project: no {CONFIG_NAME} here or above, and no "
        f"{CAMPAIGNS_DIR}/ folder\n"
        "  hint: run `octoplan init` to start a project here, or `octoplan -C DIR ...` to "
        "use the project in DIR"
    )
