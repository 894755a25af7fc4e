"""A loaded campaign to the exact messages it wants sent: contacts x template -> final texts.

For each contact: render the Jinja template, then do what the API will do to the text
(`{first_name}`-style personalization on the SMS endpoint, `auto_optimize_text` unless it is
false), count the SMS parts and price the message. The text kept is the one the recipient
will see.

Batching: `sms-campaign/send` personalizes server-side, so one request can carry 500 texts if
they differ only in `{first_name}`/`{paramN}` slots. When a contact has such fields, the template
is rendered a second time with each of them replaced by its slot; if personalizing that text
gives exactly the final text, it becomes the message's `request_text` (shared by every contact
with the same shape), otherwise the final text itself is sent. Either way
`apply_placeholders(request_text, fields)` is the delivered text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from octoplan.contacts import ContactSource, ItemsSource, collect, open_source
from octoplan.errors import Diagnostic
from octoplan.loader import Project
from octoplan.payload import shape
from octoplan.placeholders import MAX_VALUE_LENGTH, PLACEHOLDER_FIELDS, apply_placeholders
from octoplan.policies import MessageChecks, check_send_at
from octoplan.render import Origin, Renderer, RenderError, compile_template, make_environment
from octoplan.sms import auto_optimize
from octoplan.sms import count as count_sms
from octoplan.source import CampaignSource

TEMPLATES_DIR = "templates"
_IDENTITY = ("phone_number", "email", "conversation_id")
_SLOTS = {name: "{" + name + "}" for name in PLACEHOLDER_FIELDS}


class DesiredMessage(NamedTuple):
    key: str  # recipient identity in state
    fields: dict[str, str]  # the recipient object as the API gets it
    text: str  # exactly what the recipient will see
    request_text: str  # the text put in the request (may hold {first_name}-style slots)
    segments: int
    encoding: str
    cost: float


@dataclass
class DesiredCampaign:
    source: CampaignSource
    messages: list[DesiredMessage] = field(default_factory=list)
    duplicates: int = 0
    excluded: int = 0
    cost: float = 0.0
    warnings: list[Diagnostic] = field(default_factory=list)
    errors: list[Diagnostic] = field(default_factory=list)


def _inline_source(source: CampaignSource) -> ItemsSource:
    items: list[tuple[object, int, Mapping[str, int]]] = []
    for index, recipient in enumerate(source.campaign.recipients):
        fields = recipient.fields()
        line = source.where("recipients", index)[1] or 1
        cols = {name: source.where("recipients", index, name)[2] or 1 for name in fields}
        items.append((fields, line, cols))
    return ItemsSource(source.where("recipients")[0], items)


def _sources(project: Project, source: CampaignSource, names: list[str]) -> list[ContactSource]:
    return [open_source(project.root / name, name) for name in names]


def _text_origin(project: Project, source: CampaignSource) -> tuple[Origin, str]:
    """Where the template's line 1 is, and the template's own text (for policy messages)."""
    templates = project.root / TEMPLATES_DIR
    campaign = source.campaign
    if campaign.template is not None:
        path, line, _ = source.where("template")
        # (A file that is not UTF-8 is reported by the template loader, at its position.)
        text = (templates / campaign.template).read_text(encoding="utf-8", errors="replace")
        return Origin(path, line or 1, templates), text
    path, line, col = source.where("text")
    first = line or 1
    if line is not None and col is not None:
        # A block scalar (`text: |`) starts on the line after its indicator.
        written = (project.root / path).read_text(encoding="utf-8").splitlines()
        if line <= len(written) and written[line - 1][col - 1 : col] in ("|", ">"):
            first += 1
    return Origin(path, first, templates), campaign.text or ""


def _context(project: Project, source: CampaignSource) -> tuple[dict[str, Any], dict[str, Any]]:
    campaign = source.campaign
    variables = {**project.config.vars, **campaign.vars}
    info = {
        "id": campaign.id,
        "channel": campaign.channel,
        "send_at": campaign.send_at.isoformat() if campaign.send_at else None,
        "sender": campaign.sender,
        "purpose": campaign.purpose or "wholesale",
    }
    return variables, info


class _RenderErrors:
    """One diagnostic per distinct problem, saying how many recipients it hits."""

    def __init__(self) -> None:
        self.first: dict[tuple[str, int | None, str], Diagnostic] = {}
        self.count: dict[tuple[str, int | None, str], int] = {}

    def add(self, diagnostic: Diagnostic) -> None:
        key = (diagnostic.path, diagnostic.line, diagnostic.message.split(": ", 1)[-1])
        self.first.setdefault(key, diagnostic)
        self.count[key] = self.count.get(key, 0) + 1

    def diagnostics(self) -> list[Diagnostic]:
        out = []
        for key, diagnostic in self.first.items():
            others = self.count[key] - 1
            if others:
                more = f" (and {others:,} other recipient{'s' if others > 1 else ''})"
                diagnostic = Diagnostic(
                    diagnostic.path,
                    diagnostic.line,
                    diagnostic.col,
                    diagnostic.message + more,
                    diagnostic.hint,
                )
            out.append(diagnostic)
        return out


_environments: dict[Path, Any] = {}


def build_campaign(project: Project, source: CampaignSource) -> DesiredCampaign:
    campaign = source.campaign
    config = project.config
    result = DesiredCampaign(source)
    contacts = collect(
        [_inline_source(source), *_sources(project, source, campaign.contacts)],
        _sources(project, source, campaign.exclude),
        campaign.channel,
        config.region,
    )
    result.duplicates, result.excluded = contacts.duplicates, contacts.excluded
    result.errors.extend(contacts.errors)

    templates = project.root / TEMPLATES_DIR
    env = _environments.get(templates)
    if env is None:
        env = _environments[templates] = make_environment(templates)
    origin, template_text = _text_origin(project, source)
    try:
        template = compile_template(env, origin, text=campaign.text, name=campaign.template)
    except RenderError as exc:
        result.errors.append(exc.diagnostic)
        return result
    variables, info = _context(project, source)
    render = Renderer(template, origin, campaign.id, variables, info)

    request = shape(campaign)
    personalizes = request.personalizes
    optimize = campaign.channel == "sms" and campaign.auto_optimize_text is not False
    text_where = source.where("template" if campaign.template is not None else "text")
    checks = MessageChecks(
        campaign_id=campaign.id,
        channel=campaign.channel,
        marketing=campaign.marketing,
        text_where=text_where,
        template_source=template_text,
        template_first_line=origin.first_line if campaign.template is None else 1,
        template_path=origin.path
        if campaign.template is None
        else f"templates/{campaign.template}",
        max_segments=config.policies.max_segments,
        pricing=config.pricing,
    )
    errors = _RenderErrors()
    messages = result.messages
    for contact in contacts.contacts:
        fields = contact.fields
        shown = f"{contact.key} ({contact.path}:{contact.line})"
        try:
            rendered = render(fields, shown)
        except RenderError as exc:
            errors.add(exc.diagnostic)
            continue
        api_fields = {k: fields[k] for k in _IDENTITY if k in fields}
        request_text = text = rendered
        if personalizes:
            personal = {
                k: fields[k]
                for k in PLACEHOLDER_FIELDS
                if k in fields and len(fields[k]) <= MAX_VALUE_LENGTH
            }
            api_fields.update(personal)
            text = apply_placeholders(rendered, personal)
            if personal:
                request_text = _slotted(render, fields, personal, text, shown) or text
            elif text != rendered:
                request_text = text
        if optimize:
            text = auto_optimize(text)
        sms = count_sms(text)
        cost = checks.check(contact.key, text, sms)
        messages.append(
            DesiredMessage(
                contact.key, api_fields, text, request_text, sms.segments, sms.encoding, cost
            )
        )
    result.errors.extend(errors.diagnostics())
    result.cost = checks.cost
    diagnostics = checks.report() if messages else []
    marketing_send = campaign.marketing and campaign.channel in ("sms", "voice_sms", "rcs")
    if marketing_send and campaign.send_at is not None:
        late = check_send_at(
            campaign.send_at, config.policies.marketing_hours, source.where("send_at"), campaign.id
        )
        if late is not None:
            diagnostics.append(late)
    result.errors.extend(d for d in diagnostics if d.severity == "error")
    result.warnings.extend(d for d in diagnostics if d.severity == "warning")
    return result


def _slotted(
    render: Renderer, fields: dict[str, str], personal: dict[str, str], text: str, shown: str
) -> str | None:
    """The template rendered with personal fields as API slots, if the API would then deliver
    exactly `text`; None otherwise."""
    slotted = {**fields, **{k: _SLOTS[k] for k in personal}}
    try:
        candidate = render(slotted, shown)
    except RenderError:
        return None
    return candidate if apply_placeholders(candidate, personal) == text else None


def build_all(project: Project) -> list[DesiredCampaign]:
    return [build_campaign(project, source) for source in project.campaigns]
