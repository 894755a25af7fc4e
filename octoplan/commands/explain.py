"""`octoplan explain RECIPIENT`: what octoplan did for one recipient, campaign by campaign."""

from __future__ import annotations

import json

from octoplan.commands.context import AppContext
from octoplan.commands.store import open_store
from octoplan.explain import explain
from octoplan.explainview import explain_json, explain_text
from octoplan.pipeline import Selection, load


def run(app: AppContext, recipient: str, fmt: str, sandbox: bool) -> int:
    project = load(app.root, Selection())
    with open_store(app.root, project, sandbox=sandbox) as store:
        explanation = explain(project, store, recipient)
    if fmt == "json":
        app.echo(json.dumps(explain_json(explanation), indent=2, ensure_ascii=False))
    else:
        app.echo(explain_text(explanation))
    return 0
