"""Saved plans (`plan -o FILE`, `apply FILE`).

A plan file is the plan's masked JSON view. It holds no request bodies: `apply FILE` rebuilds
the plan from the inputs and the state, and refuses unless the rebuilt plan is the one saved
(same state lineage and serial, same digest, i.e. the same request_ids).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from octoplan.errors import OctoplanError
from octoplan.plan import FORMAT_VERSION, Plan
from octoplan.planview import plan_json
from octoplan.private import write_private


class StalePlan(OctoplanError):
    """The saved plan no longer matches the inputs or the state."""


@dataclass(frozen=True)
class SavedPlan:
    path: Path
    lineage: str
    serial: int
    digest: str
    scope: tuple[str, ...]


def save(plan: Plan, path: Path) -> None:
    """Written 0600 whatever the umask: masked, but still about the project's recipients."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_private(path, json.dumps(plan_json(plan), indent=2, ensure_ascii=False) + "\n")


def load(path: Path) -> SavedPlan:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        version = data["format_version"]
        if version != FORMAT_VERSION:
            raise OctoplanError(
                f"{path}: plan format version {version!r} is not supported "
                f"(this octoplan reads {FORMAT_VERSION!r}); run `octoplan plan -o {path}` again"
            )
        state = data["state"]
        return SavedPlan(
            path=path,
            lineage=str(state["lineage"]),
            serial=int(state["serial"]),
            digest=str(data["digest"]),
            scope=tuple(str(s) for s in data.get("scope", [])),
        )
    except FileNotFoundError:
        raise OctoplanError(f"{path}: no such plan file") from None
    except (
        OSError,
        UnicodeDecodeError,
        json.JSONDecodeError,
        RecursionError,
        KeyError,
        TypeError,
        ValueError,
    ) as e:
        if isinstance(e, OctoplanError):
            raise
        raise OctoplanError(
            f"{path}: not a plan file written by `octoplan plan -o` ({type(e).__name__})"
        ) from None


def check_fresh(saved: SavedPlan, current: Plan) -> None:
    """Refuse a plan made against another state, an older state, or other inputs."""
    again = f"run `octoplan plan -o {saved.path}` again and review it"
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
