"""`octoplan init [DIR]`: scaffold a project, never overwriting a file."""

from __future__ import annotations

from pathlib import Path

from octoplan.commands.context import AppContext
from octoplan.scaffold import scaffold


def run(app: AppContext, directory: Path | None) -> int:
    target = directory or app.project_dir or Path.cwd()
    target.mkdir(parents=True, exist_ok=True)
    written, kept = scaffold(target)
    for name in written:
        app.echo(f"created {name}")
    for name in kept:
        app.echo(f"kept    {name} (already there)")
    app.note(
        f"\nNext: cd {target} && octoplan validate && octoplan plan --sandbox "
        "&& octoplan apply --sandbox"
    )
    return 0
