"""Execute a Plan: journal the intent, send, record the outcome. Exactly once.

The order of writes is the whole guarantee:

1. `record_intent` commits the request_id, the exact body and its recipients, and that the
   request is about to leave (the 24 h window starts) (a resumed request only gets
   `mark_attempt`);
2. the request is sent (the client retries 5xx, 429, timeouts and dropped connections itself,
   with the same body and request_id);
3. the outcome is committed: accepted (2xx, or "request_id already used", which means an
   earlier attempt did arrive), refused (a 4xx to the request's first and only attempt:
   nothing was sent), or nothing at all when no answer could be had, or when a 4xx came after
   an attempt that may have reached the API (this send's own retries, or an earlier apply's
   attempt): the batch stays `intent` and the next apply resends it under the same
   request_id while the API still remembers that id, and shows it as in doubt after that.
   (An attempt that surely never reached the API, the connection not even opened, is
   withdrawn: it starts no window and is no evidence.)

The window is checked again as each resumed request leaves, not only when planning: one that
waited past the 23 h margin (a late confirmation, a long queue) is marked in doubt unsent.

A storage fault (the state cannot be written: disk full, read-only, deleted) stops the apply
like a refused login: requests in flight finish, none starts, and the report says what was
recorded and what was answered but could not be recorded (it stays `intent`: resent under the
same request_id, it is confirmed by "request_id already used"). A fault is found by a write: a
request whose intent was committed before it may still leave as the previous answer comes in
(its intent is on disk, so it is one of those told as unrecorded, never lost).

A crash between any two steps leaves state that the next plan reads correctly. All state
writes happen on the calling thread; worker threads only talk HTTP.

Commits are grouped and pipelined (`StateStore.grouped`): while a request is on the wire, one
transaction records the outcomes that came in and journals the next request, so that request
leaves as soon as the previous answer is in (before that answer is committed), its intent
already on disk: one fsync per request, hidden in the round trip. An outcome waits for the
next commit; lost to a crash in between, it is the case of step 3 without an answer, and the
resend under the same request_id is confirmed by the API's "request_id already used". A
request journaled ahead but never sent (interrupted run) has its attempt withdrawn; killed
before that, it is resent under its request_id by the next apply, like any unconfirmed one.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol

from octoplan.client import SendResult
from octoplan.client_errors import (
    ApiError,
    AuthenticationError,
    RefusedError,
    RequestIdAlreadyUsed,
)
from octoplan.errors import StateError
from octoplan.plan import BatchKind, CampaignPlan, Plan, PlannedBatch, in_window
from octoplan.state.base import BatchIntent, BatchStatus, StateStore


class Sender(Protocol):
    """What apply needs from an Octopush client."""

    def send(self, endpoint: str, payload: str, request_id: str) -> SendResult:
        """Send `payload`, the request's JSON body exactly as journaled."""

    def cancel(self, endpoint: str, body: dict[str, Any]) -> None: ...


@dataclass
class Refusal:
    campaign_id: str
    request_id: str
    recipients: int
    status: int | None
    code: int | None
    message: str
    # An earlier attempt may have reached the API, so this 4xx proves nothing: the request
    # stays unconfirmed (same request_id), not refused.
    unconfirmed: bool = False
    # A refused cancel of a scheduled send: the send stays, the replacement waits.
    cancel: bool = False


@dataclass(frozen=True)
class Unrecorded:
    """An answer the API gave that a storage fault kept out of state."""

    campaign_id: str
    request_id: str
    recipients: int
    answer: str  # "accepted", "refused", "cancelled"


@dataclass
class ApplyReport:
    requests_accepted: int = 0
    messages_sent: int = 0
    confirmed_by_request_id: int = 0  # accepted through a "request_id already used" answer
    cancelled: int = 0
    marked_in_doubt: int = 0
    refusals: list[Refusal] = field(default_factory=list)
    unconfirmed: list[str] = field(default_factory=list)  # request_ids left as intent
    # request_id -> the cost the API answered (0.0 when confirmed as already received)
    accepted: dict[str, float] = field(default_factory=dict)
    skipped: int = 0  # batches not started (interrupted, or after a fatal refusal)
    cost: float = 0.0
    estimated_cost: float = 0.0  # part of `cost` that is an estimate: the answer was lost
    residual_credit: float | None = None
    interrupted: bool = False
    storage_fault: str | None = None  # state could not be written: apply stopped there
    unrecorded: list[Unrecorded] = field(default_factory=list)
    capped: int = 0  # recipients journaled as skipped by the frequency cap
    # Requests held back because marketing hours ended while they waited to leave: they are
    # for the next window, not an error.
    waiting: list[PlannedBatch] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (
            self.refusals
            or self.unconfirmed
            or self.interrupted
            or self.skipped
            or self.storage_fault
            or self.unrecorded
        )


@dataclass(frozen=True)
class Progress:
    done: int  # requests answered (accepted, refused or left without an answer)
    total: int
    messages_sent: int
    refused: int = 0  # of `done`: refused by the API (nothing sent)
    unconfirmed: int = 0  # of `done`: no answer after retries (journaled, resent later)


@dataclass
class _Job:
    campaign_id: str
    batch: PlannedBatch


@dataclass
class _Outcome:
    """What one send came to, before it is recorded (state) and counted (report)."""

    job: _Job
    status: BatchStatus | None  # to record; None: it stays journaled as intent
    result: SendResult | None = None
    error: ApiError | None = None
    withdraw: bool = False  # no attempt reached the API: the attempt is not counted
    stop: bool = False  # a refused login refuses every other request too: start no more


def _jobs(plan: Plan, skip_campaigns: set[str]) -> Iterator[_Job]:
    for campaign in plan.campaigns:
        if campaign.id in skip_campaigns:
            continue
        for batch in campaign.batches:
            if batch.sends:
                yield _Job(campaign.id, batch)


def _intent(campaign: CampaignPlan, batch: PlannedBatch) -> BatchIntent:
    return BatchIntent(
        request_id=batch.request_id,
        campaign_id=campaign.id,
        channel=campaign.channel,
        endpoint=batch.endpoint,
        payload=batch.payload,
        recipients=batch.recipients,
        content_hashes=batch.content_hashes,
        send_at=batch.send_at,
        estimated_cost=batch.estimated_cost,
        purpose=campaign.purpose,
        options=batch.options,
        stage=batch.stage,
    )


def _lapsed(batch: PlannedBatch, now: Callable[[], datetime]) -> bool:
    """A resume whose request_id the API may have forgotten by now: it must not leave."""
    return batch.kind is BatchKind.RESUME and not in_window(batch.first_sent_at, now())


def _outcome(job: _Job, future: Future[SendResult]) -> _Outcome:
    try:
        result = future.result()
    except RequestIdAlreadyUsed as exc:
        # An earlier attempt did arrive: accepted.
        return _Outcome(job, BatchStatus.ACCEPTED, error=exc)
    except (AuthenticationError, RefusedError) as exc:
        stop = isinstance(exc, AuthenticationError)
        if exc.may_have_arrived or job.batch.first_sent_at is not None:
            # An earlier attempt (of this send, or of an earlier apply) may have reached the
            # API and been accepted: a 4xx to a later one (a rotated key, a gateway's 403)
            # proves nothing. Marked refused, its recipients would be re-planned under a new
            # request_id and sent twice; it stays unconfirmed, under the same request_id.
            return _Outcome(job, None, error=exc, stop=stop)
        # A 4xx to the first and only attempt: the API did not take it, nothing was sent.
        return _Outcome(job, BatchStatus.REFUSED, error=exc, stop=stop)
    except ApiError as exc:
        # No confirmed answer (5xx, timeouts, dropped connections after every retry, or a
        # garbled 2xx): it may have been sent. It stays journaled as intent; the next apply
        # resends it under the same request_id and the API deduplicates. When no attempt
        # even reached the API, the attempt is withdrawn: its 24 h window has not started.
        return _Outcome(job, None, error=exc, withdraw=not exc.may_have_arrived)
    return _Outcome(job, BatchStatus.ACCEPTED, result=result)


def _record(outcome: _Outcome, store: StateStore, now: Callable[[], datetime]) -> None:
    request_id = outcome.job.batch.request_id
    if outcome.status is BatchStatus.ACCEPTED:
        result = outcome.result
        if result is None:
            # Accepted by an earlier attempt whose answer (and cost) was lost: the estimate
            # stands in for the cost, marked as such.
            store.record_outcome(
                request_id,
                BatchStatus.ACCEPTED,
                now(),
                cost=outcome.job.batch.estimated_cost,
                cost_estimated=True,
            )
        else:
            store.record_outcome(
                request_id,
                BatchStatus.ACCEPTED,
                now(),
                ticket=result.ticket,
                cost=result.total_cost,
            )
    elif outcome.status is BatchStatus.REFUSED:
        exc = outcome.error
        assert exc is not None
        store.record_outcome(
            request_id,
            BatchStatus.REFUSED,
            now(),
            error_code=exc.code if exc.code is not None else exc.status,
            error_message=exc.api_message,
        )
    elif outcome.withdraw:
        store.withdraw_attempt(request_id, now())


def _count(outcome: _Outcome, report: ApplyReport) -> None:
    job, exc = outcome.job, outcome.error
    batch = job.batch
    if outcome.status is BatchStatus.ACCEPTED:
        report.requests_accepted += 1
        report.messages_sent += len(batch.recipients)
        result = outcome.result
        if result is None:
            report.confirmed_by_request_id += 1
            report.cost += batch.estimated_cost
            report.estimated_cost += batch.estimated_cost
            report.accepted[batch.request_id] = batch.estimated_cost
            return
        report.cost += result.total_cost or 0.0
        report.accepted[batch.request_id] = result.total_cost or 0.0
        if result.residual_credit is not None:
            # Answers to parallel requests settle in any order; each send only lowers the
            # credit, so the lowest figure is the one after the last of them.
            credit = report.residual_credit
            report.residual_credit = (
                result.residual_credit if credit is None else min(credit, result.residual_credit)
            )
    elif isinstance(exc, AuthenticationError | RefusedError):
        unconfirmed = outcome.status is None
        report.refusals.append(_refusal(job.campaign_id, batch, exc, unconfirmed=unconfirmed))
    else:
        report.unconfirmed.append(batch.request_id)


def apply_plan(
    plan: Plan,
    store: StateStore,
    sender: Sender,
    *,
    now: Callable[[], datetime],
    concurrency: int = 4,
    stop: threading.Event | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    hold: Callable[[str, PlannedBatch], bool] | None = None,
) -> ApplyReport:
    """Send `plan`. A storage fault (StateError from a write) stops it as a refused login
    does: the requests in flight finish, no other starts; the report says what was recorded
    and what was not (`storage_fault`, `unrecorded`).

    `hold(campaign_id, batch)`, asked just before a request is journaled and again just
    before it leaves: True keeps it for later (marketing hours have ended): it is reported
    as waiting, and the next apply sends it."""
    stop = stop or threading.Event()
    report = ApplyReport()
    try:
        failed_cancels = _settle_before_sending(plan, store, sender, now, report)
    except StateError as exc:
        report.storage_fault = str(exc)
        report.skipped = sum(1 for c in plan.campaigns for b in c.batches if b.sends)
        return report
    report.skipped = sum(
        1 for c in plan.campaigns if c.id in failed_cancels for b in c.batches if b.sends
    )
    sending = _Sending(
        plan,
        store,
        sender,
        now,
        report,
        list(_jobs(plan, failed_cancels)),
        concurrency=concurrency,
        stop=stop,
        on_progress=on_progress,
        hold=hold,
    )
    sending.run()
    sending.finish()
    return report


class _Sending:
    """A plan's requests on their way: journaled a few ahead, sent `concurrency` at a time,
    the outcomes that came in committed with the intents of the next requests."""

    def __init__(
        self,
        plan: Plan,
        store: StateStore,
        sender: Sender,
        now: Callable[[], datetime],
        report: ApplyReport,
        jobs: list[_Job],
        *,
        concurrency: int,
        stop: threading.Event,
        on_progress: Callable[[Progress], None] | None,
        hold: Callable[[str, PlannedBatch], bool] | None,
    ) -> None:
        self.store, self.sender, self.now, self.report = store, sender, now, report
        self.campaigns = {c.id: c for c in plan.campaigns}
        self.concurrency, self.stop, self.on_progress, self.hold = (
            concurrency,
            stop,
            on_progress,
            hold,
        )
        self.total, self.done = len(jobs), 0
        self.fatal = False
        self.fault: StateError | None = None
        self.in_flight: dict[Future[SendResult], _Job] = {}
        self.queue = deque(jobs)
        self.unsaved: list[_Outcome] = []  # answers a storage fault kept out of state
        # Journaled and committed, not sent yet: each request's intent is committed while the
        # ones before it are on the wire, so no commit (no fsync) stands between two requests.
        self.ready: deque[_Job] = deque()
        self.lapsed: list[_Job] = []  # journaled, then past the window when their turn came
        self.held: list[_Job] = []  # journaled, then held back before leaving: attempt withdrawn

    def halted(self) -> bool:
        return self.stop.is_set() or self.fatal or self.fault is not None

    def journal(self, job: _Job, doubted: list[_Job]) -> bool:
        """Journal the attempt about to be made; False: past the window, now in doubt."""
        store, now, batch = self.store, self.now, job.batch
        if batch.kind is BatchKind.NEW:
            store.record_intent(
                _intent(self.campaigns[job.campaign_id], batch), now(), attempt=True
            )
        elif _lapsed(batch, now):
            # It waited (a late confirmation, a long queue) until the API may have forgotten
            # its request_id: a resend could be delivered twice.
            store.record_outcome(batch.request_id, BatchStatus.IN_DOUBT, now())
            doubted.append(job)
            return False
        else:
            store.mark_attempt(batch.request_id, now())
        return True

    def run(self) -> None:
        finished: set[Future[SendResult]] = set()
        with ThreadPoolExecutor(
            max_workers=self.concurrency, thread_name_prefix="octoplan-send"
        ) as pool:
            while True:
                # The answers are taken off the wire first, so that the next journaled
                # requests leave at once (unless an answer stops the apply): the outcomes are
                # committed, and the requests after them journaled, while those are on the
                # wire. Committed before they left, the outcome's fsync stood between two
                # requests.
                outcomes = [_outcome(self.in_flight.pop(future), future) for future in finished]
                self.fatal = self.fatal or any(o.stop for o in outcomes)
                self.launch(pool)
                if self.fault is not None:
                    self.unsaved.extend(outcomes)
                else:
                    self.commit(outcomes)
                    self.lapsed = []
                finished = set()
                if not self.in_flight:
                    if self.ready and not self.halted():
                        continue  # the first requests: journaled, now to be sent
                    break
                finished, _ = wait(list(self.in_flight), return_when=FIRST_COMPLETED)

    def launch(self, pool: ThreadPoolExecutor) -> None:
        """Send the journaled requests, up to `concurrency` on the wire."""
        ready, in_flight = self.ready, self.in_flight
        while ready and len(in_flight) < self.concurrency and not self.halted():
            job = ready.popleft()
            batch = job.batch
            if _lapsed(batch, self.now):  # checked again as it leaves
                self.lapsed.append(job)
                continue
            if self.hold is not None and self.hold(job.campaign_id, batch):
                self.held.append(job)
                continue
            started = threading.Event()
            future = pool.submit(_send, self.sender, batch, started)
            in_flight[future] = job
            # Let the worker take the interpreter first: otherwise the journal work below
            # holds it and the request leaves only once that work is done.
            started.wait()

    def commit(self, outcomes: list[_Outcome]) -> None:
        """One transaction, one commit: the outcomes that came in, and the intents of the next
        requests, which leave only once it is committed."""
        store, now, ready, lapsed, queue = self.store, self.now, self.ready, self.lapsed, self.queue
        journaled, doubted = len(ready), list(lapsed)
        try:
            with store.grouped():
                for job in lapsed:
                    store.withdraw_attempt(job.batch.request_id, now())
                    store.record_outcome(job.batch.request_id, BatchStatus.IN_DOUBT, now())
                for outcome in outcomes:
                    _record(outcome, store, now)
                while queue and len(ready) < self.concurrency and not self.halted():
                    job = queue.popleft()
                    if self.hold is not None and self.hold(job.campaign_id, job.batch):
                        self.report.waiting.append(job.batch)
                    elif self.journal(job, doubted):
                        ready.append(job)
        except StateError as exc:
            self.fault = exc
            # Nothing of it was kept: the requests it journaled must not leave.
            while len(ready) > journaled:
                queue.appendleft(ready.pop())
            queue.extendleft(reversed(doubted[len(lapsed) :]))
            ready.extend(lapsed)  # journaled, not sent: withdrawn below if possible
            self.unsaved.extend(outcomes)
        else:
            self.report.marked_in_doubt += len(doubted)
            for outcome in outcomes:
                self.counted(outcome)

    def counted(self, outcome: _Outcome) -> None:
        report = self.report
        _count(outcome, report)
        self.done += 1
        if self.on_progress is not None:  # once committed
            self.on_progress(
                Progress(
                    self.done,
                    self.total,
                    report.messages_sent,
                    refused=len(report.refusals),
                    unconfirmed=len(report.unconfirmed),
                )
            )

    def finish(self) -> None:
        report, store, now = self.report, self.store, self.now
        ready, held, unsaved = self.ready, self.held, self.unsaved
        report.waiting.extend(job.batch for job in held)
        if ready or held or unsaved:
            # Journaled ahead, never sent (interrupted, a refused login, a storage fault, or
            # held back at the end of marketing hours): their attempt did not happen, so they
            # are not left looking as if they might have been sent. And after a storage fault,
            # one more try at recording what came in since.
            try:
                with store.grouped():
                    for job in (*ready, *held):
                        store.withdraw_attempt(job.batch.request_id, now())
                    for outcome in unsaved:
                        _record(outcome, store, now)
            except StateError as exc:
                self.fault = self.fault or exc
                for outcome in unsaved:
                    if outcome.status is None:
                        _count(outcome, report)  # it stays intent, recorded or not
                    else:
                        report.unrecorded.append(_unrecorded(outcome))
            else:
                for outcome in unsaved:
                    _count(outcome, report)
            self.queue.extendleft(reversed(ready))
        if self.fault is not None:
            report.storage_fault = str(self.fault)
        not_started = len(self.queue)
        report.skipped += not_started
        report.interrupted = self.stop.is_set() and not_started > 0
        report.cost = round(report.cost, 6)


def _settle_before_sending(
    plan: Plan,
    store: StateStore,
    sender: Sender,
    now: Callable[[], datetime],
    report: ApplyReport,
) -> set[str]:
    """Mark the requests past the window in doubt, then send the cancellations; the ids of
    the campaigns whose cancellation failed (their sends must wait) are returned."""
    for campaign in plan.campaigns:
        for doubt in campaign.in_doubt:
            if doubt.status is BatchStatus.INTENT:
                store.record_outcome(doubt.request_id, BatchStatus.IN_DOUBT, now())
                report.marked_in_doubt += 1

    # Cancellations first: the recipients they release are re-sent by this same plan, which
    # is only safe once the scheduled send they were in is really cancelled.
    failed_cancels: set[str] = set()
    for campaign in plan.campaigns:
        for batch in campaign.batches:
            if batch.kind is not BatchKind.CANCEL:
                continue
            try:
                sender.cancel(batch.endpoint, dict(batch.body))
            except ApiError as exc:
                failed_cancels.add(campaign.id)
                report.refusals.append(replace(_refusal(campaign.id, batch, exc), cancel=True))
                continue
            try:
                store.record_outcome(batch.request_id, BatchStatus.CANCELLED, now())
            except StateError:
                report.unrecorded.append(
                    Unrecorded(campaign.id, batch.request_id, len(batch.recipients), "cancelled")
                )
                raise
            report.cancelled += 1
    # Recipients over the frequency cap: journaled as skipped, so no later plan sends them.
    for campaign in plan.campaigns:
        for batch in campaign.batches:
            if batch.kind is BatchKind.SKIP and campaign.id not in failed_cancels:
                with store.grouped():
                    store.record_intent(_intent(campaign, batch), now())
                    store.record_outcome(batch.request_id, BatchStatus.SKIPPED, now())
                report.capped += len(batch.recipients)
    return failed_cancels


def _unrecorded(outcome: _Outcome) -> Unrecorded:
    batch = outcome.job.batch
    answer = "accepted" if outcome.status is BatchStatus.ACCEPTED else "refused"
    return Unrecorded(outcome.job.campaign_id, batch.request_id, len(batch.recipients), answer)


def _send(sender: Sender, batch: PlannedBatch, started: threading.Event) -> SendResult:
    started.set()
    return sender.send(batch.endpoint, batch.payload, batch.request_id)


def _refusal(
    campaign_id: str, batch: PlannedBatch, exc: ApiError, *, unconfirmed: bool = False
) -> Refusal:
    return Refusal(
        campaign_id=campaign_id,
        request_id=batch.request_id,
        recipients=len(batch.recipients),
        status=exc.status,
        code=exc.code,
        message=exc.api_message,
        unconfirmed=unconfirmed,
    )
