"""`octoplan init [DIR]`: scaffold a new project; never touch an existing one.

Like `cargo init` and `dbt init`, init refuses a directory that already is an octoplan project
(or lies inside one): a second `init` must never bring back a campaign the user deleted, which
would then plan a send to every contact. The one thing it does in an existing project, when
asked with `--schemas`, is rewrite the two JSON Schemas for editors, which are generated and
change with octoplan's version.
"""

from __future__ import annotations

from pathlib import Path

from octoplan.commands.context import AppContext
from octoplan.errors import UsageError
from octoplan.scaffold import existing_project, scaffold, write_schemas


def run(app: AppContext, directory: Path | None, schemas: bool) -> int:
    target = (directory or app.project_dir or Path.cwd()).absolute()
    found = existing_project(target)
    if schemas:
        root = found or target
        if found is None:
            raise UsageError(
                f"{target} is not an octoplan project; `octoplan init` creates one, "
                "schemas included"
            )
        for name in write_schemas(root):
            app.echo(f"wrote   {name}")
        return 0
    if found is not None:
        what = (
            "is already an octoplan project"
            if found == target
            else f"is inside the octoplan project at {found}"
        )
        raise UsageError(
            f"{target} {what}: init writes nothing there\n"
            "  hint: init never overwrites or brings back a file. To refresh the editors' "
            "JSON Schemas after an upgrade: octoplan init --schemas"
        )
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
