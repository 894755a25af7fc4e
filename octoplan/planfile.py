"""Saved plans (`plan -o FILE`, `apply FILE`).

A plan file is the plan's masked JSON view, with the SHA-256 of every file the plan read. It
holds no request bodies: `apply FILE` rebuilds the plan from the inputs and the state, and
refuses unless the rebuilt plan is the one saved: same octoplan version, same input files, same
state lineage and serial, same digest (i.e. the same request_ids). Each refusal says what
differs: the files, the serial, or the campaigns that would now send something else. A plan of
one shard (`plan --shard I/N -o FILE`) is applied as that shard, never as another; as the
other shards' applies write to the state it shares, a newer serial does not make it stale while
its digest (its request_ids) is unchanged.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from octoplan import __version__, jsonstream
from octoplan.errors import OctoplanError, UsageError
from octoplan.inputs import changed_inputs, describe, read_inputs
from octoplan.loader import Project
from octoplan.partition import Partition
from octoplan.plan import Action, BatchKind, CampaignPlan, Plan
from octoplan.planview import plan_json
from octoplan.private import write_private
from octoplan.target import Destination
from octoplan.words import plural


class StalePlan(OctoplanError):
    """The saved plan no longer matches the inputs or the state."""


@dataclass(frozen=True)
class SavedCampaign:
    """What a reviewed plan said one campaign would do."""

    action: str
    messages: int
    batches: frozenset[tuple[str, str]]  # (kind, request_id)


@dataclass(frozen=True)
class SavedPlan:
    path: Path
    lineage: str
    serial: int
    digest: str
    scope: tuple[str, ...]
    octoplan_version: str | None = None  # None: a file from before versions were recorded
    inputs: dict[str, str] | None = None  # file -> SHA-256 (inputs.read_inputs)
    campaigns: dict[str, SavedCampaign] | None = None
    destination: Destination = field(default_factory=Destination)
    partition: Partition | None = None  # `plan --shard I/N`: the shard it was made for


def save(plan: Plan, path: Path, inputs: dict[str, str]) -> None:
    """Written 0600 whatever the umask: masked, but still about the project's recipients."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_private(path, itertools.chain(jsonstream.chunks(plan_json(plan, inputs)), "\n"))


def load(path: Path) -> SavedPlan:
    from octoplan.planread import read_document  # pydantic: only when a plan file is read

    document = read_document(path)
    return SavedPlan(
        path=path,
        lineage=document.state.lineage,
        serial=document.state.serial,
        digest=document.digest,
        scope=tuple(document.scope),
        octoplan_version=document.octoplan_version,
        inputs=None if document.inputs is None else dict(document.inputs.files),
        campaigns={
            c.id: SavedCampaign(
                action=c.action.value,
                messages=c.messages_to_send,
                batches=frozenset((b.kind.value, b.request_id) for b in c.batches),
            )
            for c in document.campaigns
        },
        destination=document.destination,
        partition=None if document.share is None else document.share.partition,
    )


def check_destination(saved: SavedPlan, destination: Destination) -> None:
    """A plan is applied in the environment it was made for, to the same API, only."""
    made = saved.destination
    if made.environment != destination.environment:
        raise UsageError(
            f"{saved.path} was made for {made.label}, not {destination.label}: apply it with "
            f"`octoplan apply{made.flag()} {saved.path}`, or make a plan for this one with "
            f"`octoplan plan{destination.flag()} -o {saved.path}`"
        )


def check_shard(saved: SavedPlan, asked: Partition | None) -> Partition | None:
    """The shard `apply FILE` works on: the plan's; `--shard` may only say it again."""
    made = saved.partition
    if asked is None or asked == made:
        return made
    what = "all recipients (no --shard)" if made is None else f"shard {made.label}"
    env = saved.destination.flag()
    raise UsageError(
        f"{saved.path} was made for {what}, not shard {asked.label}: apply it with "
        f"`octoplan apply{env}{_shard_flag(made)} {saved.path}`, or make a plan for shard "
        f"{asked.label} with `octoplan plan{env} --shard {asked.label} -o {saved.path}`"
    )


def _shard_flag(partition: Partition | None) -> str:
    return "" if partition is None else f" --shard {partition.label}"


def _campaigns(items: list[dict[str, Any]]) -> dict[str, SavedCampaign]:
    return {
        str(c["id"]): SavedCampaign(
            action=str(c["action"]),
            messages=int(c["messages_to_send"]),
            batches=frozenset((str(b["kind"]), str(b["request_id"])) for b in c["batches"]),
        )
        for c in items
    }


def _again(saved: SavedPlan) -> str:
    flags = saved.destination.flag() + _shard_flag(saved.partition)
    return f"run `octoplan plan{flags} -o {saved.path}` again and review it"


def check_inputs(saved: SavedPlan, project: Project) -> None:
    """Before a contact is read or the state locked: refuse a plan made by another octoplan
    version or from other files, naming them."""
    if saved.octoplan_version != __version__ or saved.inputs is None:
        version = saved.octoplan_version
        made_by = f"octoplan {version}" if version else "an older octoplan"
        raise StalePlan(
            f"{saved.path}: the plan was made by {made_by} and this is octoplan {__version__}; "
            f"run `octoplan plan -o {saved.path}` again with this version and review it"
        )
    changes = changed_inputs(saved.inputs, read_inputs(project, also=saved.inputs))
    if changes:
        raise StalePlan(
            f"{saved.path}: stale plan: files changed since it was made: {describe(changes)}; "
            f"{_again(saved)}"
        )


def _saved_campaign(c: CampaignPlan) -> SavedCampaign:
    return SavedCampaign(
        action=c.action.value,
        messages=c.messages_to_send,
        batches=frozenset((b.kind.value, b.request_id) for b in c.batches),
    )


def _does(c: SavedCampaign) -> str:
    if c.action == Action.BLOCKED.value:
        return "be blocked"
    cancels = sum(1 for kind, _ in c.batches if kind == BatchKind.CANCEL.value)
    sends = len(c.batches) - cancels
    if not sends and not cancels:
        return "send nothing"
    parts = [f"send {plural(c.messages, 'message')} in {plural(sends, 'request')}"] if sends else []
    if cancels:
        parts.append(f"cancel {plural(cancels, 'scheduled request')}")
    return " and ".join(parts)


def campaign_differences(saved: dict[str, SavedCampaign], current: Plan) -> list[str]:
    """Campaigns that would now do something else than the reviewed plan said."""
    found = []
    now = {c.id: _saved_campaign(c) for c in current.campaigns}
    for cid, c in now.items():
        before = saved.get(cid)
        if before is None:
            if c.batches or c.action == Action.BLOCKED.value:
                found.append(f"campaign '{cid}' is not in the reviewed plan and would {_does(c)}")
        elif before != c:
            found.append(f"campaign '{cid}' would now {_does(c)} (reviewed: {_does(before)})")
    for cid in sorted(saved.keys() - now.keys()):
        if saved[cid].batches:
            found.append(f"campaign '{cid}' of the reviewed plan is no longer planned")
    return found


def check_fresh(saved: SavedPlan, current: Plan) -> None:
    """Refuse a plan made against another state, an older state, or other inputs."""
    again = _again(saved)
    if saved.lineage != current.state.lineage:
        raise StalePlan(f"{saved.path}: the plan was made against another state; {again}")
    # The other shards of a split write to the shared state while this one waits to be
    # applied: a shard's plan stands as long as it would send exactly the same requests.
    moved_on = saved.serial != current.state.serial
    if moved_on and not (saved.partition is not None and saved.digest == current.digest):
        raise StalePlan(
            f"{saved.path}: stale plan: state changed since it was made "
            f"(serial {saved.serial} -> {current.state.serial}); {again}"
        )
    if saved.digest != current.digest:
        # Same files, same state: what differs depends on the time (marketing hours, a
        # request_id window that closed...). Say which campaigns.
        found = campaign_differences(saved.campaigns or {}, current)
        what = "; ".join(found) or "the plan would now differ from the reviewed one"
        raise StalePlan(f"{saved.path}: stale plan: {what}; {again}")
