"""A loaded campaign to the exact messages it wants sent: contacts x template -> final texts.

This module puts the parts together: it opens the campaign's contact sources (inline
recipients, files, exclude lists: octoplan/contactfiles.py, octoplan/contacts.py), compiles its
template, and feeds the contacts, a chunk at a time (on several cores for a big CSV file:
octoplan/shards.py), to a builder. The builder (octoplan/fastpath.py) composes the texts of
contacts sharing a message skeleton, checked against, and falling back to, the reference
render of one contact at a time (octoplan/fullrender.py). Either way each message carries the
text the recipient will see, its request text (`apply_placeholders(request_text, fields)` is
the delivered text), its SMS parts and its price; then the campaign-wide policy checks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from octoplan import channels, ids, prices, shards
from octoplan.contactfiles import ContactSource, CsvSource, ItemsSource, open_source
from octoplan.contacts import (
    ContactSet,
    Deduper,
    capped,
    excluded_keys,
    identified,
    kept,
    skipped,
    stream_chunks,
)
from octoplan.errors import Diagnostic, ValidationFailed
from octoplan.fastpath import FastPath
from octoplan.gcpause import paused_gc
from octoplan.loader import Project
from octoplan.merge import field_use
from octoplan.messages import DesiredMessage, Messages
from octoplan.payload import options_of, shape
from octoplan.policies import MessageChecks, check_send_at
from octoplan.render import Origin, Renderer, RenderError, compile_template, make_environment
from octoplan.source import CampaignSource, Where

if TYPE_CHECKING:
    from jinja2.sandbox import SandboxedEnvironment

TEMPLATES_DIR = "templates"


@dataclass
class DesiredCampaign:
    source: CampaignSource
    columns: Messages = field(default_factory=Messages)
    duplicates: int = 0
    excluded: int = 0
    cost: float = 0.0
    warnings: list[Diagnostic] = field(default_factory=list)
    errors: list[Diagnostic] = field(default_factory=list)
    regions: frozenset[str | None] = frozenset()  # destination regions of the messages

    @property
    def messages(self) -> list[DesiredMessage]:
        """The messages one by one, in the contacts' order (for previews and tests; plans
        read `columns`)."""
        columns = self.columns
        return [
            columns.message(i) for i in sorted(range(len(columns)), key=columns.order.__getitem__)
        ]


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


def excluded_by_lists(project: Project, source: CampaignSource) -> set[str]:
    """The identities the campaign's `exclude` lists hold (read again: `send-test` checks its
    addresses against them)."""
    campaign = source.campaign
    contacts = ContactSet([])
    keys = excluded_keys(
        _sources(project, source, campaign.exclude),
        campaign.channel,
        project.config.region,
        contacts,
    )
    if contacts.errors:
        raise ValidationFailed(contacts.errors)
    return keys


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


def build_campaign(
    project: Project,
    source: CampaignSource,
    *,
    keep_texts: bool = True,
    sent: Mapping[str, str] | None = None,
    seed: str | None = None,
) -> DesiredCampaign:
    """The campaign's messages; a plan asks for no texts (see Messages.text) and gives the
    recipients state has sent (key -> content hash), to be compared while building
    (Messages.sent); without them, every text's content hash is kept (Messages.hashes).
    `seed`: the contact file of a rollout's seed stage, whose messages are built instead of
    the audience's."""
    campaign = source.campaign
    config = project.config
    result = DesiredCampaign(source)
    contacts = ContactSet([])
    if seed is not None:
        sources = _sources(project, source, [seed])
    else:
        sources = [_inline_source(source), *_sources(project, source, campaign.contacts)]
    exclude = _sources(project, source, campaign.exclude)

    env = _environment(project)
    origin, template_text = _text_origin(project, source)
    try:
        template = compile_template(env, origin, text=campaign.text, name=campaign.template)
    except RenderError as exc:
        for _ in stream_chunks(sources, exclude, campaign.channel, config.region, contacts):
            pass  # still read every contact, to report the lists' own errors
        result.duplicates, result.excluded = contacts.duplicates, contacts.excluded
        result.errors.extend([*contacts.errors, exc.diagnostic])
        return result
    variables, info = _context(project, source)
    render = Renderer(template, origin, campaign.id, variables, info)

    request = shape(campaign)
    text_where = source.where("template" if campaign.template is not None else "text")

    def make_builder() -> FastPath:
        return FastPath(
            render,
            use,
            _new_checks(project, source, text_where, origin, template_text),
            personalizes=request.personalizes,
            optimize=channels.get(campaign.channel).auto_optimizes
            and campaign.auto_optimize_text is not False,
            options=ids.options_digest(options_of(request)),
            keep_texts=keep_texts,
            sent=sent,
        )

    use = field_use(env, template_text)
    builder = make_builder()
    deduper = Deduper(excluded_keys(exclude, campaign.channel, config.region, contacts), contacts)
    with paused_gc():
        _build_all(
            sources,
            deduper,
            builder,
            make_builder,
            campaign.channel,
            config.region,
            contacts,
            skip=f"campaign {campaign.id}" if campaign.on_invalid == "skip" else None,
        )
    _conclude(result, builder, contacts, project, source)
    return result


def _environment(project: Project) -> SandboxedEnvironment:
    """The Jinja environment of the project's templates, made once per project."""
    templates = project.root / TEMPLATES_DIR
    env: SandboxedEnvironment | None = project.template_environments.get(templates)
    if env is None:
        env = project.template_environments[templates] = make_environment(templates)
    return env


def _new_checks(
    project: Project,
    source: CampaignSource,
    text_where: Where,
    origin: Origin,
    template_text: str,
) -> MessageChecks:
    """The policy checks of one builder (each shard's builder counts its own)."""
    campaign, config = source.campaign, project.config
    return MessageChecks(
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
        product=prices.product(campaign.channel, campaign.option("type")),
    )


def _conclude(
    result: DesiredCampaign,
    builder: FastPath,
    contacts: ContactSet,
    project: Project,
    source: CampaignSource,
) -> None:
    """The built messages, and what the contacts and the policies said of them, into `result`."""
    campaign, config = source.campaign, project.config
    checks = builder.checks
    messages = result.columns = builder.messages
    result.duplicates, result.excluded = contacts.duplicates, contacts.excluded
    result.errors.extend(contacts.errors)
    result.warnings.extend(contacts.warnings)
    result.errors.extend(builder.errors.diagnostics())
    result.cost = checks.cost
    result.regions = frozenset(checks.regions)
    diagnostics = checks.report() if messages else []
    marketing_send = campaign.marketing and channels.get(campaign.channel).marketing_hours
    if marketing_send and campaign.send_at is not None:
        late = check_send_at(
            campaign.send_at, config.policies.marketing_hours, source.where("send_at"), campaign.id
        )
        if late is not None:
            diagnostics.append(late)
    result.errors.extend(d for d in diagnostics if d.severity == "error")
    result.warnings.extend(d for d in diagnostics if d.severity == "warning")


def _build_all(
    sources: list[ContactSource],
    deduper: Deduper,
    builder: FastPath,
    make_builder: Callable[[], FastPath],
    channel: str,
    region: str,
    contacts: ContactSet,
    *,
    skip: str | None = None,  # `on_invalid: skip`: who skips (the campaign), for the warning
) -> None:
    for contact_source in sources:
        parts = shards.split(contact_source)
        if parts is not None and isinstance(contact_source, CsvSource):
            shards.build(contact_source, parts, deduper, builder, make_builder, channel, region)
        else:
            for keys, columns, lines in identified(contact_source, channel, region):
                chunk = kept(contact_source, keys, columns, lines, deduper.keep(keys))
                if chunk is not None:
                    builder.add(chunk)
        errors = contact_source.errors
        if skip is not None:
            errors, warning = skipped(errors, skip)
            if warning is not None:
                contacts.warnings.append(warning)
        contacts.errors.extend(capped(errors))


__all__ = ["DesiredCampaign", "DesiredMessage", "build_all", "build_campaign"]


def build_all(project: Project) -> list[DesiredCampaign]:
    """Every campaign's messages, and those of its rollout's seed list (validate renders them
    all)."""
    built = []
    for source in project.campaigns:
        built.append(build_campaign(project, source))
        seed = next((s.seed for s in source.campaign.rollout or () if s.seed is not None), None)
        if seed is not None:
            built.append(build_campaign(project, source, seed=seed))
    return built
