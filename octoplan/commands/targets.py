"""The Target of a command, resolved once at the edge: the one place commands read the
variables that choose and shape it (OCTOPLAN_ENV, OCTOPLAN_STATE, OCTOPUSH_BASE_URL)."""

from __future__ import annotations

import os

from octoplan.commands.context import AppContext
from octoplan.loader import Project, load_target_config
from octoplan.target import Target, resolve


def project_target(app: AppContext, project: Project) -> Target:
    """The target of a loaded project (its environment chosen when it was loaded)."""
    return _told(app, resolve(project.config, project.environment, os.environ))


def config_target(app: AppContext) -> Target:
    """The target from octoplan.yaml's target keys alone (commands that read state only)."""
    config, name = load_target_config(app.root, app.choice())
    return _told(app, resolve(config, name, os.environ))


def environment_note(target: Target) -> str:
    """`Environment: staging, the embedded local sandbox (state ...).`, for stderr."""
    from octoplan.state.open import describe

    return (
        f"Environment: {target.name}, {target.destination.where} (state {describe(target.state)})."
    )


def _told(app: AppContext, target: Target) -> Target:
    if target.note:
        app.note(f"note: {target.note}")
    return target
