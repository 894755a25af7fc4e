"""Saved plans (`plan -o FILE`, `apply FILE`).

A plan file is the plan's masked JSON view. It holds no request bodies: `apply FILE` rebuilds
the plan from the inputs and the state, and refuses unless the rebuilt plan is the one saved
(same state lineage and serial, same digest, i.e. the same request_ids).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from octoplan.errors import OctoplanError, UsageError
from octoplan.plan import Plan
from octoplan.planview import plan_json


class StalePlan(OctoplanError):
    """The saved plan no longer matches the inputs or the state."""


@dataclass(frozen=True)
class SavedPlan:
    path: Path
    lineage: str
    serial: int
    digest: str
    scope: tuple[str, ...]
    sandbox: bool = False


def save(plan: Plan, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(plan_json(plan), indent=2, ensure_ascii=False) + "\n", "utf-8")
    tmp.replace(path)


def load(path: Path) -> SavedPlan:
    from octoplan.planread import read_document  # pydantic: only when a plan file is read

    document = read_document(path)
    return SavedPlan(
        path=path,
        lineage=document.state.lineage,
        serial=document.state.serial,
        digest=document.digest,
        scope=tuple(document.scope),
        sandbox=document.sandbox,
    )


def check_sandbox(saved: SavedPlan, sandbox: bool) -> None:
    """A plan made with --sandbox is applied with --sandbox, and only such a plan."""
    if saved.sandbox and not sandbox:
        raise UsageError(
            f"{saved.path} was made with --sandbox: apply it with "
            f"`octoplan apply --sandbox {saved.path}`"
        )
    if sandbox and not saved.sandbox:
        raise UsageError(
            f"{saved.path} was made against the project's state, not the sandbox's: apply it "
            f"without --sandbox, or make a sandbox plan with `octoplan plan --sandbox -o "
            f"{saved.path}`"
        )


def check_fresh(saved: SavedPlan, current: Plan) -> None:
    """Refuse a plan made against another state, an older state, or other inputs."""
    again = (
        f"run `octoplan plan{' --sandbox' if saved.sandbox else ''} -o {saved.path}` again "
        "and review it"
    )
    if saved.lineage != current.state.lineage:
        raise StalePlan(f"{saved.path}: the plan was made against another state; {again}")
    if saved.serial != current.state.serial:
        raise StalePlan(
            f"{saved.path}: stale plan: state changed since it was made "
            f"(serial {saved.serial} -> {current.state.serial}); {again}"
        )
    if saved.digest != current.digest:
        raise StalePlan(
            f"{saved.path}: stale plan: campaigns, templates or contacts changed since it "
            f"was made; {again}"
        )
