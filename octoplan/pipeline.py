"""Files -> model -> desired messages -> CampaignSpecs -> Plan: the one way a plan is made.

`plan`, `apply` and `apply FILE` all call `make_plan`, so a saved plan and its rebuild cannot
drift apart.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from octoplan.desired import DesiredCampaign, build_campaign
from octoplan.errors import Diagnostic, UsageError
from octoplan.gcpause import paused_gc
from octoplan.loader import Project, load_project
from octoplan.payload import shape
from octoplan.plan import CampaignSpec, Plan, build_plan
from octoplan.state.base import StateStore

SANDBOX_STATE = ".octoplan/sandbox-state.db"


@dataclass(frozen=True)
class Selection:
    """Which campaigns a command works on."""

    paths: tuple[Path, ...] = ()
    campaigns: tuple[str, ...] = ()
    changed_since: str | None = None

    @property
    def whole_project(self) -> bool:
        return not (self.paths or self.campaigns or self.changed_since)


def load(root: Path, selection: Selection) -> Project:
    project = load_project(root, list(selection.paths) or None)
    if selection.campaigns:
        known = {c.campaign.id for c in project.campaigns}
        unknown = [c for c in selection.campaigns if c not in known]
        if unknown:
            raise UsageError(
                f"no campaign with id {', '.join(repr(u) for u in unknown)}; "
                f"known: {', '.join(sorted(known)) or 'none'}"
            )
        wanted = set(selection.campaigns)
        project.campaigns = [c for c in project.campaigns if c.campaign.id in wanted]
    return project


def spec_of(desired: DesiredCampaign) -> CampaignSpec:
    campaign = desired.source.campaign
    request = shape(campaign)
    return CampaignSpec(
        id=campaign.id,
        file=desired.source.path,
        channel=campaign.channel,
        endpoint=request.endpoint,
        send_at=campaign.send_at,
        batch_size=campaign.batch_size,
        make_body=request.body,
        request_id_in_metadata=request.request_id_in_metadata,
        recipient_fields=request.recipient_fields,
        messages=desired.columns,
        duplicates=desired.duplicates,
        excluded=desired.excluded,
        warnings=tuple(desired.warnings),
        errors=tuple(desired.errors),
    )


def campaign_specs(project: Project, in_state: Collection[str] | None = None) -> list[CampaignSpec]:
    """What each campaign wants sent (contacts read, texts rendered): no state involved.
    `in_state`: the campaigns state knows (their content hashes are computed up front, to
    compare with what was sent); None: all of them."""
    # A million messages are a few million small objects, none in a cycle, kept for the plan.
    with paused_gc(keep=True):
        return [
            spec_of(
                build_campaign(
                    project,
                    source,
                    keep_texts=False,
                    hashes=in_state is None or source.campaign.id in in_state,
                )
            )
            for source in project.campaigns
        ]


def make_plan(
    project: Project,
    store: StateStore,
    now: datetime,
    selection: Selection,
    specs: list[CampaignSpec] | None = None,
) -> Plan:
    # One pause from the first contact read to the finished plan, which the command keeps.
    with paused_gc(keep=True):
        if specs is None:
            specs = campaign_specs(project, set(store.campaign_ids()))
        return build_plan(
            specs,
            store,
            now,
            # A partial plan records its campaigns, so `apply FILE` rebuilds exactly those.
            scope=() if selection.whole_project else tuple(s.id for s in specs),
            whole_project=selection.whole_project,
            currency=project.config.pricing.currency,
        )


def all_errors(plan: Plan) -> list[Diagnostic]:
    return [d for c in plan.campaigns for d in c.errors]
