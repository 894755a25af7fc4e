"""`octoplan render CAMPAIGN`: the exact text each recipient will receive.

A local preview, so recipients are shown in clear (plans, which are shared, mask them).
"""

from __future__ import annotations

import json

from octoplan import channels
from octoplan.channels import EMAIL_FIELD
from octoplan.commands.context import AppContext
from octoplan.contacts import FieldError, identify
from octoplan.desired import DesiredMessage, build_campaign
from octoplan.errors import UsageError, ValidationFailed
from octoplan.loader import load_project
from octoplan.words import plural


def _wanted(raw: str, channel: str, region: str) -> str:
    """The identity key of `--recipient`, normalized like contacts are."""
    field = channels.get(channel).identity_field
    if "@" in raw:
        field = EMAIL_FIELD
    try:
        return identify({field: raw}, channel, region)[0]
    except (FieldError, KeyError):
        return raw.strip()  # not a valid identity: it matches nobody, said below


def run(app: AppContext, campaign: str, recipient: str | None, limit: int | None, fmt: str) -> int:
    project = load_project(app.root, choice=app.choice())
    source = project.campaign(campaign)
    if source is None:
        known = ", ".join(sorted(c.id for c in project.campaigns)) or "none"
        raise UsageError(f"no campaign with id '{campaign}'; known: {known}")
    desired = build_campaign(project, source)
    if desired.errors:
        raise ValidationFailed(desired.errors)
    for warning in desired.warnings:
        app.note(warning.format())
    messages: list[DesiredMessage] = desired.messages
    if recipient is not None:
        key = _wanted(recipient, source.campaign.channel, project.config.region)
        messages = [m for m in messages if m.key == key]
        if not messages:
            raise UsageError(f"campaign {campaign} has no recipient {recipient.strip()}")
    if limit is not None:
        messages = messages[:limit]
    if fmt == "json":
        rows = [
            {
                "recipient": m.key,
                "text": m.text,
                "encoding": m.encoding,
                "segments": m.segments,
                "cost": m.cost,
            }
            for m in messages
        ]
        app.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    for index, m in enumerate(messages):
        if index:
            app.echo()
        if channels.get(source.campaign.channel).bills_per_part:  # parts and encodings matter
            app.echo(f"# {m.key} ({plural(m.segments, 'SMS part')}, {m.encoding})")
        else:
            app.echo(f"# {m.key}")
        app.echo(m.text)
    return 0
