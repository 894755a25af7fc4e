"""`send-test`: one campaign's text, rendered for one of its recipients, sent now to addresses
given on the command line (your own phone, a colleague's inbox).

The request is the campaign's own (endpoint, sender, purpose, channel options), without its
`send_at` and with the given addresses as recipients, each carrying the chosen recipient's
personal fields, so that what the API personalizes (`{first_name}`...) reads as it will for
that recipient. The checks a real send gets apply: the campaign must be valid, a marketing
message goes out within marketing hours only, and an address that replied STOP or is on the
campaign's `exclude` lists is not sent to (a marketing message; STOP concerns the phone
channels). Its request_id holds the moment it is made: each `send-test` is a new test, and a
retry of one request (a 5xx, a timeout) reuses its id.

It is recorded in the target's state as a test (the audit log), never as a send to any
recipient: a later plan still plans every recipient, and neither the frequency cap nor the
30-day repeat guard counts it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from octoplan import ids, optouts
from octoplan.channels import EMAIL_FIELD, PHONE_FIELD
from octoplan.contacts import FieldError, identify, identity_field
from octoplan.desired import build_campaign, excluded_by_lists
from octoplan.errors import UsageError, ValidationFailed
from octoplan.hours import Hours, local_time
from octoplan.loader import Project
from octoplan.mask import mask_recipient
from octoplan.messages import DesiredMessage
from octoplan.payload import IDENTITY_FIELDS, PERSONAL_FIELDS, shape
from octoplan.source import CampaignSource


@dataclass(frozen=True)
class TestSend:
    campaign_id: str
    channel: str
    marketing: bool
    as_key: str  # the recipient whose text it is
    text: str  # what the addresses will see
    segments: int
    endpoint: str
    request_id: str
    payload: str  # the request body (canonical JSON, request_id in it)
    to: tuple[str, ...]  # the addresses it goes to, normalized
    skipped: tuple[tuple[str, str], ...]  # (address, why) not sent to


def prepare(
    project: Project,
    source: CampaignSource,
    to: Sequence[str],
    as_recipient: str | None,
    now: datetime,
    opted_out: Mapping[str, datetime],
) -> TestSend:
    """The test request, checked; refused (UsageError, ValidationFailed) when it cannot go."""
    campaign = source.campaign
    if not campaign.enabled:
        raise UsageError(f"campaign {campaign.id} is disabled (enabled: false): it sends nothing")
    desired = build_campaign(project, source)
    if desired.errors:
        raise ValidationFailed(desired.errors)
    message = _chosen(desired.messages, campaign.id, campaign.channel, as_recipient, project)
    region = project.config.region
    addresses = _addresses(to, campaign.channel, region)
    skipped: list[tuple[str, str]] = []
    marketing = campaign.marketing
    if marketing:
        _check_hours(project, campaign.id, addresses, now)
        excluded = excluded_by_lists(project, source)
        stops = opted_out if optouts.applies(marketing, campaign.channel) else {}
        for key in addresses:
            if key in stops:
                skipped.append((key, f"opted out by STOP reply on {optouts.stop_day(stops[key])}"))
            elif key in excluded:
                skipped.append((key, "on the campaign's exclude lists"))
    kept = tuple(key for key in addresses if key not in dict(skipped))
    request = shape(campaign)
    body = request.body(message.request_text, [])
    body.pop("send_at", None)  # now
    field = PHONE_FIELD if request.personalizes else identity_field(campaign.channel)
    personal = {k: v for k, v in message.fields.items() if k in PERSONAL_FIELDS}
    recipients = [{field: key, **(personal if request.personalizes else {})} for key in kept]
    body["recipients"] = [
        {k: r[k] for k in (*IDENTITY_FIELDS, *PERSONAL_FIELDS) if k in r} for r in recipients
    ]
    request_id = (
        ids.REQUEST_ID_PREFIX
        + ids.options_digest({"send-test": campaign.id, "at": now.isoformat(), "body": body}).hex()
    )
    if request.request_id_in_metadata:
        body["metadata"] = {**body.get("metadata", {}), "request_id": request_id}
    else:
        body["request_id"] = request_id
    return TestSend(
        campaign_id=campaign.id,
        channel=campaign.channel,
        marketing=marketing,
        as_key=message.key,
        text=message.text,
        segments=message.segments,
        endpoint=request.endpoint,
        request_id=request_id,
        payload=ids.canonical_json(body),
        to=kept,
        skipped=tuple(skipped),
    )


def _chosen(
    messages: list[DesiredMessage],
    campaign_id: str,
    channel: str,
    wanted: str | None,
    project: Project,
) -> DesiredMessage:
    if not messages:
        raise UsageError(f"campaign {campaign_id} has no recipient to render its text for")
    if wanted is None:
        return messages[0]
    key = _key(wanted, channel, project.config.region)
    for message in messages:
        if message.key == key:
            return message
    raise UsageError(
        f"campaign {campaign_id} has no recipient {mask_recipient(key)} (--as): give one of its "
        "recipients, or leave --as out for the first"
    )


def _key(raw: str, channel: str, region: str) -> str:
    field = EMAIL_FIELD if "@" in raw else identity_field(channel)
    try:
        return identify({field: raw}, channel, region)[0]
    except (FieldError, KeyError):
        return raw.strip()


def _addresses(to: Sequence[str], channel: str, region: str) -> tuple[str, ...]:
    field = identity_field(channel)
    keys: list[str] = []
    for index, raw in enumerate(to, 1):
        try:
            key = identify({field: raw}, channel, region)[0]
        except (FieldError, KeyError) as exc:
            hint = f" ({exc.hint})" if isinstance(exc, FieldError) and exc.hint else ""
            raise UsageError(
                f"--to address {index} is not a {field} that channel {channel} can reach{hint}; "
                "nothing was sent"
            ) from None
        if key not in keys:
            keys.append(key)
    return tuple(keys)


def _check_hours(
    project: Project, campaign_id: str, addresses: Sequence[str], now: datetime
) -> None:
    """A marketing test goes out within marketing hours, as the campaign would."""
    policy = project.config.policies.marketing_hours
    hours = Hours(policy, project.config.region)
    for key in addresses:
        places = hours.places_of(key)
        for place in places:
            why = hours.closed(now, place)
            if why is not None:
                opens = hours.next_open(now, places)
                when = f"; they open {local_time(opens, place.zone)}" if opens else ""
                raise UsageError(
                    f"campaign {campaign_id} is marketing and marketing hours are closed for "
                    f"{mask_recipient(key)} ({place.label}): {why}{when}; nothing was sent"
                )


def audit_detail(test: TestSend, outcome: str) -> str:
    """The audit log's line for a test (addresses masked)."""
    to = ", ".join(mask_recipient(key) for key in test.to)
    return (
        f"campaign {test.campaign_id}: request {test.request_id} to {to}, the text of "
        f"{mask_recipient(test.as_key)}: {outcome}"
    )
