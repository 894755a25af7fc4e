"""`octoplan status`: delivery reports, STOP replies and replies per campaign, from state."""

from __future__ import annotations

import json

from octoplan.commands.context import AppContext
from octoplan.commands.store import deliver_sandbox_callbacks
from octoplan.commands.targets import config_target, environment_note
from octoplan.planview import destination_json
from octoplan.receive.settings import project_region
from octoplan.state.open import describe, open_state, state_exists
from octoplan.status import StatusReport, build_status
from octoplan.statusview import status_json, status_markdown, status_text


def run(app: AppContext, campaigns: list[str], fmt: str) -> int:
    root = app.root
    # Only the target's keys are read: status works while a campaign file is being edited.
    target = config_target(app)
    location = target.state
    if not state_exists(location, root):
        report = build_status_of_nothing(location, campaigns)
    else:
        store = open_state(location, root)
        try:
            if target.sandbox:
                deliver_sandbox_callbacks(root, target, project_region(root), store)
            report = build_status(store, campaigns)
        finally:
            store.close()
    app.note(environment_note(target))
    if fmt == "json":
        document = {**status_json(report), "environment": destination_json(target.destination)}
        app.echo(json.dumps(document, indent=2, ensure_ascii=False))
    elif fmt == "markdown":
        from octoplan.markdown import destination_line

        app.echo(status_markdown(report, environment=destination_line(target.destination)))
    else:
        app.echo(status_text(report))
    return 0


def build_status_of_nothing(location: str, campaigns: list[str]) -> StatusReport:
    """No state yet (nothing was ever applied): an empty report, and no file created."""
    if campaigns:
        from octoplan.errors import UsageError

        raise UsageError(
            f"no campaign {', '.join(repr(c) for c in campaigns)} in state; "
            "known: none (nothing was sent yet)"
        )
    return StatusReport(describe(location), (), {}, 0)
