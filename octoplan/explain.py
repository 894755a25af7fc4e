"""`octoplan explain RECIPIENT`: for every campaign, what octoplan did for one recipient and why.

Meant for a person asking about their own data (a GDPR access request, a support ticket), so
the recipient is shown in clear, and nothing about any other recipient is. For each campaign
of the project (and each one state still knows after its file was removed) the verdict is the
first that holds of:

1. sent: a request holding the recipient was accepted (when, which request, the ticket, and
   the delivery status reported since);
2. unconfirmed: a request left and was not confirmed yet (the next apply resends it under the
   same request_id), or in doubt: unconfirmed for over 23 h (`octoplan state resolve`);
3. excluded: the recipient is in one of the campaign's `exclude:` lists;
4. opted out: the number replied STOP (a marketing campaign on sms, voice_sms or rcs);
5. capped: over the frequency cap (reported once `policies.frequency_cap` exists: see
   `_capped`);
6. to send: in the audience, nothing stops it: the next apply sends it (after a refusal, a
   cancellation or `state resolve --not-sent`, again under a new request_id);
7. not a recipient of the campaign.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from octoplan import clock
from octoplan.contactfiles import open_source
from octoplan.contacts import ContactSet, FieldError, excluded_keys, identify
from octoplan.errors import UsageError
from octoplan.events import normalize_number
from octoplan.frequency import Ledger
from octoplan.loader import Project
from octoplan.optouts import applies, stop_day
from octoplan.source import CampaignSource
from octoplan.state.base import BatchRecord, BatchStatus, StateReader
from octoplan.state.eventlog import RecipientDelivery
from octoplan.words import plural

FORMAT_VERSION = "1"
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@dataclass(frozen=True)
class CampaignExplanation:
    id: str
    channel: str
    file: str | None  # None: only in state (its file was removed)
    marketing: bool | None  # None: unknown (file removed)
    verdict: str
    reasons: tuple[str, ...]
    requests: tuple[BatchRecord, ...]
    delivery: RecipientDelivery | None
    stops: tuple[datetime, ...] = ()
    replies: int = 0


@dataclass(frozen=True)
class Explanation:
    recipient: str
    opted_out_at: datetime | None
    campaigns: tuple[CampaignExplanation, ...] = field(default=())


def recipient_key(raw: str, region: str) -> str:
    """The state key of a number (any format, read in `region`), e-mail or conversation id."""
    text = raw.strip()
    if "@" in text:
        return text.lower()
    if _UUID.fullmatch(text.lower()):
        return text.lower()
    number = normalize_number(text, region)
    if number is None:
        raise UsageError(
            f"'{text}' is not a phone number (region {region}), an e-mail address or a "
            "live-chat conversation id"
        )
    return number


def explain(project: Project, store: StateReader, raw: str) -> Explanation:
    key = recipient_key(raw, project.config.region)
    opted_out_at = store.opted_out().get(key)
    records = [store.batch(rid) for rid in store.batches_of_recipient(key)]
    by_campaign: dict[str, list[BatchRecord]] = {}
    for record in records:
        if record is not None:
            by_campaign.setdefault(record.campaign_id, []).append(record)
    deliveries = {d.campaign_id: d for d in store.recipient_deliveries(key)}
    stops: dict[str, list[datetime]] = {}
    replies: dict[str, int] = {}
    for event in store.recipient_events(key):
        if event.campaign_id is None or event.occurred_at is None:
            continue
        if event.kind == "stop":
            stops.setdefault(event.campaign_id, []).append(event.occurred_at)
        elif event.kind == "reply":
            replies[event.campaign_id] = replies.get(event.campaign_id, 0) + 1
    cap = project.config.policies.frequency_cap
    ledger = None if cap is None else Ledger.read(store, cap, clock.now())
    explained = []
    known = set()
    for source in project.campaigns:
        campaign = source.campaign
        known.add(campaign.id)
        explained.append(
            _campaign(
                project,
                store,
                source,
                key,
                by_campaign.get(campaign.id, []),
                deliveries.get(campaign.id),
                opted_out_at,
                stops.get(campaign.id, []),
                replies.get(campaign.id, 0),
                ledger,
            )
        )
    for campaign_id in sorted(set(by_campaign) - known):
        requests = by_campaign[campaign_id]
        verdict, reasons = _journal_verdict(requests, deliveries.get(campaign_id))
        explained.append(
            CampaignExplanation(
                id=campaign_id,
                channel=requests[0].channel,
                file=None,
                marketing=None,
                verdict=verdict or "not sent",
                reasons=("campaign file removed", *reasons),
                requests=tuple(requests),
                delivery=deliveries.get(campaign_id),
                stops=tuple(stops.get(campaign_id, [])),
                replies=replies.get(campaign_id, 0),
            )
        )
    return Explanation(key, opted_out_at, tuple(explained))


def _campaign(
    project: Project,
    store: StateReader,
    source: CampaignSource,
    key: str,
    requests: list[BatchRecord],
    delivery: RecipientDelivery | None,
    opted_out_at: datetime | None,
    stops: list[datetime],
    replies: int,
    ledger: Ledger | None = None,
) -> CampaignExplanation:
    campaign = source.campaign
    verdict, reasons = _journal_verdict(requests, delivery)
    later: list[str] = []
    region = project.config.region
    if verdict is None:
        if not _in_audience(project, source, key):
            verdict, reasons = "not a recipient", ["not in the campaign's recipients or contacts"]
        elif key in _keys_of(project, campaign.exclude, campaign.channel, region):
            verdict = "excluded"
            reasons.append(f"in an exclude list ({', '.join(campaign.exclude)})")
        elif opted_out_at is not None and applies(campaign.marketing, campaign.channel):
            verdict = "opted out"
            reasons.append(f"opted out by STOP reply on {stop_day(opted_out_at)}")
        elif (capped := _capped(source, key, ledger)) is not None:
            verdict = "capped"
            reasons.append(capped)
        else:
            verdict = "to send"
            reasons.append(
                _stage_of(project, source, key, store) or "in the audience: the next apply sends it"
            )
    elif opted_out_at is not None and applies(campaign.marketing, campaign.channel):
        later.append(
            f"opted out by STOP reply on {stop_day(opted_out_at)}: no later marketing send"
        )
        now = clock.now()
        for record in requests:
            if record.status is BatchStatus.ACCEPTED and _still_scheduled(record, now):
                later.append(
                    f"request {record.request_id} has not gone out yet: the next apply "
                    "cancels it and sends its other recipients again, without this number"
                )
    for at in stops:
        later.append(f"replied STOP to this campaign on {stop_day(at)}")
    if replies:
        later.append(f"replied {replies} time(s) to this campaign")
    return CampaignExplanation(
        id=campaign.id,
        channel=campaign.channel,
        file=source.path,
        marketing=campaign.marketing,
        verdict=verdict,
        reasons=(*reasons, *later),
        requests=tuple(requests),
        delivery=delivery,
        stops=tuple(stops),
        replies=replies,
    )


def _stage_of(project: Project, source: CampaignSource, key: str, store: StateReader) -> str | None:
    """With a rollout: the stage whose cohort holds the recipient, and whether it has started
    (None without a rollout, or when the environment's own audience replaces the campaign's)."""
    from octoplan import rollout

    campaign = source.campaign
    settings = project.config.environments.get(project.environment)
    if not campaign.rollout or (settings is not None and settings.replaces_audience):
        return None
    stages = rollout.stages_of(campaign)
    index = next(
        i
        for i, stage in enumerate(stages)
        if stage.percent is not None and rollout.in_cohort(key, campaign.id, stage.percent)
    )
    history = (campaign.id, *campaign.renamed_from)
    current = rollout.progress(store, history).current(stages)
    cohort = f"in the cohort of rollout stage {index + 1} ({stages[index].label})"
    if current is not None and current >= index:
        return f"{cohort}, which has started: the next apply sends it"
    at = "none has started yet" if current is None else f"the rollout is at stage {current + 1}"
    return f"{cohort}; {at}: sent by the apply that starts stage {index + 1}"


def _still_scheduled(record: BatchRecord, now: datetime) -> bool:
    if not record.send_at or not record.ticket:
        return False
    # A journaled send_at was parsed when it was recorded (state/sql.py, `due_of`).
    return datetime.fromisoformat(record.send_at) > now


def _when(moment: datetime | None) -> str:
    return "?" if moment is None else f"{moment:%Y-%m-%d %H:%M:%S} UTC"


def _journal_verdict(
    requests: list[BatchRecord], delivery: RecipientDelivery | None
) -> tuple[str | None, list[str]]:
    """What the journal says: sent / unconfirmed / in doubt, or None (then the files decide),
    with a line per request that holds the recipient."""
    reasons: list[str] = []
    verdict: str | None = None
    for record in requests:
        status = record.status
        ticket = f" (ticket {record.ticket})" if record.ticket else ""
        scheduled = f", scheduled for {record.send_at}" if record.send_at else ""
        if status is BatchStatus.ACCEPTED:
            verdict = "sent"
            reasons.append(
                f"sent {_when(record.first_sent_at or record.created_at)} in request "
                f"{record.request_id}{ticket}{scheduled}"
            )
        elif status is BatchStatus.INTENT:
            verdict = verdict or "unconfirmed"
            reasons.append(
                f"request {record.request_id} left {_when(record.first_sent_at)} and is not "
                "confirmed yet: the next apply resends it under the same request_id"
                if record.first_sent_at
                else f"request {record.request_id} is journaled, not sent yet"
            )
        elif status is BatchStatus.IN_DOUBT:
            verdict = verdict or "in doubt"
            reasons.append(
                f"request {record.request_id} is in doubt (no confirmation for over 23 h): "
                f"`octoplan state resolve {record.request_id} --sent|--not-sent`"
            )
        elif status is BatchStatus.REFUSED:
            code = f" code {record.error_code}" if record.error_code is not None else ""
            reasons.append(
                f"request {record.request_id} was refused by the API{code}: "
                f"{record.error_message or 'no message'}"
            )
        elif status is BatchStatus.CANCELLED:
            reasons.append(f"request {record.request_id}{ticket} was cancelled{scheduled}")
        else:
            reasons.append(f"request {record.request_id} was resolved as not sent")
    if delivery is not None:
        state = "final" if delivery.final else "so far"
        reasons.append(
            f"delivery report: {delivery.status} ({state}) on {_when(delivery.occurred_at)}"
        )
    return verdict, reasons


def _keys_of(project: Project, names: list[str], channel: str, region: str) -> set[str]:
    sources = [open_source(project.root / name, name) for name in names]
    return excluded_keys(sources, channel, region, ContactSet([]))


def _in_audience(project: Project, source: CampaignSource, key: str) -> bool:
    campaign = source.campaign
    region = project.config.region
    for recipient in campaign.recipients:
        try:
            found, _ = identify(dict(recipient.fields()), campaign.channel, region)
        except (FieldError, KeyError):
            continue
        if found == key:
            return True
    return key in _keys_of(project, campaign.contacts, campaign.channel, region)


def _capped(source: CampaignSource, key: str, ledger: Ledger | None) -> str | None:
    """Why the frequency cap (`policies.frequency_cap`) skips this recipient, or None: one
    more marketing message at the campaign's send time would pass it, counting what state holds
    (as the planner does; sends of campaigns planned before it in the same apply are not known
    here)."""
    campaign = source.campaign
    if ledger is None or not campaign.marketing:
        return None
    if not ledger.over([key], [0], campaign.send_at or clock.now()):
        return None
    cap = ledger.cap
    return (
        f"over the frequency cap ({plural(cap.max, 'marketing message')} in {cap.days} days): "
        "the next apply skips it"
    )
