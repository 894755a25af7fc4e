"""Compliance and spend, decided at plan time (SPEC §7): what apply would refuse, plan fails on.

The planner (octoplan/planner.py) asks these rules about each campaign as it plans it, once it
knows who is still to be sent:

- marketing hours (octoplan/hours.py) at `send_at`, or without one at the moment of planning,
  in each recipient's zone; a campaign outside them is an error whose hint says when the next
  window opens;
- `send_at` more than 5 minutes in the past, with something still to send, is an error;
- `policies.max_cost_per_campaign` (a campaign) and `policies.max_cost` (the whole plan);
- `policies.frequency_cap` (octoplan/frequency.py): recipients over it are skipped.

Rules are only asked about sends: a campaign fully sent, cancelled or disabled is never an
error because of the clock. Every error names its place (`file:line:col`) and a way out.
The account's credit is read by the commands (it takes the API) and checked by `with_credit`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Final
from zoneinfo import ZoneInfo

from octoplan import channels
from octoplan.errors import Diagnostic
from octoplan.frequency import PAST_MARGIN, Ledger
from octoplan.hours import Hours, Place, local_time
from octoplan.mask import mask_recipient
from octoplan.model import Policies, Pricing
from octoplan.plan import (
    BatchKind,
    CampaignPlan,
    CampaignSpec,
    Plan,
    PlannedBatch,
    PolicyResult,
    Where,
)
from octoplan.prices import UNIT_TABLES
from octoplan.words import plural

# Marketing hours bind what reaches a phone (SMS, calls, RCS); e-mail and live chat are not
# under the French daytime rule.
HOURS_CHANNELS: Final = channels.names_where(lambda c: c.marketing_hours)
CONFIG = "octoplan.yaml"
ACCOUNT = "Octopush account"  # where credit diagnostics point: no file holds the credit


def _money(amount: float, currency: str) -> str:
    return f"{amount:,.2f} {currency}"


def _at(where: Where) -> str:
    return ":".join(str(part) for part in where if part is not None)


class Compliance:
    """The plan's policies (octoplan.plan.PlanPolicies), from octoplan.yaml's `policies`."""

    def __init__(
        self,
        policies: Policies,
        *,
        currency: str,
        home_region: str = "FR",
        config_where: Callable[..., Where] | None = None,
        ledger: Ledger | None = None,
    ) -> None:
        self.policies = policies
        self.currency = currency
        self.hours = Hours(policies.marketing_hours, home_region)
        self._config_where = config_where
        self.ledger = ledger
        self._results: list[PolicyResult] = []

    def config_where(self, *keys: str) -> Where:
        if self._config_where is None:
            return CONFIG, None, None
        return self._config_where(*keys)

    # -- the frequency cap -------------------------------------------------------------------

    def cap(
        self, spec: CampaignSpec, to_send: Sequence[int], now: datetime
    ) -> tuple[Sequence[int], list[int]]:
        if self.ledger is None:
            return to_send, []
        capped = self.ledger.over(spec.messages.keys, to_send, spec.send_at or now)
        if not capped:
            return to_send, []
        gone = set(capped)
        return [i for i in to_send if i not in gone], capped

    def record(self, campaign: CampaignPlan, now: datetime) -> None:
        if self.ledger is None or not campaign.marketing:
            return
        for batch in campaign.new_batches:
            # A new batch goes out at its send_at, or now (the plan's moment, as planned).
            at = datetime.fromisoformat(batch.send_at) if batch.send_at else now
            self.ledger.add(batch.recipients, at)
        capped = campaign.capped
        if capped:
            cap = self.policies.frequency_cap
            assert cap is not None
            self._results.append(
                PolicyResult(
                    "frequency cap",
                    campaign.id,
                    "skipped",
                    f"{plural(len(capped), 'recipient')} over {cap.max} per {cap.days} days "
                    f"skipped (e.g. {mask_recipient(capped[0])})",
                )
            )

    # -- one campaign ------------------------------------------------------------------------

    def check(
        self, spec: CampaignSpec, batches: Sequence[PlannedBatch], now: datetime
    ) -> list[Diagnostic]:
        sends = [b for b in batches if b.sends]
        if not sends:
            return []
        errors: list[Diagnostic] = []
        new = [b for b in sends if b.kind is BatchKind.NEW]
        if new and spec.send_at is not None and spec.send_at < now - PAST_MARGIN:
            errors.append(self._past(spec, now))
        if spec.marketing and spec.channel in HOURS_CHANNELS:
            errors.extend(self._hours(spec, sends, now))
        limit = self.policies.max_cost_per_campaign
        if limit is not None:
            cost = round(sum(b.estimated_cost for b in sends), 6)
            verdict = "error" if cost > limit else "ok"
            self._results.append(
                PolicyResult(
                    "max_cost_per_campaign",
                    spec.id,
                    verdict,
                    f"est. {_money(cost, self.currency)} of {_money(limit, self.currency)}",
                )
            )
            if cost > limit:
                path, line, col = spec.where()
                errors.append(
                    Diagnostic(
                        path,
                        line,
                        col,
                        f"campaign {spec.id}: estimated cost {_money(cost, self.currency)} is "
                        f"above policies.max_cost_per_campaign "
                        f"({_money(limit, self.currency)})",
                        "split the campaign, or raise policies.max_cost_per_campaign ("
                        + _at(self.config_where("policies", "max_cost_per_campaign"))
                        + ")",
                    )
                )
        return errors

    def _past(self, spec: CampaignSpec, now: datetime) -> Diagnostic:
        assert spec.send_at is not None
        path, line, col = spec.where("send_at")
        return Diagnostic(
            path,
            line,
            col,
            f"campaign {spec.id}: send_at {spec.send_at.isoformat()} is in the past "
            f"(it is now {local_time(now, self.hours.policy.timezone)}) and recipients are "
            "still to be sent",
            "remove send_at to send now, or set a time to come",
        )

    def _hours(
        self, spec: CampaignSpec, sends: Sequence[PlannedBatch], now: datetime
    ) -> list[Diagnostic]:
        # Resumed requests with a send_at go out as journaled, checked when first planned.
        moments: dict[tuple[datetime, bool], list[PlannedBatch]] = {}
        for batch in sends:
            if batch.kind is BatchKind.NEW:
                key = (spec.send_at, True) if spec.send_at is not None else (now, False)
                moments.setdefault(key, []).append(batch)
            elif batch.send_at is None:
                moments.setdefault((now, False), []).append(batch)
        errors = []
        for (moment, scheduled), group in moments.items():
            places = self._places(spec, group)
            closed = [
                (place, reason, count, first)
                for place, (count, first) in places.items()
                # The project's own zone at send_at is checked on load (validate says it).
                if not (scheduled and place == self.hours.home)
                and (reason := self.hours.closed(moment, place)) is not None
            ]
            when = "at send_at" if scheduled else "now"
            if not closed:
                self._results.append(
                    PolicyResult(
                        "marketing hours",
                        spec.id,
                        "ok",
                        f"{when}: {', '.join(local_time(moment, p.zone) for p in places)}",
                    )
                )
                continue
            opens = self.hours.next_open(moment, list(places))
            for place, reason, count, first in closed:
                errors.append(self._closed(spec, scheduled, moment, place, reason, count, first))
                self._results.append(
                    PolicyResult(
                        "marketing hours",
                        spec.id,
                        "error",
                        f"{when}: {local_time(moment, place.zone)}: {reason}"
                        + (f"; next window {local_time(opens, place.zone)}" if opens else ""),
                    )
                )
            if opens is not None:
                errors[-1] = replace(errors[-1], hint=self._hint(scheduled, opens))
            else:
                errors[-1] = replace(
                    errors[-1],
                    hint="no marketing window opens within a month for these recipients: "
                    "check policies.marketing_hours",
                )
        return errors

    def _places(
        self, spec: CampaignSpec, batches: Sequence[PlannedBatch]
    ) -> dict[Place, tuple[int, str]]:
        home = self.hours.home
        if all(self.hours.places_of_region(r) == (home,) for r in spec.regions or {None}):
            count = sum(len(b.recipients) for b in batches)
            return {home: (count, batches[0].recipients[0])}
        return self.hours.places_of_keys(k for b in batches for k in b.recipients)

    def _closed(
        self,
        spec: CampaignSpec,
        scheduled: bool,
        moment: datetime,
        place: Place,
        reason: str,
        count: int,
        first: str,
    ) -> Diagnostic:
        who = (
            ""
            if place == self.hours.home
            else (
                f" for {plural(count, 'recipient')} in {place.region} "
                f"(e.g. {mask_recipient(first)})"
            )
        )
        if scheduled:
            path, line, col = spec.where("send_at")
            message = (
                f"campaign {spec.id}: send_at {local_time(moment, place.zone)} is outside "
                f"marketing hours{who}: {reason}"
            )
        else:
            path, line, col = spec.where("purpose")
            message = (
                f"campaign {spec.id}: marketing messages cannot go out now"
                f"{who} ({local_time(moment, place.zone)}): {reason}"
            )
        return Diagnostic(path, line, col, message, None)

    def _hint(self, scheduled: bool, opens: datetime) -> str:
        zone = self.hours.policy.timezone
        at = opens.astimezone(ZoneInfo(zone)).isoformat()
        if scheduled:
            return f"move send_at into marketing hours: the next window opens at {at}"
        return (
            f"the next marketing window opens {local_time(opens, zone)}: plan and apply then, "
            f"or schedule it with send_at: {at}"
        )

    # -- the whole plan ----------------------------------------------------------------------

    def finish(
        self, campaigns: Sequence[CampaignPlan], now: datetime
    ) -> tuple[list[Diagnostic], list[PolicyResult]]:
        errors: list[Diagnostic] = []
        results = list(self._results)
        cost = round(sum(c.estimated_cost for c in campaigns), 6)
        limit = self.policies.max_cost
        if limit is None:
            results.append(
                PolicyResult("max_cost", "plan", "not set", f"est. {_money(cost, self.currency)}")
            )
        else:
            verdict = "error" if cost > limit else "ok"
            results.append(
                PolicyResult(
                    "max_cost",
                    "plan",
                    verdict,
                    f"est. {_money(cost, self.currency)} of {_money(limit, self.currency)}",
                )
            )
            if cost > limit:
                path, line, col = self.config_where("policies", "max_cost")
                errors.append(
                    Diagnostic(
                        path,
                        line,
                        col,
                        f"estimated cost {_money(cost, self.currency)} of this plan is above "
                        f"policies.max_cost ({_money(limit, self.currency)})",
                        "split the campaigns across applies (--campaign ID), or raise "
                        "policies.max_cost",
                    )
                )
        cap = self.policies.frequency_cap
        if cap is not None and not any(r.rule == "frequency cap" for r in results):
            results.append(
                PolicyResult(
                    "frequency cap", "plan", "ok", f"nobody over {cap.max} per {cap.days} days"
                )
            )
        return errors, results


# -- the account's credit ---------------------------------------------------------------------


@dataclass(frozen=True)
class Credit:
    """The account's credit in the plan's currency, or why it is not known."""

    amount: float | None
    detail: str  # "204 sms_premium", or why it is not known
    failed: bool = False  # it was asked for and could not be had (a warning)


def credit_of(amount: float, unit: str, pricing: Pricing, region: str) -> Credit:
    """`wallet/check-balance` answers a number of `unit`s (`sms_premium`: premium SMS parts);
    in money, that many parts at the price table's price for the project's region."""
    table = UNIT_TABLES.get(unit)
    price = pricing.price(table, region) if table is not None else None
    shown = f"{amount:,.0f} {unit}" if amount == int(amount) else f"{amount:,} {unit}"
    if price is None:
        return Credit(None, f"the balance is {shown}, a unit octoplan has no price for", True)
    return Credit(round(amount * price, 6), shown)


def with_credit(plan: Plan, credit: Credit) -> Plan:
    """The plan with the credit's verdict: an error when its cost is above the credit."""
    if credit.amount is None:
        result = PolicyResult("credit", "plan", "not checked", credit.detail)
        warnings = plan.warnings
        if credit.failed:
            warnings = (
                *warnings,
                Diagnostic(
                    ACCOUNT, None, None, f"credit not checked: {credit.detail}", None, "warning"
                ),
            )
        return replace(plan, policies=(*plan.policies, result), warnings=warnings)
    cost = plan.summary.estimated_cost
    money = _money(credit.amount, plan.currency)
    verdict = "error" if cost > credit.amount + 1e-9 else "ok"
    result = PolicyResult(
        "credit",
        "plan",
        verdict,
        f"est. {_money(cost, plan.currency)} of {money} ({credit.detail})",
    )
    if verdict == "ok":
        return replace(plan, policies=(*plan.policies, result))
    error = Diagnostic(
        ACCOUNT,
        None,
        None,
        f"estimated cost {_money(cost, plan.currency)} is above the account's credit, {money} "
        f"({credit.detail})",
        "top up the account, or send fewer campaigns at once (--campaign ID)",
    )
    return replace(plan, policies=(*plan.policies, result), errors=(*plan.errors, error))


# -- marketing hours, again, as each request leaves -------------------------------------------


class HoursGate:
    """Apply's `hold`: a marketing request sent now (no send_at) waits once marketing hours
    have ended for any of its recipients (checked before each request leaves)."""

    def __init__(self, plan: Plan, hours: Hours, now: Callable[[], datetime]) -> None:
        self.hours = hours
        self.now = now
        self._campaigns = {
            c.id for c in plan.campaigns if c.marketing and c.channel in HOURS_CHANNELS
        }
        self._places: dict[str, list[Place]] = {}
        self.held: dict[str, list[Place]] = {}  # campaign id -> places of what waits

    def __call__(self, campaign_id: str, batch: PlannedBatch) -> bool:
        if campaign_id not in self._campaigns or batch.send_at is not None:
            return False
        places = self._places.get(batch.request_id)
        if places is None:
            places = self._places[batch.request_id] = list(
                self.hours.places_of_keys(batch.recipients)
            )
        moment = self.now()
        if all(self.hours.closed(moment, place) is None for place in places):
            return False
        self.held.setdefault(campaign_id, []).extend(places)
        return True

    def opens(self, campaign_id: str) -> datetime | None:
        """When the next window opens for what `campaign_id` has waiting."""
        return self.hours.next_open(self.now(), dict.fromkeys(self.held.get(campaign_id, [])))
