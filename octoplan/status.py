"""`octoplan status`: per campaign, what became of what was sent (from state, no network).

- sent: recipients whose request was accepted;
- delivered: recipients whose deciding report is DELIVERED (e-mail: READ, OPENED, CLICKED too);
- not delivered, by status: a final failure (NOT_DELIVERED, BLACKLISTED_NUMBER, ...);
- pending: sent, with no final report yet (none at all, or only ACK-like interim ones);
- stops: recipients of the campaign who replied STOP to it; replies: other replies to it.

A recipient's deciding report is its latest final one, else its latest interim one (state's
`deliveries`, see octoplan/state/eventlog.py). Callbacks linked to no request are counted
apart, by kind, as unmatched.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from octoplan.errors import UsageError
from octoplan.events import DELIVERED, NOT_DELIVERED
from octoplan.state.base import StateStore


@dataclass(frozen=True)
class CampaignStatus:
    id: str
    channel: str
    sent: int
    delivered: int
    not_delivered: dict[str, int]  # status -> recipients
    pending: int
    interim: dict[str, int]  # among pending: interim status -> recipients (ACK...)
    stops: int
    replies: int

    @property
    def not_delivered_total(self) -> int:
        return sum(self.not_delivered.values())

    @property
    def delivered_rate(self) -> float | None:
        """Delivered among those with a final report; None before any."""
        settled = self.delivered + self.not_delivered_total
        return None if not settled else self.delivered / settled


@dataclass(frozen=True)
class StatusReport:
    state: str  # where the state is (no password)
    campaigns: tuple[CampaignStatus, ...]
    unmatched: dict[str, int]  # kind -> callbacks linked to no request
    opted_out: int  # numbers that replied STOP, project-wide

    @property
    def unmatched_total(self) -> int:
        return sum(self.unmatched.values())


def build_status(store: StateStore, wanted: Sequence[str] = ()) -> StatusReport:
    summaries = {s.campaign_id: s for s in store.campaigns()}
    unknown = [c for c in wanted if c not in summaries]
    if unknown:
        raise UsageError(
            f"no campaign {', '.join(repr(c) for c in unknown)} in state; "
            f"known: {', '.join(sorted(summaries)) or 'none (nothing was sent yet)'}"
        )
    events = store.campaign_events()
    channel_of: dict[str, str] = {}
    for batch in store.sent_batches():
        channel_of.setdefault(batch.campaign_id, batch.channel)
    campaigns = []
    for campaign_id in wanted or sorted(summaries):
        summary = summaries[campaign_id]
        found = events.get(campaign_id)
        reports = found.deliveries if found else {}
        delivered = sum(n for status, n in reports.items() if status in DELIVERED)
        failed = {s: n for s, n in sorted(reports.items()) if s in NOT_DELIVERED}
        interim = {
            s: n
            for s, n in sorted(reports.items())
            if s not in DELIVERED and s not in NOT_DELIVERED
        }
        sent = summary.recipients_sent
        campaigns.append(
            CampaignStatus(
                id=campaign_id,
                channel=channel_of.get(campaign_id, ""),
                sent=sent,
                delivered=delivered,
                not_delivered=failed,
                pending=max(sent - delivered - sum(failed.values()), 0),
                interim=interim,
                stops=found.stops if found else 0,
                replies=found.replies if found else 0,
            )
        )
    return StatusReport(
        state=store.info().url,
        campaigns=tuple(campaigns),
        unmatched=dict(sorted(store.unmatched_events().items())),
        opted_out=len(store.opted_out()),
    )
