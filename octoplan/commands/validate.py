"""`octoplan validate [PATH...]`: load every campaign, run the checks, report; no network.

Loading raises all of its diagnostics at once. Steps that need a loaded project (contacts,
rendering...) are registered in CHECKS and run afterwards, each adding its own diagnostics.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from octoplan.commands.context import AppContext, seconds_since
from octoplan.errors import Diagnostic, ValidationFailed, count_of
from octoplan.loader import Project, load_project
from octoplan.target import Choice
from octoplan.words import plural

Check = Callable[[Project], list[Diagnostic]]
CHECKS: list[Check] = []


def summary(project: Project | None, diags: list[Diagnostic]) -> str:
    errors = [d for d in diags if d.severity == "error"]
    warnings = count_of(d for d in diags if d.severity == "warning")
    if errors:
        files = len({d.path for d in errors})
        text = f"{plural(count_of(errors), 'error')} in {plural(files, 'file')}"
        hidden = count_of(d for d in errors if d.count > 1)
        if hidden:
            text += f" ({hidden:,} not shown)"
    else:
        text = f"{plural(len(project.campaigns) if project else 0, 'campaign')} valid"
    return text + (f", {plural(warnings, 'warning')}" if warnings else "")


def validate(
    root: Path, paths: list[Path], choice: Choice | None = None
) -> tuple[Project | None, list[Diagnostic]]:
    try:
        project = load_project(root, paths or None, choice)
    except ValidationFailed as exc:
        return None, list(exc.diagnostics)
    diags = [d for check in CHECKS for d in check(project)]
    return project, diags


def run(app: AppContext, paths: list[Path], fmt: str) -> int:
    # Paths are typed relative to the working directory, not to the project root.
    start = time.perf_counter()
    project, diags = validate(app.project_root(), [p.absolute() for p in paths], app.choice())
    valid = not any(d.severity == "error" for d in diags)
    app.detail(
        f"checked {plural(len(project.campaigns) if project else 0, 'campaign')} "
        f"in {seconds_since(start)}"
    )
    if fmt == "json":
        report = {
            "valid": valid,
            "campaigns": [c.id for c in project.campaigns] if project else [],
            "diagnostics": [d.to_json() for d in diags],
        }
        app.echo(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        for diagnostic in diags:
            if diagnostic.severity == "error" or not app.quiet:
                app.error(diagnostic.format())
        if not valid:
            app.error(summary(project, diags))
        elif not app.quiet:  # --quiet: success is the exit code alone
            app.echo(summary(project, diags))
    return 0 if valid else 1


def _render_every_message(project: Project) -> list[Diagnostic]:
    # Rendering reads contacts and templates: imported here so loading errors stay fast.
    from octoplan.desired import build_all

    return [d for desired in build_all(project) for d in (*desired.errors, *desired.warnings)]


CHECKS.append(_render_every_message)
