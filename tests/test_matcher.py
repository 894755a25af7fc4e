"""Which request a callback concerns (octoplan/receive/matcher.py), against a real state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from octoplan.events import Fact, Kind
from octoplan.receive.matcher import Matcher
from octoplan.state.base import BatchIntent, BatchStatus, StateStore
from octoplan.state.open import open_state

N = "+33612345678"
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def sent(
    store: StateStore,
    rid: str,
    channel: str,
    minutes: float,
    status: BatchStatus,
    send_at: str | None = None,
) -> None:
    when = T0 + timedelta(minutes=minutes)
    store.record_intent(
        BatchIntent(rid, "c", channel, "multi-channel/send", rid, [N], ["h"], send_at, 0.0),
        when,
        attempt=True,
    )
    if status is not BatchStatus.INTENT:
        store.record_outcome(rid, status, when)


def fact(kind: Kind, minutes: float, channel: str | None = "sms") -> Fact:
    return Fact(kind, channel=channel, recipient=N, occurred_at=T0 + timedelta(minutes=minutes))


def test_the_latest_request_to_the_number_on_the_channel_before_the_date(tmp_path: Path) -> None:
    store = open_state(str(tmp_path / "s.db"), tmp_path)
    sent(store, "first", "sms", 0, BatchStatus.ACCEPTED)
    sent(store, "voice", "voice_sms", 30, BatchStatus.ACCEPTED)
    sent(store, "second", "sms", 60, BatchStatus.ACCEPTED)
    sent(store, "refused", "sms", 70, BatchStatus.REFUSED)
    sent(store, "scheduled", "sms", 80, BatchStatus.ACCEPTED, "2026-03-01T12:00:00+00:00")
    matcher = Matcher(store)
    matcher.refresh()

    def match(f: Fact) -> str | None:
        found = matcher.match(f)
        return None if found is None else found.request_id

    assert match(fact(Kind.DELIVERY, 10)) == "first"
    assert match(fact(Kind.DELIVERY, 59.5)) == "second"  # within the clock tolerance
    assert match(fact(Kind.DELIVERY, 58)) == "first"  # out of order: dated before the second
    assert match(fact(Kind.DELIVERY, 90)) == "second"  # scheduled goes out at noon, refused never
    assert match(fact(Kind.DELIVERY, 181)) == "scheduled"
    assert match(fact(Kind.DELIVERY, 40, "voice_sms")) == "voice"
    assert match(fact(Kind.STOP, 40, None)) == "voice"  # any channel of the number
    assert match(fact(Kind.DELIVERY, -5)) is None  # before anything was sent
    assert match(fact(Kind.DELIVERY, 10, "email")) is None
    store.close()


def test_the_latest_to_go_out_wins_not_the_latest_journaled(tmp_path: Path) -> None:
    """A recipient in two sent requests: one scheduled for noon journaled first, one sent at
    once an hour later. A report after noon is the scheduled one's, which went out last."""
    store = open_state(str(tmp_path / "s.db"), tmp_path)
    sent(store, "scheduled", "sms", 0, BatchStatus.ACCEPTED, "2026-03-01T12:00:00+00:00")
    sent(store, "now", "sms", 60, BatchStatus.ACCEPTED)
    matcher = Matcher(store)
    matcher.refresh()

    def match(f: Fact) -> str | None:
        found = matcher.match(f)
        return None if found is None else found.request_id

    assert match(fact(Kind.DELIVERY, 90)) == "now"  # the scheduled one not gone out yet
    assert match(fact(Kind.DELIVERY, 181)) == "scheduled"
    assert match(fact(Kind.STOP, 181, None)) == "scheduled"
    store.close()


def test_new_batches_are_seen_after_a_refresh(tmp_path: Path) -> None:
    store = open_state(str(tmp_path / "s.db"), tmp_path)
    matcher = Matcher(store)
    matcher.refresh()
    sent(store, "late", "sms", 0, BatchStatus.INTENT)
    assert matcher.match(fact(Kind.DELIVERY, 1)) is None
    matcher.refresh()
    found = matcher.match(fact(Kind.DELIVERY, 1))
    assert found is not None and (found.request_id, Matcher.unconfirmed(found)) == ("late", True)
    store.close()


def test_a_request_never_sent_matches_nothing(
    tmp_path: Path,
) -> None:
    store = open_state(str(tmp_path / "s.db"), tmp_path)
    # Journaled, never attempted (a crash before the wire): it cannot have been delivered.
    store.record_intent(
        BatchIntent("unsent", "c", "sms", "multi-channel/send", "unsent", [N], ["h"], None, 0.0),
        T0,
        attempt=False,
    )
    sent(store, "odd", "sms", 30, BatchStatus.ACCEPTED)
    matcher = Matcher(store)
    matcher.refresh()
    assert matcher.match(fact(Kind.DELIVERY, 10)) is None  # only "unsent" before it
    found = matcher.match(fact(Kind.DELIVERY, 31))
    assert found is not None and found.request_id == "odd"
    assert matcher.match(Fact(Kind.DELIVERY, channel="sms", recipient=None, occurred_at=T0)) is None
    assert matcher.match(Fact(Kind.DELIVERY, channel="sms", recipient=N, occurred_at=None)) is None
    store.close()


def test_a_report_settles_an_unconfirmed_request_until_the_journal_moves(tmp_path: Path) -> None:
    store = open_state(str(tmp_path / "s.db"), tmp_path)
    sent(store, "late", "sms", 0, BatchStatus.INTENT)
    matcher = Matcher(store)
    matcher.refresh()
    found = matcher.match(fact(Kind.DELIVERY, 1))
    assert found is not None and Matcher.unconfirmed(found)
    matcher.settled("late")
    matcher.settled("unknown")  # a request the matcher never saw: nothing to settle
    matcher.refresh()  # the journal has not moved: what was settled here stays settled
    found = matcher.match(fact(Kind.DELIVERY, 1))
    assert found is not None and (found.status, Matcher.unconfirmed(found)) == ("accepted", False)
    store.close()
