"""Rollouts: one campaign released in stages (SPEC §9), each started by an apply.

```yaml
rollout:
  - seed: contacts/seed.csv          # first, to the team's own phones (not the audience)
  - percent: 5                       # 5% of the audience
    wait: 2h                         # ... once the seed stage is 2 hours old
  - percent: 100
    wait: 24h
    gate: {min_delivered_rate: 0.95, max_stop_rate: 0.01}
```

- **Cohorts.** A recipient's place in the audience is `crc32("<campaign id>\\n<identity>")`, a
  32-bit number; stage `percent: P` reaches the recipients whose number is below P% of 2^32.
  It depends on nothing but the campaign id and the recipient, so plan, apply and every rerun
  agree, a recipient never moves from one stage to another, and a contact added later falls
  in the stage its number says (sent by the next apply once that stage has started). CRC-32 is
  no secret, but spreads numbers as evenly as a cryptographic hash does for this purpose and
  costs a tenth (a million recipients in about 0.1 s: bench/rollout_bench.py).
- **Progress lives in state.** Each batch records the stage it was sent in (schema 6). The
  current stage is the last one (in file order) with a request that was or may have been sent;
  it started when the first of those requests was journaled (its first attempt, else its
  intent). Nothing else is stored: editing the stages of a running rollout is read against
  what state holds.
- **One stage per apply.** A plan sends the cohort of the current stage (the recipients who
  joined it since) unless the next stage is released: the current stage is at least its
  `wait` old and its delivery reports pass its `gate`; then the plan sends the next stage's
  cohort, and that is all. A stage that would send nobody new (all its cohort already sent)
  is passed over, its successor judged on the same current stage.
- **Gates** are read from the delivery reports `octoplan receive` stores, for the recipients of
  the current stage's accepted requests: delivered / sent, not delivered / sent, STOP replies /
  sent. With no report yet, the gate waits. A rate that can still reach its threshold as
  reports arrive (delivered, while some are pending) waits; one that cannot (too many failures
  or STOPs: they never go down) blocks the rollout, said as a warning at the gate.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import compress, repeat
from typing import TYPE_CHECKING, Any
from zlib import crc32

from octoplan.words import plural

if TYPE_CHECKING:
    from octoplan.model import Campaign
    from octoplan.state.base import StageReports, StateReader

SEED = "seed"
_SCALE = 1 << 32
# Batches whose recipients were or may have been sent: they start a stage.
_MAYBE_SENT = frozenset({"accepted", "intent", "in_doubt"})
DELIVERED = frozenset({"DELIVERED", "READ", "OPENED", "CLICKED"})  # as octoplan.events
GATE_NAMES = ("min_delivered_rate", "max_undelivered_rate", "max_stop_rate")


@dataclass(frozen=True)
class Stage:
    label: str  # "seed" or "5%": what state records
    percent: int | None  # None: the seed stage
    seed: str | None = None  # the seed list's file
    wait: timedelta | None = None
    wait_text: str | None = None  # as written: "24h"
    gate: tuple[tuple[str, float], ...] = ()  # (name, threshold), in GATE_NAMES order

    @property
    def title(self) -> str:
        return f"seed {self.seed}" if self.seed is not None else self.label


def stages_of(campaign: Campaign) -> tuple[Stage, ...]:
    from octoplan.model import duration_seconds

    stages = []
    for stage in campaign.rollout or ():
        gate: tuple[tuple[str, float], ...] = ()
        if stage.gate is not None:
            gate = tuple(
                (name, float(value))
                for name in GATE_NAMES
                if (value := getattr(stage.gate, name)) is not None
            )
        wait = timedelta(seconds=duration_seconds(stage.wait)) if stage.wait else None
        if stage.seed is not None:
            stages.append(Stage(SEED, None, stage.seed, wait, stage.wait, gate))
        else:
            assert stage.percent is not None
            stages.append(Stage(f"{stage.percent}%", stage.percent, None, wait, stage.wait, gate))
    return tuple(stages)


def cohort(keys: Sequence[str], indexes: list[int], salt: str, percent: int) -> list[int]:
    """Of `indexes` (into `keys`), those in the first `percent` % of the campaign's audience.
    One CRC-32 per recipient, at C speed (map and compress, no Python loop)."""
    if percent >= 100:
        return indexes
    limit = percent * _SCALE // 100
    start = crc32(salt.encode() + b"\n")
    # (Everyone, as at a first stage: the keys themselves, without an index lookup each.)
    everyone = len(indexes) == len(keys) and indexes[-1:] == [len(keys) - 1]
    chosen = iter(keys) if everyone else map(keys.__getitem__, indexes)
    return list(
        compress(indexes, map(limit.__gt__, map(crc32, map(str.encode, chosen), repeat(start))))
    )


def in_cohort(key: str, salt: str, percent: int) -> bool:
    """One recipient's answer of `cohort` (for explanations and tests)."""
    return crc32(f"{salt}\n{key}".encode()) < percent * _SCALE // 100


@dataclass(frozen=True)
class Progress:
    """What state says of a campaign's rollout: when each stage that sent started."""

    started: dict[str, datetime]

    def current(self, stages: Sequence[Stage]) -> int | None:
        found = [i for i, stage in enumerate(stages) if stage.label in self.started]
        return found[-1] if found else None


def progress(store: StateReader, history: tuple[str, ...]) -> Progress:
    started: dict[str, datetime] = {}
    for record in store.batches(history):
        if record.stage is None or record.status.value not in _MAYBE_SENT:
            continue
        at = record.first_sent_at or record.created_at
        if record.stage not in started or at < started[record.stage]:
            started[record.stage] = at
    return Progress(started)


@dataclass(frozen=True)
class GateCheck:
    name: str
    threshold: float
    value: float | None  # None: no report yet
    ok: bool | None  # None: cannot tell yet
    detail: str  # e.g. "48 of 50 sent delivered"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "threshold": self.threshold,
            "value": self.value,
            "ok": self.ok,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class Release:
    """Whether stage `index` may start now: `status` is "ready", "waiting" or "blocked"."""

    index: int
    status: str
    reasons: tuple[str, ...] = ()
    wait_until: datetime | None = None
    checks: tuple[GateCheck, ...] = ()
    blocking: str | None = None  # the gate rule that blocks (for the warning's position)


def _pct(rate: float) -> str:
    return f"{rate * 100:.1f}%"


def gate_checks(gate: Sequence[tuple[str, float]], reports: StageReports) -> list[GateCheck]:
    sent = reports.sent
    delivered = sum(n for status, n in reports.deliveries.items() if status in DELIVERED)
    failed = reports.final - sum(
        n for status, n in reports.deliveries.items() if status in DELIVERED
    )
    pending = max(sent - reports.final, 0)
    checks = []
    for name, threshold in gate:
        if name == "min_delivered_rate":
            value = delivered / sent
            ok: bool | None = value >= threshold
            if not ok and pending and (delivered + pending) / sent >= threshold:
                ok = None  # reports still to come can reach it
            detail = f"{delivered:,} of {sent:,} sent delivered, {pending:,} without a final report"
        elif name == "max_undelivered_rate":
            value = failed / sent
            ok = value <= threshold
            detail = f"{failed:,} of {sent:,} sent not delivered"
        else:
            value = reports.stops / sent
            ok = value <= threshold
            detail = f"{plural(reports.stops, 'STOP reply', 'STOP replies')} of {sent:,} sent"
        checks.append(GateCheck(name, threshold, round(value, 6), ok, detail))
    return checks


def release(
    stages: Sequence[Stage],
    index: int,
    reference: int | None,
    state: Progress,
    store: StateReader,
    history: tuple[str, ...],
    now: datetime,
) -> Release:
    """May stage `index` start, judged on stage `reference` (the last stage that sent; None:
    none did, and there is nothing to wait for)?"""
    stage = stages[index]
    if reference is None:
        return Release(index, "ready")
    before = stages[reference]
    reasons: list[str] = []
    wait_until = None
    blocked: list[str] = []
    blocking = None
    if stage.wait is not None:
        started = state.started[before.label]
        wait_until = started + stage.wait
        if now < wait_until:
            reasons.append(
                f"wait {stage.wait_text}: stage {reference + 1} ({before.label}) started "
                f"{_moment(started)}, {_left(wait_until - now)} left (until {_moment(wait_until)})"
            )
    checks: list[GateCheck] = []
    if stage.gate:
        reports = store.stage_reports(history, before.label)
        if reports.sent == 0:
            reasons.append(
                f"gate: no request of stage {reference + 1} ({before.label}) confirmed yet"
            )
        elif not reports.deliveries and reports.stops == 0:
            reasons.append(
                f"gate: no delivery report yet for the {reports.sent:,} sent in stage "
                f"{reference + 1} ({before.label})"
            )
            checks = [
                GateCheck(name, threshold, None, None, "no report yet")
                for name, threshold in stage.gate
            ]
        else:
            checks = gate_checks(stage.gate, reports)
            for check in checks:
                said = (
                    f"{_rule(check.name)} {_pct(check.value or 0)} "
                    f"{'<' if check.name.startswith('min') else '>'} {check.name} "
                    f"{_pct(check.threshold)} ({check.detail})"
                )
                if check.ok is False:
                    blocked.append(said)
                    blocking = blocking or check.name
                elif check.ok is None:
                    reasons.append(f"gate: {said}; waiting for the reports still to come")
    if blocked:
        return Release(
            index, "blocked", tuple(blocked), wait_until, tuple(checks), blocking=blocking
        )
    if reasons:
        return Release(index, "waiting", tuple(reasons), wait_until, tuple(checks))
    return Release(index, "ready", (), wait_until, tuple(checks))


def _rule(name: str) -> str:
    return {
        "min_delivered_rate": "delivered rate",
        "max_undelivered_rate": "undelivered rate",
        "max_stop_rate": "STOP rate",
    }[name]


def _moment(at: datetime) -> str:
    """A moment of state (UTC) to the minute."""
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _left(delta: timedelta) -> str:
    minutes = max(int(-(-delta.total_seconds() // 60)), 1)
    days, rest = divmod(minutes, 1440)
    hours, minutes = divmod(rest, 60)
    parts = [f"{days}d"] if days else []
    if hours:
        parts.append(f"{hours}h")
    if minutes and not days:
        parts.append(f"{minutes}m")
    return " ".join(parts) or "1m"


@dataclass(frozen=True)
class RolloutView:
    """A campaign's rollout as a plan shows it (text, JSON, Markdown, saved plans)."""

    stage: int  # 1-based: the stage this plan sends in (or holds at)
    stages: int
    label: str
    seed: str | None
    starts: bool  # this plan starts the stage
    started_at: str | None  # ISO, when the stage started (None: this plan starts it)
    to_send: int  # recipients this plan sends in the stage
    held_back: int  # audience recipients left for later stages
    next: dict[str, Any] | None = None  # stage, label, status, reasons, wait_until, gate
    complete: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "stages": self.stages,
            "label": self.label,
            "seed": self.seed,
            "starts": self.starts,
            "started_at": self.started_at,
            "to_send": self.to_send,
            "held_back": self.held_back,
            "next": self.next,
            "complete": self.complete,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RolloutView:
        return cls(
            stage=int(data["stage"]),
            stages=int(data["stages"]),
            label=str(data["label"]),
            seed=data.get("seed"),
            starts=bool(data.get("starts")),
            started_at=data.get("started_at"),
            to_send=int(data.get("to_send", 0)),
            held_back=int(data.get("held_back", 0)),
            next=data.get("next"),
            complete=bool(data.get("complete")),
        )

    @property
    def title(self) -> str:
        what = f"seed {self.seed}" if self.seed is not None else self.label
        return f"stage {self.stage} of {self.stages} ({what})"

    def lines(self) -> list[str]:
        """What text and Markdown say: the stage, what it sends, why the next one waits."""
        if self.starts:
            whom = "of the seed list" if self.seed is not None else f"of the {self.label} cohort"
            first = f"{self.title} starts: {plural(self.to_send, 'recipient')} {whom}"
        else:
            since = (
                f" since {self.started_at[:16].replace('T', ' ')} UTC" if self.started_at else ""
            )
            first = f"{self.title}{since}"
            if self.to_send:
                first += f": {plural(self.to_send, 'new recipient')} of the stage sent now"
        if self.held_back:
            first += f"; {self.held_back:,} held back for later stages"
        if self.complete:
            first += "; rollout complete"
        lines = [first]
        nxt = self.next
        if nxt is not None and nxt.get("status") in ("waiting", "blocked"):
            verb = "waits" if nxt["status"] == "waiting" else "is blocked by its gate"
            head = f"stage {nxt['stage']} ({nxt['label']}) {verb}"
            reasons = list(nxt.get("reasons") or [])
            lines.append(f"{head}: {'; '.join(reasons)}" if reasons else head)
        elif nxt is not None:
            lines.append(
                f"stage {nxt['stage']} ({nxt['label']}): at a later apply, once this stage is sent"
            )
        return lines


def next_json(stages: Sequence[Stage], verdict: Release | None, index: int) -> dict[str, Any]:
    stage = stages[index]
    data: dict[str, Any] = {
        "stage": index + 1,
        "label": stage.title,
        "status": "after this stage" if verdict is None else verdict.status,
        "reasons": [] if verdict is None else list(verdict.reasons),
        "wait": stage.wait_text,
        "wait_until": None,
        "gate": [{"name": name, "threshold": t} for name, t in stage.gate],
    }
    if verdict is not None:
        if verdict.wait_until is not None:
            data["wait_until"] = verdict.wait_until.isoformat()
        if verdict.checks:
            data["gate"] = [check.to_json() for check in verdict.checks]
    return data


@dataclass
class RolloutSpec:
    """A campaign's rollout as the planner gets it: its stages, the salt of its cohorts, the
    messages of its seed list (a CampaignSpec of the same campaign; None: no seed), and the
    function that plans it (octoplan.rollout_plan.plan_rollout: given, not imported, by
    octoplan/plan.py, on which it builds)."""

    stages: tuple[Stage, ...]
    salt: str
    seed: Any
    planner: Callable[..., Any]
