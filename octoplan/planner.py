"""Desired sends minus recorded state -> a frozen Plan (octoplan/plan.py), campaign by campaign.

A campaign is planned in stages (`_CampaignStages`), each a method:

1. journaled: its unconfirmed requests are resumed (inside the request_id window) or in doubt;
2. scheduled: its scheduled requests whose messages changed are cancelled and replaced
   (octoplan/scheduled.py);
3. diff: desired messages against state: already sent, pending, to send (again);
4. narrow: a rollout stage's cohort, opt-outs, the frequency cap, the 30-day repeat guard;
5. batches: the new requests (octoplan/batches.py), the skipped ones, the policies' checks
   (hours, send_at, cost);
6. notes, then the CampaignPlan.

With `--shard I/N` (octoplan/partition.py) each stage sees the shard's recipients only, and the
journaled and scheduled requests the shard owns.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from itertools import compress

from octoplan import optouts, sentdiff
from octoplan.batches import new_batches, resume_batch, skip_batch
from octoplan.errors import Diagnostic
from octoplan.mask import mask_text, masked
from octoplan.messages import CHANGED, SENT, sent_flags
from octoplan.partition import Partition
from octoplan.plan import (
    Action,
    BatchKind,
    CampaignPlan,
    CampaignSpec,
    InDoubt,
    Plan,
    PlannedBatch,
    PlanPolicies,
    PolicyResult,
    Share,
    compute_digest,
    in_window,
)
from octoplan.repeats import RecentSends, repeat_errors, repeats
from octoplan.scheduled import moved_only, plan_disabled, plan_removed_campaign, replace_scheduled
from octoplan.sentdiff import TextChange
from octoplan.state.base import BatchStatus, StateInfo, StateReader
from octoplan.words import plural

_UNSETTLED = frozenset({BatchStatus.INTENT.value, BatchStatus.IN_DOUBT.value})
_SKIPPED = BatchStatus.SKIPPED.value
SAMPLES = 3  # sample messages kept per campaign


def plan_campaign(
    spec: CampaignSpec,
    store: StateReader,
    now: datetime,
    opted_out: Mapping[str, datetime] | None = None,
    policies: PlanPolicies | None = None,
    recent: Callable[[], RecentSends] | None = None,
    *,
    select: Callable[[list[int]], list[int]] | None = None,
    partition: Partition | None = None,
) -> CampaignPlan:
    """`opted_out`: numbers that replied STOP (read once per plan, see build_plan);
    `policies`: the compliance and spend rules (octoplan/compliance.py); `recent`: what state
    sent lately, for the 30-day guard (None: no guard); `select`: of the recipients to send,
    those this plan sends (a rollout stage's cohort); `partition`: the shard planned (None:
    every recipient)."""
    if not spec.enabled:
        return plan_disabled(spec, store, now, partition)
    if spec.rollout is not None and select is None:
        # The stage decides what is sent (octoplan/rollout_plan.py, which calls back here).
        plan: CampaignPlan = spec.rollout.planner(
            spec, store, now, opted_out, policies, recent, partition=partition
        )
        return plan
    if not opted_out or not optouts.applies(spec.marketing, spec.channel):
        opted_out = {}
    stages = _CampaignStages(spec, store, now, opted_out, partition)
    stages.journaled()
    stages.scheduled()
    stages.diff()
    stages.narrow(select, policies, recent)
    stages.cut(policies)
    stages.describe()
    return stages.result()


class _CampaignStages:
    """One campaign's plan as it is made: what each stage found, for the stages after it."""

    def __init__(
        self,
        spec: CampaignSpec,
        store: StateReader,
        now: datetime,
        opted_out: Mapping[str, datetime],
        partition: Partition | None = None,
    ) -> None:
        self.spec, self.store, self.now, self.opted_out = spec, store, now, opted_out
        messages = spec.messages
        self.keys = messages.keys
        self.partition = partition
        # The recipients this plan is about: the shard's, or everyone.
        self.mine: Sequence[int] = (
            range(len(self.keys))
            if partition is None
            else partition.select(self.keys, range(len(self.keys)))
        )
        self.history = spec.history if spec.renamed_from else spec.id
        if spec.state is not None:
            (self.sent_hashes, self.others), self.flags = spec.state, messages.sent
        else:
            self.sent_hashes, self.others = store.recipient_state(spec.id, *spec.renamed_from)
            self.flags = sent_flags(
                self.keys, self.sent_hashes, lambda known: map(messages.hash, known)
            )
        self.send_at = spec.send_at.isoformat() if spec.send_at else None
        self.batches: list[PlannedBatch] = []
        self.in_doubt: list[InDoubt] = []
        self.notes: list[str] = []
        self.errors: list[Diagnostic] = []
        # Recipients of scheduled requests this plan cancels, sendable again: -> that request_id.
        self.released: dict[str, str] = {}
        self.scheduled_count = 0  # accepted for a send_at still ahead: not sent yet
        self.already_sent = self.pending = self.changed = self.moved = 0
        self.earlier_by_key: dict[str, str] = {}
        # A range while every recipient is to send (no state): a list of a million int objects
        # would cost some 40 bytes a recipient for the rest of the plan.
        self.to_send: Sequence[int] = []
        self.opted: list[tuple[str, datetime]] = []
        self.capped: list[int] = []  # over the frequency cap
        self.new_batches: list[PlannedBatch] = []
        self.text_change: TextChange | None = None

    def journaled(self) -> None:
        """Journaled batches decide first: resumes and doubts."""
        store = self.store
        for record in store.batches(self.history, [BatchStatus.INTENT, BatchStatus.IN_DOUBT]):
            members = None
            if self.partition is not None:  # one shard settles it (partition.py)
                members = store.batch_recipients(record.request_id)
                if not self.partition.owns(key for key, _ in members):
                    continue
            if record.status is BatchStatus.INTENT and in_window(record.first_sent_at, self.now):
                payload = store.payload(record.request_id)
                if members is None:
                    members = store.batch_recipients(record.request_id)
                self.batches.append(resume_batch(record, payload, members))
            else:
                self.in_doubt.append(
                    InDoubt(
                        record.request_id,
                        record.recipients_count,
                        record.first_sent_at,
                        record.status,
                    )
                )

    def scheduled(self) -> None:
        """Then the scheduled requests: cancelled and replaced when their messages changed."""
        replaced = replace_scheduled(
            self.spec,
            self.store,
            self.history,
            self.now,
            self.flags,
            self.opted_out,
            self.send_at,
            self.partition,
        )
        self.batches.extend(replaced.batches)
        self.notes.extend(replaced.notes)
        self.errors.extend(replaced.errors)
        self.released = replaced.released
        self.scheduled_count = replaced.scheduled

    def diff(self) -> None:
        """Desired messages against state: who was sent (whatever the text), who is pending,
        who is to send (again)."""
        keys, flags, others, released = self.keys, self.flags, self.others, self.released
        everyone = self.mine
        if not self.sent_hashes and not others:
            self.to_send = everyone
            return
        if len(everyone) < len(keys):  # a shard: its recipients' flags
            flags = bytearray(map(flags.__getitem__, everyone))
        # Whole columns at once: who was sent (whatever the text), who was not.
        sent = list(compress(everyone, flags))
        to_send = list(compress(everyone, map(operator.not_, flags)))
        changed = flags.count(CHANGED)
        flags = self.flags
        later: list[int] = []
        if released:
            # Recipients of a scheduled request this plan cancels go out again, under a
            # request_id that names the cancelled one (never the id of an earlier request).
            back = [index for index in sent if keys[index] in released]
            if back:
                going = set(back)
                sent = [index for index in sent if index not in going]
                self.earlier_by_key.update((keys[index], released[keys[index]]) for index in back)
                later.extend(back)
                changed -= sum(flags[index] == CHANGED for index in back)
        if changed:
            self.moved = moved_only(
                self.spec, self.store, sent, flags, self.sent_hashes, self.send_at
            )
        self.changed = changed
        self.already_sent = len(sent)
        skipped = 0
        if others:
            new: list[int] = []
            earlier_by_key = self.earlier_by_key
            for index in to_send:
                row = others.get(keys[index])
                if row is None:
                    new.append(index)
                elif row[2] in _UNSETTLED:
                    self.pending += 1
                elif row[2] == _SKIPPED:
                    skipped += 1
                else:  # refused, not sent or cancelled: send again, under a fresh request_id
                    earlier_by_key[keys[index]] = row[1]
                    later.append(index)
            to_send = new
        if later:
            to_send = sorted(to_send + later)
        self.to_send = to_send
        if skipped:
            self.notes.append(
                f"{plural(skipped, 'recipient')} skipped by the frequency cap when this "
                "campaign was applied: not sent"
            )

    def narrow(
        self,
        select: Callable[[list[int]], list[int]] | None,
        policies: PlanPolicies | None,
        recent: Callable[[], RecentSends] | None,
    ) -> None:
        """Of the recipients to send: a rollout stage's cohort, without the opted-out, under
        the frequency cap; the 30-day guard against sending the same text again."""
        spec, to_send = self.spec, self.to_send
        if select is not None:
            to_send = select(list(to_send))
        to_send, self.opted = optouts.without_opted_out(self.keys, to_send, self.opted_out)
        if policies is not None and to_send and spec.marketing:
            to_send, self.capped = policies.cap(spec, to_send, self.now)
        self.to_send = to_send
        if recent is not None and to_send and not spec.errors:
            sends = recent()
            if not spec.allow_repeat:
                found = repeats(spec.messages, to_send, sends.others(spec.history), sends)
                self.errors.extend(
                    repeat_errors(spec.id, spec.id_at or (spec.file, None, None), found)
                )
            if not self.errors:
                sends.sends(spec.id, spec.messages, to_send)

    def cut(self, policies: PlanPolicies | None) -> None:
        """The new requests, the skipped recipients' batch, and the policies' checks of them
        (hours, send_at, cost)."""
        spec = self.spec
        self.new_batches = new_batches(
            spec, self.to_send, self.earlier_by_key, frozenset(self.released.values())
        )
        self.batches.extend(self.new_batches)
        if self.capped:
            self.batches.append(skip_batch(spec, self.capped))
        if policies is not None:
            self.errors.extend(policies.check(spec, self.batches, self.now))

    def describe(self) -> None:
        """The notes a reviewer reads beside the numbers."""
        spec, notes, moved, changed = self.spec, self.notes, self.moved, self.changed
        if moved:
            notes.append(
                f"send_at moved for {plural(moved, 'recipient')} who already received the "
                "message: they are not sent again"
            )
        self.text_change = None
        # Said while it matters: when this plan sends the new text, or when nobody will get it
        # (an edit after the last send). Once the new text went out, the count stays in JSON.
        if changed - moved and (self.new_batches or SENT not in self.flags):
            text_change = sentdiff.text_change(
                self.store, spec.id, spec.messages, self.flags, self.sent_hashes
            )
            if text_change is not None:  # texts a plan shows carry no number or e-mail in clear
                text_change = TextChange(
                    text_change.recipient, mask_text(text_change.old), mask_text(text_change.new)
                )
            self.text_change = text_change
            notes.append(
                f"the text changed for {plural(changed - moved, 'recipient')} who already "
                "received the old one: they are not sent again; only recipients not yet sent "
                "get the new text"
            )
        if spec.duplicates:
            notes.append(
                f"{plural(spec.duplicates, 'duplicate recipient')} collapsed: each is sent once"
            )
        if spec.excluded:
            notes.append(f"{plural(spec.excluded, 'recipient')} removed by exclude lists")
        if self.opted:
            notes.append(optouts.note(self.opted))

    def _known(self) -> bool:
        """Whether state holds recipients of this campaign (of this shard: the sends of the
        others leave its plan as it was, a create, so its saved plan stands)."""
        sent, others = self.sent_hashes, self.others
        if self.partition is None or not (sent or others):
            return bool(sent or others)
        keys = self.keys
        return any(keys[i] in sent or keys[i] in others for i in self.mine)

    def result(self) -> CampaignPlan:
        spec, keys, messages = self.spec, self.keys, self.spec.messages
        all_errors = (*spec.errors, *self.errors)
        known = self._known()
        action = _action(all_errors, known, self.batches, self.in_doubt)
        batches = [] if action is Action.BLOCKED else self.batches
        shown = _samples(keys, messages.request_texts, self.to_send, self.new_batches) or list(
            self.mine[:SAMPLES]
        )
        return CampaignPlan(
            id=spec.id,
            file=spec.file,
            channel=spec.channel,
            action=action,
            batches=tuple(batches),
            in_doubt=tuple(self.in_doubt),
            desired=len(self.mine),
            already_sent=self.already_sent,
            pending=self.pending,
            changed_after_send=self.changed - self.moved,
            duplicates=spec.duplicates,
            excluded=spec.excluded,
            warnings=masked(spec.warnings),
            errors=masked(all_errors),
            samples=tuple((keys[i], mask_text(messages.text(i))) for i in shown),
            notes=tuple(map(mask_text, self.notes)),
            opted_out=tuple(self.opted),
            purpose=spec.purpose,
            send_at=self.send_at,
            scheduled=min(self.scheduled_count, self.already_sent),
            text_change=self.text_change,
        )


def _samples(
    keys: Sequence[str],
    request_texts: Sequence[str],
    to_send: Sequence[int],
    batches: list[PlannedBatch],
) -> list[int]:
    """A few recipients to show: the first to send, then one per other request text (another
    branch of the template), then the next ones."""
    if not to_send:
        return []
    shown = [to_send[0]]
    texts = {request_texts[to_send[0]]}
    for batch in batches:
        if len(shown) == SAMPLES:
            return shown
        if batch.text not in texts:
            texts.add(batch.text)
            shown.append(keys.index(batch.recipients[0]))
    for index in to_send[1:]:
        if len(shown) == SAMPLES:
            break
        if index not in shown:
            shown.append(index)
    return shown


def _action(
    errors: Sequence[Diagnostic],
    known: bool,  # state holds recipients of this campaign
    batches: Sequence[PlannedBatch],
    in_doubt: Sequence[InDoubt],
) -> Action:
    if errors:
        return Action.BLOCKED
    if not batches:
        return Action.NOOP
    if all(b.kind is BatchKind.CANCEL for b in batches):
        return Action.CANCEL
    return Action.UPDATE if known or in_doubt else Action.CREATE


def build_plan(
    specs: Sequence[CampaignSpec],
    store: StateReader,
    now: datetime,
    *,
    scope: Sequence[str] = (),
    whole_project: bool = True,
    currency: str = "EUR",
    info: StateInfo | None = None,
    policies: PlanPolicies | None = None,
    partition: Partition | None = None,
) -> Plan:
    """`info`: the state's serial as read before its contents (else read at the end).
    `policies`: the compliance and spend rules (octoplan/compliance.py); campaigns are planned
    in order, each counting what the ones before it send (the frequency cap). `partition`:
    the shard planned (`--shard I/N`), None for every recipient."""
    # Read once for the whole plan, and only when a campaign can be concerned.
    concerned = any(optouts.applies(spec.marketing, spec.channel) for spec in specs)
    opted_out = store.opted_out() if concerned else {}
    sends: list[RecentSends] = []

    def recent() -> RecentSends:  # one for the plan, made when a campaign has something to send
        if not sends:
            sends.append(RecentSends(store, now))
        return sends[0]

    campaigns = []
    for spec in specs:
        campaign = plan_campaign(spec, store, now, opted_out, policies, recent, partition=partition)
        if policies is not None:
            policies.record(campaign, now)
        campaigns.append(campaign)
    if whole_project:
        # Only a plan over the whole project may conclude that a campaign was removed (a
        # campaign's earlier ids are its own, not removed campaigns).
        known = {campaign_id for spec in specs for campaign_id in spec.history}
        for campaign_id in store.campaign_ids():
            if campaign_id not in known:
                removed = plan_removed_campaign(campaign_id, store, now, partition)
                if removed is not None:
                    campaigns.append(removed)
    errors: list[Diagnostic] = []
    results: list[PolicyResult] = []
    if policies is not None:
        errors, results = policies.finish(campaigns, now)
    return Plan(
        created_at=now,
        state=info if info is not None else store.info(),
        campaigns=tuple(campaigns),
        currency=currency,
        scope=tuple(scope),
        digest=compute_digest(campaigns, errors, partition),
        errors=tuple(errors),
        policies=tuple(results),
        shard=None if partition is None else _share(partition, specs, campaigns),
    )


def _share(
    partition: Partition, specs: Sequence[CampaignSpec], campaigns: Sequence[CampaignPlan]
) -> Share:
    """The shard's recipients and all of them, over the campaigns planned."""
    whole = sum(len(spec.messages.keys) for spec in specs if spec.enabled)
    return Share(partition, sum(c.desired for c in campaigns), whole)
