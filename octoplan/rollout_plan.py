"""A rollout campaign's plan: which stage this plan sends, and the sends of that stage.

The stage is decided from state (octoplan/rollout.py); the sends of a stage are planned as any
campaign's (octoplan/planner.py), of the seed list's messages for a seed stage, else of the
audience's narrowed to the stage's cohort. The plan's new requests carry the stage, which apply
journals with them: that is how the next plan knows the stage has started.

With `--shard I/N` a stage sends its cohort's recipients that are in the shard: the cohort and
the partition are independent draws (octoplan/partition.py), so each shard sends its share of
every stage. The stage itself is read from the state all shards share, and a stage in which a
shard has nobody new is passed over only when nobody in the whole audience is new in it: else
the shards that have recipients there start it and this one waits (a seed list of two numbers
in another shard never lets it send the next stage's cohort before the seed stage's `wait`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime

from octoplan import rollout
from octoplan.errors import Diagnostic
from octoplan.partition import Partition
from octoplan.plan import BatchKind, CampaignPlan, CampaignSpec, PlanPolicies
from octoplan.planner import plan_campaign
from octoplan.repeats import RecentSends
from octoplan.rollout import Release, RolloutView, Stage
from octoplan.state.base import StateReader


def plan_rollout(
    spec: CampaignSpec,
    store: StateReader,
    now: datetime,
    opted_out: Mapping[str, datetime] | None,
    policies: PlanPolicies | None,
    recent: Callable[[], RecentSends] | None,
    *,
    partition: Partition | None = None,
) -> CampaignPlan:
    assert spec.rollout is not None
    stages = spec.rollout.stages
    state = rollout.progress(store, spec.history)
    current = state.current(stages)
    last = len(stages) - 1
    target = 0 if current is None else current
    starts = current is None
    verdict: Release | None = None  # of the stage after `target`, when it waits or is blocked
    if current is not None and current < last:
        verdict = rollout.release(stages, current + 1, current, state, store, spec.history, now)
        if verdict.status == "ready":
            target, starts, verdict = current + 1, True, None
    while True:
        plan, held = _plan_stage(
            spec, stages[target], store, now, opted_out, policies, recent, partition
        )
        sends_new = any(b.kind is BatchKind.NEW for b in plan.batches)
        if not starts or target == last or sends_new or plan.errors:
            break
        if partition is not None and _starts_elsewhere(spec, stages[target], store, now, opted_out):
            # Other shards start this stage (a seed list in another shard, a small cohort):
            # this one waits for it, as an unsharded apply would, never going past its wait.
            break
        # A stage with nobody new to send leaves nothing in state to start it: passed over,
        # its successor is judged on the same stage (the last that sent).
        following = rollout.release(stages, target + 1, current, state, store, spec.history, now)
        if following.status != "ready":
            verdict = following
            break
        target += 1
    stage = stages[target]
    started = state.started.get(stage.label)
    nxt = None
    if target < last:
        nxt = rollout.next_json(stages, verdict, target + 1)
    view = RolloutView(
        stage=target + 1,
        stages=len(stages),
        label=stage.label,
        seed=stage.seed,
        starts=starts,
        started_at=None if starts or started is None else started.isoformat(),
        to_send=plan.messages_to_send,
        held_back=held,
        next=nxt,
        complete=target == last and not plan.messages_to_send,
    )
    warnings = plan.warnings
    if verdict is not None and verdict.status == "blocked":
        warnings = (*warnings, _blocked(spec, stages, verdict))
    batches = tuple(
        replace(b, stage=stage.label) if b.kind in (BatchKind.NEW, BatchKind.SKIP) else b
        for b in plan.batches
    )
    return replace(plan, batches=batches, warnings=warnings, rollout=view)


def _plan_stage(
    spec: CampaignSpec,
    stage: Stage,
    store: StateReader,
    now: datetime,
    opted_out: Mapping[str, datetime] | None,
    policies: PlanPolicies | None,
    recent: Callable[[], RecentSends] | None,
    partition: Partition | None,
) -> tuple[CampaignPlan, int]:
    """The stage's sends, and how many of the audience not sent yet it leaves for later."""
    assert spec.rollout is not None
    if stage.percent is None:
        seed: CampaignSpec = spec.rollout.seed
        plan = plan_campaign(seed, store, now, opted_out, policies, recent, partition=partition)
        return replace(plan, id=spec.id, file=spec.file), _unsent(spec, store, partition)
    held = [0]
    keys, salt, percent = spec.messages.keys, spec.rollout.salt, stage.percent

    def select(indexes: list[int]) -> list[int]:
        chosen = rollout.cohort(keys, indexes, salt, percent)
        held[0] = len(indexes) - len(chosen)
        return chosen

    plan = plan_campaign(
        spec, store, now, opted_out, policies, recent, select=select, partition=partition
    )
    return plan, held[0]


def _starts_elsewhere(
    spec: CampaignSpec,
    stage: Stage,
    store: StateReader,
    now: datetime,
    opted_out: Mapping[str, datetime] | None,
) -> bool:
    """Whether a stage this shard has nobody new in sends someone new in the whole audience
    (then it is not passed over: the shards that have recipients in it start it). Planned
    without policies or the 30-day guard's record, which are the shards' own."""
    plan, _ = _plan_stage(spec, stage, store, now, opted_out, None, None, None)
    return any(b.kind is BatchKind.NEW for b in plan.batches)


def _unsent(spec: CampaignSpec, store: StateReader, partition: Partition | None) -> int:
    """Recipients of the audience (of the shard) state has not sent (all of them are left
    for later)."""
    keys = spec.messages.keys
    if partition is not None:
        keys = [keys[index] for index in partition.select(keys, range(len(keys)))]
    if spec.state is not None and partition is None:
        return spec.messages.sent.count(0)
    sent = spec.state.sent if spec.state is not None else store.recipient_state(*spec.history)[0]
    return sum(1 for key in keys if key not in sent)


def _blocked(spec: CampaignSpec, stages: tuple[Stage, ...], verdict: Release) -> Diagnostic:
    index = verdict.index
    keys: tuple[str | int, ...] = ("rollout", index, "gate")
    if verdict.blocking is not None:
        keys = (*keys, verdict.blocking)
    path, line, col = spec.where(*keys)
    return Diagnostic(
        path,
        line,
        col,
        f"campaign {spec.id}: rollout stopped before stage {index + 1} "
        f"({stages[index].title}): {'; '.join(verdict.reasons)}",
        f"see `octoplan status {spec.id}`; to go on anyway, change the threshold or remove "
        "the gate",
        severity="warning",
    )
