"""A saved plan read back: the file `plan -o` writes, checked field by field, as a Plan.

`octoplan show FILE` prints it again as text, JSON or Markdown through the very views `plan`
uses, and `apply FILE` reads its state, digest and scope from it. A file that is not a plan
(or not whole) is refused with what is wrong in it, never a bare exception name. What comes
back shows a plan and cannot send one: a plan file holds no request body (recipients are
masked), so its batches refuse to give one.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, NoReturn

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from octoplan.errors import Diagnostic, OctoplanError
from octoplan.partition import Partition
from octoplan.plan import (
    FORMAT_VERSION,
    Action,
    BatchKind,
    CampaignPlan,
    InDoubt,
    Plan,
    PlannedBatch,
    PolicyResult,
    Share,
)
from octoplan.rollout import RolloutView
from octoplan.sentdiff import TextChange
from octoplan.state.base import BatchStatus, StateInfo
from octoplan.target import SANDBOX, Destination
from octoplan.translate import field_name
from octoplan.words import plural


class _Model(BaseModel):
    # Keys a later octoplan adds to plan files are ignored, not refused.
    model_config = ConfigDict(extra="ignore", frozen=True)


class _State(_Model):
    lineage: str
    serial: int
    location: str = ""


class _Batch(_Model):
    request_id: str
    kind: BatchKind
    endpoint: str
    recipients: list[str]
    segments: int = 0
    sms_parts: int = 0
    estimated_cost: float = 0.0
    ticket: str | None = None
    stage: str | None = None


class _Doubt(_Model):
    request_id: str
    recipients: int
    first_sent_at: datetime | None = None
    status: BatchStatus = BatchStatus.IN_DOUBT


class _Diagnostic(_Model):
    path: str
    line: int | None = None
    col: int | None = None
    severity: Literal["error", "warning"] = "error"
    message: str
    hint: str | None = None


class _Sample(_Model):
    recipient: str
    text: str


class _Change(_Model):
    recipient: str
    old: str
    new: str


class _Campaign(_Model):
    id: str
    file: str | None
    channel: str
    action: Action
    batches: list[_Batch]
    desired: int = 0
    already_sent: int = 0
    pending: int = 0
    changed_after_send: int = 0
    duplicates: int = 0
    excluded: int = 0
    in_doubt: list[_Doubt] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    warnings: list[_Diagnostic] = Field(default_factory=list)
    errors: list[_Diagnostic] = Field(default_factory=list)
    samples: list[_Sample] = Field(default_factory=list)
    send_at: str | None = None
    scheduled: int = 0
    text_change: _Change | None = None
    messages_to_send: int = 0
    rollout: dict[str, Any] | None = None


class _Environment(_Model):
    name: str
    api_url: str | None = None
    sandbox: bool = False


class _Summary(_Model):
    currency: str = "EUR"


class _Inputs(_Model):
    files: dict[str, str]


class _Policy(_Model):
    rule: str
    subject: str
    status: str
    detail: str


class _Shard(_Model):
    index: int = Field(ge=1)
    count: int = Field(ge=1)
    recipients: int = 0
    of: int = 0

    @model_validator(mode="after")
    def _within(self) -> _Shard:
        if self.index > self.count:
            raise ValueError(f"index {self.index} is over count {self.count}")
        return self


class PlanDocument(_Model):
    format_version: str
    octoplan_version: str | None = None
    inputs: _Inputs | None = None
    created_at: datetime
    state: _State
    digest: str
    scope: list[str] = Field(default_factory=list)
    sandbox: bool = False
    environment: _Environment | None = None  # None: a file from before environments
    summary: _Summary = Field(default_factory=_Summary)
    shard: _Shard | None = None  # `--shard I/N` (None: all recipients, or an older file)

    @property
    def share(self) -> Share | None:
        found = self.shard
        if found is None:
            return None
        return Share(Partition(found.index, found.count), found.recipients, found.of)

    @property
    def destination(self) -> Destination:
        if self.environment is None:
            return Destination(SANDBOX, None, True) if self.sandbox else Destination()
        env = self.environment
        return Destination(env.name, env.api_url, env.sandbox)

    campaigns: list[_Campaign]
    policies: list[_Policy] = Field(default_factory=list)


def _refuse(path: Path, why: str) -> NoReturn:
    raise OctoplanError(f"{path}: not a plan file written by `octoplan plan -o`: {why}") from None


def _problem(exc: ValidationError) -> str:
    errors = exc.errors(include_url=False)
    error = errors[0]
    where = field_name(tuple(error["loc"])) or "the file"
    message = str(error["msg"])
    what = (
        f"{where} is missing"
        if error["type"] == "missing"
        else f"{where}: {message[:1].lower()}{message[1:]}"
    )
    more = len(errors) - 1
    return what + (f" (and {plural(more, 'more problem')})" if more else "")


def read_document(path: Path) -> PlanDocument:
    """The plan file at `path`, checked; OctoplanError saying what is wrong otherwise."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise OctoplanError(f"{path}: no such plan file") from None
    except IsADirectoryError:
        _refuse(path, "it is a directory")
    except UnicodeDecodeError:
        _refuse(path, "it is not UTF-8 text")
    except OSError as exc:
        raise OctoplanError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        _refuse(path, f"not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})")
    except RecursionError:
        _refuse(path, "its JSON nests too deeply")
    if not isinstance(data, dict):
        _refuse(path, "it holds no JSON object")
    version = data.get("format_version")
    if version is not None and version != FORMAT_VERSION:
        raise OctoplanError(
            f"{path}: plan format version {version!r} is not supported "
            f"(this octoplan reads {FORMAT_VERSION!r}); run `octoplan plan -o {path}` again"
        )
    try:
        return PlanDocument.model_validate(data)
    except ValidationError as exc:
        _refuse(path, _problem(exc))
    except RecursionError:
        _refuse(path, "its JSON nests too deeply")


def _no_body() -> tuple[str, tuple[str, ...]]:
    raise OctoplanError("a saved plan holds no request bodies: `octoplan apply FILE` rebuilds them")


def _diagnostic(d: _Diagnostic) -> Diagnostic:
    return Diagnostic(d.path, d.line, d.col, d.message, d.hint, d.severity)


def _campaign(c: _Campaign) -> CampaignPlan:
    batches = tuple(
        PlannedBatch(
            kind=b.kind,
            request_id=b.request_id,
            endpoint=b.endpoint,
            recipients=tuple(b.recipients),  # masked as saved
            contents=_no_body,
            text="",
            segments=b.segments,
            parts=b.sms_parts,
            estimated_cost=b.estimated_cost,
            ticket=b.ticket,
            stage=b.stage,
        )
        for b in c.batches
    )
    change = c.text_change
    return CampaignPlan(
        id=c.id,
        file=c.file,
        channel=c.channel,
        action=c.action,
        batches=batches,
        in_doubt=tuple(
            InDoubt(d.request_id, d.recipients, d.first_sent_at, d.status) for d in c.in_doubt
        ),
        desired=c.desired,
        already_sent=c.already_sent,
        pending=c.pending,
        changed_after_send=c.changed_after_send,
        duplicates=c.duplicates,
        excluded=c.excluded,
        warnings=tuple(map(_diagnostic, c.warnings)),
        errors=tuple(map(_diagnostic, c.errors)),
        samples=tuple((s.recipient, s.text) for s in c.samples),
        notes=tuple(c.notes),
        send_at=c.send_at,
        scheduled=c.scheduled,
        text_change=None
        if change is None
        else TextChange(change.recipient, change.old, change.new),
        rollout=None if c.rollout is None else _rollout(c.rollout),
    )


def _rollout(data: dict[str, Any]) -> RolloutView:
    try:
        return RolloutView.from_json(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise OctoplanError(f"a campaign's rollout is not whole: {exc}") from None


def read_plan(path: Path) -> Plan:
    """The saved plan at `path` as a Plan to show (recipients stay masked)."""
    document = read_document(path)
    return Plan(
        created_at=document.created_at,
        state=StateInfo(document.state.lineage, document.state.serial, 0, document.state.location),
        campaigns=tuple(map(_campaign, document.campaigns)),
        currency=document.summary.currency,
        scope=tuple(document.scope),
        digest=document.digest,
        destination=document.destination,
        shard=document.share,
        policies=tuple(
            PolicyResult(p.rule, p.subject, p.status, p.detail) for p in document.policies
        ),
    )
