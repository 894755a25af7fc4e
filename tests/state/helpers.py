"""Small builders shared by the state tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from octoplan.state.base import BatchIntent, BatchStatus, StateStore

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def intent(
    request_id: str,
    keys: list[str],
    campaign_id: str = "spring",
    payload: str | None = None,
    content_hash: str = "h1",
) -> BatchIntent:
    return BatchIntent(
        request_id=request_id,
        campaign_id=campaign_id,
        channel="sms",
        endpoint="sms-campaign/send",
        payload=payload if payload is not None else f'{{"request_id": "{request_id}"}}',
        recipients=keys,
        content_hashes=[content_hash] * len(keys),
        send_at=None,
        estimated_cost=0.045 * len(keys),
    )


def batch_in(
    store: StateStore, request_id: str, keys: list[str], status: BatchStatus, **kwargs: str
) -> None:
    """Record a batch and bring it to `status` the way apply and `state resolve` would."""
    store.record_intent(intent(request_id, keys, **kwargs), at(0))
    if status is BatchStatus.INTENT:
        return
    if status is BatchStatus.NOT_SENT:
        store.record_outcome(request_id, BatchStatus.IN_DOUBT, at(1))
        store.resolve(request_id, sent=False, now=at(2), actor="tester")
        return
    if status is BatchStatus.CANCELLED:
        store.record_outcome(request_id, BatchStatus.ACCEPTED, at(1))
    store.record_outcome(request_id, status, at(1))
