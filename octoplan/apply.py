"""Execute a Plan: journal the intent, send, record the outcome. Exactly once.

The order of writes is the whole guarantee:

1. `record_intent` commits the request_id, the exact body and its recipients, and that the
   request is about to leave (the 24 h window starts) (a resumed request only gets
   `mark_attempt`);
2. the request is sent (the client retries 5xx, 429, timeouts and dropped connections itself,
   with the same body and request_id);
3. the outcome is committed: accepted (2xx, or "request_id already used", which means an
   earlier attempt did arrive), refused (4xx: nothing was sent), or nothing at all when no
   answer could be had: the batch stays `intent` and the next apply resends it under the same
   request_id while the API still remembers that id, and shows it as in doubt after that.

A crash between any two steps leaves state that the next plan reads correctly. All state
writes happen on the calling thread; worker threads only talk HTTP.

Commits are grouped and pipelined (`StateStore.grouped`): while a request is on the wire, one
transaction records the outcomes that came in and journals the next request, so that request
leaves as soon as the previous answer is in, its intent already on disk: one fsync per
request, hidden in the round trip. An outcome waits for the next commit; lost to a crash in
between, it is the case of step 3 without an answer, and the resend under the same request_id
is confirmed by the API's "request_id already used". A request journaled ahead but never sent
(interrupted run) has its attempt withdrawn; killed before that, it is resent under its
request_id by the next apply, like any unconfirmed one.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from octoplan.client import SendResult
from octoplan.client_errors import (
    ApiError,
    AuthenticationError,
    RefusedError,
    RequestIdAlreadyUsed,
)
from octoplan.plan import BatchKind, CampaignPlan, Plan, PlannedBatch
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


@dataclass
class ApplyReport:
    requests_accepted: int = 0
    messages_sent: int = 0
    confirmed_by_request_id: int = 0  # accepted through a "request_id already used" answer
    cancelled: int = 0
    marked_in_doubt: int = 0
    refusals: list[Refusal] = field(default_factory=list)
    unconfirmed: list[str] = field(default_factory=list)  # request_ids left as intent
    skipped: int = 0  # batches not started (interrupted, or after a fatal refusal)
    cost: float = 0.0
    residual_credit: float | None = None
    interrupted: bool = False

    @property
    def ok(self) -> bool:
        return not (self.refusals or self.unconfirmed or self.interrupted or self.skipped)


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


def _jobs(plan: Plan, skip_campaigns: set[str]) -> Iterator[_Job]:
    for campaign in plan.campaigns:
        if campaign.id in skip_campaigns:
            continue
        for batch in campaign.batches:
            if batch.kind is not BatchKind.CANCEL:
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
    )


def apply_plan(
    plan: Plan,
    store: StateStore,
    sender: Sender,
    *,
    now: Callable[[], datetime],
    concurrency: int = 4,
    stop: threading.Event | None = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> ApplyReport:
    stop = stop or threading.Event()
    report = ApplyReport()
    campaigns = {c.id: c for c in plan.campaigns}

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
                report.refusals.append(_refusal(campaign.id, batch, exc))
                continue
            store.record_outcome(batch.request_id, BatchStatus.CANCELLED, now())
            report.cancelled += 1

    jobs = list(_jobs(plan, failed_cancels))
    report.skipped = sum(
        1
        for c in plan.campaigns
        if c.id in failed_cancels
        for b in c.batches
        if b.kind is not BatchKind.CANCEL
    )
    total, done = len(jobs), 0
    fatal = False
    in_flight: dict[Future[SendResult], _Job] = {}
    queue = deque(jobs)

    def settle(future: Future[SendResult], job: _Job) -> bool:
        """Record one outcome; True when no further request should be started."""
        batch = job.batch
        try:
            result = future.result()
        except RequestIdAlreadyUsed:
            store.record_outcome(batch.request_id, BatchStatus.ACCEPTED, now())
            report.requests_accepted += 1
            report.confirmed_by_request_id += 1
            report.messages_sent += len(batch.recipients)
            return False
        except (AuthenticationError, RefusedError) as exc:
            # A 4xx: the API did not take the request, so nothing was sent.
            store.record_outcome(
                batch.request_id,
                BatchStatus.REFUSED,
                now(),
                error_code=exc.code if exc.code is not None else exc.status,
                error_message=exc.api_message,
            )
            report.refusals.append(_refusal(job.campaign_id, batch, exc))
            # A refused login refuses every other request the same way: stop here.
            return isinstance(exc, AuthenticationError)
        except ApiError:
            # No confirmed answer (5xx, timeouts, dropped connections after every retry, or a
            # garbled 2xx): it may have been sent. It stays journaled as intent; the next
            # apply resends it under the same request_id and the API deduplicates.
            report.unconfirmed.append(batch.request_id)
            return False
        store.record_outcome(
            batch.request_id,
            BatchStatus.ACCEPTED,
            now(),
            ticket=result.ticket,
            cost=result.total_cost,
        )
        report.requests_accepted += 1
        report.messages_sent += len(batch.recipients)
        report.cost += result.total_cost or 0.0
        if result.residual_credit is not None:
            # Answers to parallel requests settle in any order; each send only lowers the
            # credit, so the lowest figure is the one after the last of them.
            credit = report.residual_credit
            report.residual_credit = (
                result.residual_credit if credit is None else min(credit, result.residual_credit)
            )
        return False

    def journal(job: _Job) -> None:
        batch = job.batch
        if batch.kind is BatchKind.NEW:
            store.record_intent(_intent(campaigns[job.campaign_id], batch), now(), attempt=True)
        else:
            store.mark_attempt(batch.request_id, now())

    # Journaled and committed, not sent yet: each request's intent is committed while the ones
    # before it are on the wire, so no commit (no fsync) stands between two requests.
    ready: deque[_Job] = deque()
    finished: set[Future[SendResult]] = set()
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="octoplan-send") as pool:
        while True:
            while ready and len(in_flight) < concurrency and not stop.is_set() and not fatal:
                job = ready.popleft()
                batch = job.batch
                started = threading.Event()
                future = pool.submit(_send, sender, batch, started)
                in_flight[future] = job
                # Let the worker take the interpreter first: otherwise the journal work below
                # holds it and the request leaves only once that work is done.
                started.wait()
            # One transaction, one commit: the outcomes that came in, and the intents of the
            # next requests, which leave only once it is committed.
            progress: list[Progress] = []
            with store.grouped():
                for future in finished:
                    fatal = settle(future, in_flight.pop(future)) or fatal
                    done += 1
                    progress.append(
                        Progress(
                            done,
                            total,
                            report.messages_sent,
                            refused=len(report.refusals),
                            unconfirmed=len(report.unconfirmed),
                        )
                    )
                while queue and len(ready) < concurrency and not stop.is_set() and not fatal:
                    job = queue.popleft()
                    journal(job)
                    ready.append(job)
            if on_progress is not None:
                for step in progress:  # once committed
                    on_progress(step)
            finished = set()
            if not in_flight:
                if ready and not stop.is_set() and not fatal:
                    continue  # the first requests: journaled, now to be sent
                break
            finished, _ = wait(list(in_flight), return_when=FIRST_COMPLETED)

    if ready:
        # Journaled ahead, never sent (interrupted, or a refused login): their attempt did not
        # happen, so they are not left looking as if they might have been sent.
        with store.grouped():
            for job in ready:
                store.withdraw_attempt(job.batch.request_id, now())
        queue.extendleft(reversed(ready))
    not_started = len(queue)
    report.skipped += not_started
    report.interrupted = stop.is_set() and not_started > 0
    report.cost = round(report.cost, 6)
    return report


def _send(sender: Sender, batch: PlannedBatch, started: threading.Event) -> SendResult:
    started.set()
    return sender.send(batch.endpoint, batch.payload, batch.request_id)


def _refusal(campaign_id: str, batch: PlannedBatch, exc: ApiError) -> Refusal:
    return Refusal(
        campaign_id=campaign_id,
        request_id=batch.request_id,
        recipients=len(batch.recipients),
        status=exc.status,
        code=exc.code,
        message=exc.api_message,
    )
