"""Files -> model -> desired messages -> CampaignSpecs -> Plan: the one way a plan is made.

`plan`, `apply` and `apply FILE` all call `make_plan`, so a saved plan and its rebuild cannot
drift apart.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from octoplan import ids, rules
from octoplan.compliance import Compliance
from octoplan.desired import DesiredCampaign, build_campaign
from octoplan.errors import Diagnostic, UsageError
from octoplan.frequency import Ledger
from octoplan.gcpause import paused_gc
from octoplan.loader import Project, load_project
from octoplan.partition import Partition
from octoplan.payload import RequestShape, shape
from octoplan.plan import CampaignSpec, Plan
from octoplan.planner import build_plan
from octoplan.rollout import RolloutSpec, stages_of
from octoplan.rollout_plan import plan_rollout
from octoplan.source import CampaignSource
from octoplan.state.base import RecipientState, StateReader
from octoplan.target import Choice

NOTHING_SENT = RecipientState({}, {})


@dataclass(frozen=True)
class Selection:
    """Which campaigns a command works on."""

    paths: tuple[Path, ...] = ()
    campaigns: tuple[str, ...] = ()
    changed_since: str | None = None
    # `--shard I/N`: the recipients worked on (octoplan/partition.py); None: all of them.
    # Not a narrowing of the campaigns: a sharded plan over the whole project is whole.
    partition: Partition | None = None

    @property
    def whole_project(self) -> bool:
        return not (self.paths or self.campaigns or self.changed_since)


def load(root: Path, selection: Selection, choice: Choice | None = None) -> Project:
    project = load_project(root, list(selection.paths) or None, choice)
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


def _options_at(request: RequestShape) -> Callable[[str | None], bytes]:
    """The options digest of the campaign's content hashes had its send_at been another."""

    def digest(send_at: str | None) -> bytes:
        base = {k: v for k, v in request.base.items() if k != "send_at"}
        if send_at is not None:
            base["send_at"] = send_at
        return ids.options_digest({"endpoint": request.endpoint, **base})

    return digest


def spec_of(
    desired: DesiredCampaign,
    state: RecipientState | None = None,
    rollout: RolloutSpec | None = None,
) -> CampaignSpec:
    source = desired.source
    campaign = source.campaign
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
        state=state,
        purpose=campaign.purpose or rules.MARKETING_PURPOSE,
        enabled=campaign.enabled,
        locate=source.where,
        regions=desired.regions,
        options_at=_options_at(request),
        renamed_from=tuple(dict.fromkeys(campaign.renamed_from)),
        allow_repeat=campaign.allow_repeat,
        rollout=rollout,
        id_at=desired.source.key_where("id")
        if desired.source.declared("id")
        else desired.source.where(),
    )


def campaign_specs(
    project: Project, states: Mapping[str, RecipientState] | None = None
) -> list[CampaignSpec]:
    """What each campaign wants sent (contacts read, texts rendered). `states`: what state holds
    of the campaigns it knows (the others: nothing), each message compared with it while being
    built; None: state unknown yet (the planner will compare)."""
    specs = []
    # A million messages are a few million small objects, none in a cycle, kept for the plan.
    with paused_gc(keep=True):
        for source in project.campaigns:
            state = None if states is None else states.get(source.campaign.id, NOTHING_SENT)
            if not source.campaign.enabled:
                # Disabled: it sends nothing, so its contacts are not even read.
                specs.append(spec_of(DesiredCampaign(source), state))
                continue
            sent = None if state is None else state.sent
            desired = build_campaign(project, source, keep_texts=False, sent=sent)
            rollout = _rollout(project, source, state, sent)
            spec = spec_of(desired, state, rollout)
            if rollout is not None and rollout.seed is not None:
                # The seed list's mistakes are the campaign's: it is blocked by them.
                seed: CampaignSpec = rollout.seed
                spec = replace(
                    spec,
                    errors=(*spec.errors, *seed.errors),
                    warnings=(*spec.warnings, *seed.warnings),
                )
            specs.append(spec)
    return specs


def _rollout(
    project: Project,
    source: CampaignSource,
    state: RecipientState | None,
    sent: Mapping[str, str] | None,
) -> RolloutSpec | None:
    """The campaign's stages and its seed list's messages; None without `rollout:`, or when
    the environment replaces every campaign's audience (a rehearsal: all at once, to it)."""
    campaign = source.campaign
    if not campaign.rollout:
        return None
    settings = project.config.environments.get(project.environment)
    if settings is not None and settings.replaces_audience:
        return None
    stages = stages_of(campaign)
    seed = next((stage.seed for stage in stages if stage.seed is not None), None)
    seed_spec = None
    if seed is not None:
        desired = build_campaign(project, source, keep_texts=False, sent=sent, seed=seed)
        seed_spec = spec_of(desired, state)
    # Cohorts are drawn per campaign: its first stages do not always reach the same people.
    return RolloutSpec(stages, campaign.id, seed_spec, plan_rollout)


def make_plan(
    project: Project,
    store: StateReader,
    now: datetime,
    selection: Selection,
    specs: list[CampaignSpec] | None = None,
) -> Plan:
    # One pause from the first contact read to the finished plan, which the command keeps.
    with paused_gc(keep=True):
        # Read first: a state changed while the plan is made shows as a newer serial at
        # `apply FILE`, which then refuses the plan.
        info = store.info()
        if specs is None:
            known = set(store.campaign_ids())
            states = {}
            for source in project.campaigns:
                # A campaign's history: its id's batches and its earlier ids'.
                history = [c for c in (source.id, *source.campaign.renamed_from) if c in known]
                if history:
                    states[source.id] = store.recipient_state(*history)
            specs = campaign_specs(project, states)
        return build_plan(
            specs,
            store,
            now,
            info=info,
            # A partial plan records its campaigns, so `apply FILE` rebuilds exactly those.
            scope=() if selection.whole_project else tuple(s.id for s in specs),
            whole_project=selection.whole_project,
            currency=project.config.pricing.currency,
            policies=compliance(project, store, now),
            partition=selection.partition,
        )


def compliance(project: Project, store: StateReader, now: datetime) -> Compliance:
    """The project's policies, with the frequency cap's ledger read from state if it has one."""
    config = project.config
    cap = config.policies.frequency_cap
    return Compliance(
        config.policies,
        currency=config.pricing.currency,
        home_region=config.region,
        config_where=project.config_where,
        ledger=Ledger.read(store, cap, now) if cap is not None else None,
    )


def all_errors(plan: Plan) -> list[Diagnostic]:
    return [*(d for c in plan.campaigns for d in c.errors), *plan.errors]
