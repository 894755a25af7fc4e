"""`octoplan show PLANFILE`: a saved plan (`plan -o`) printed again, as text, JSON or Markdown.

The same views as `plan`, from the file alone: no project, no state, no network. A reviewer can
read the plan a CI job saved, or post it as a pull-request comment.
"""

from __future__ import annotations

import json
from pathlib import Path

from octoplan.commands.context import AppContext
from octoplan.errors import UsageError
from octoplan.planread import read_plan
from octoplan.planview import plan_text


def run(app: AppContext, plan_file: Path, fmt: str) -> int:
    plan = read_plan(plan_file)  # checked whole, whatever the format
    choice = app.choice()
    if choice is not None and choice.name != plan.destination.environment:
        # The plan names its environment; asked for another, say so rather than show it.
        raise UsageError(
            f"{plan_file} was made for {plan.destination.label}, not environment {choice.name} "
            f"(asked by {choice.origin})"
        )
    if fmt == "json":
        # The saved document itself: every key plan wrote (inputs, policies...), none rebuilt.
        document = json.loads(plan_file.read_text(encoding="utf-8"))
        app.echo(json.dumps(document, indent=2, ensure_ascii=False))
    elif fmt == "markdown":
        from octoplan.markdown import plan_markdown

        app.echo(plan_markdown(plan))
    else:
        app.echo(plan_text(plan, requests=app.verbose, details=not app.quiet))
    return 0
