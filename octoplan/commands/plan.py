"""`octoplan plan`: what apply would do, as text, JSON or a Markdown PR comment."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from octoplan import clock, jsonstream
from octoplan.commands.context import AppContext, seconds_since
from octoplan.commands.credit import plan_credit
from octoplan.commands.store import open_store
from octoplan.commands.targets import project_target
from octoplan.compliance import with_credit
from octoplan.partition import Partition
from octoplan.pipeline import Selection, load, make_plan
from octoplan.planview import plan_json, plan_text
from octoplan.words import plural


def run(
    app: AppContext,
    *,
    paths: list[Path],
    campaigns: list[str],
    out_file: Path | None,
    fmt: str,
    detailed_exitcode: bool,
    changed_since: str | None,
    partition: Partition | None = None,
) -> int:
    app.project_root()  # before anything is read or created
    selection = Selection(tuple(paths), tuple(campaigns), changed_since, partition)
    start = time.perf_counter()
    if changed_since:
        from octoplan.changes import changed_campaigns

        project = load(app.root, Selection(tuple(paths), tuple(campaigns)), app.choice())
        found = len(project.campaigns)
        selected = changed_campaigns(project, changed_since)
        project.campaigns = [c for c in project.campaigns if c.campaign.id in selected]
        app.detail(
            f"--changed-since {changed_since}: {len(project.campaigns):,} of "
            f"{plural(found, 'campaign')} changed"
        )
    else:
        project = load(app.root, selection, app.choice())
    target = project_target(app, project)
    app.detail(f"loaded {plural(len(project.campaigns), 'campaign')} in {seconds_since(start)}")
    # What a saved plan is checked against later: the files, hashed before the contacts are
    # read (a file changed in between then shows as changed, never the other way round).
    inputs = None
    if out_file is not None or fmt == "json":
        from octoplan.inputs import read_inputs  # a saved plan's or JSON's only

        inputs = read_inputs(project)
    start = time.perf_counter()
    with open_store(app.root, target, project.config.region) as store:
        plan = replace(
            make_plan(project, store, clock.now(), selection), destination=target.destination
        )
    if plan.has_changes:
        plan = with_credit(plan, plan_credit(app.root, project, target))
    app.detail(
        f"planned against state {plan.state.url} (serial {plan.state.serial}) "
        f"in {seconds_since(start)}"
    )

    if fmt == "json":
        app.echo_pieces(jsonstream.chunks(plan_json(plan, inputs)))
    elif fmt == "markdown":
        from octoplan.markdown import plan_markdown

        app.echo(plan_markdown(plan))
    else:
        app.echo(plan_text(plan, requests=app.verbose, details=not app.quiet))

    if plan.blocked:
        return 1
    if out_file is not None:
        assert inputs is not None
        from octoplan import planfile

        planfile.save(plan, out_file, inputs)
        flag = target.destination.flag()
        app.note(f"Plan saved to {out_file}; apply it with `octoplan apply{flag} {out_file}`.")
    if detailed_exitcode and plan.has_changes:
        return 2
    return 0
