"""`octoplan explain RECIPIENT`: what octoplan did for one recipient, campaign by campaign."""

from __future__ import annotations

import json

from octoplan.commands.context import AppContext
from octoplan.commands.store import open_store
from octoplan.commands.targets import environment_note, project_target
from octoplan.explain import explain
from octoplan.explainview import explain_json, explain_text
from octoplan.pipeline import Selection, load
from octoplan.planview import destination_json


def run(app: AppContext, recipient: str, fmt: str) -> int:
    project = load(app.root, Selection(), app.choice())
    target = project_target(app, project)
    with open_store(app.root, target, project.config.region) as store:
        explanation = explain(project, store, recipient)
    app.note(environment_note(target))
    if fmt == "json":
        document = {
            **explain_json(explanation),
            "environment": destination_json(target.destination),
        }
        app.echo(json.dumps(document, indent=2, ensure_ascii=False))
    else:
        app.echo(explain_text(explanation))
    return 0
