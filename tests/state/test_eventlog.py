"""The events part of a state, on SQLite and PostgreSQL (schema 3)."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path

import psycopg
import pytest

from octoplan.state.base import SCHEMA_VERSION, BatchStatus, StateStore
from octoplan.state.eventlog import EventRecord, RawEvent
from octoplan.state.migrations import postgres as pg_migrations
from octoplan.state.migrations import sqlite as sqlite_migrations
from octoplan.state.open import open_state
from tests.state.helpers import at, batch_in, intent


def raw(key: str, body: bytes = b"{}", minute: float = 0) -> RawEvent:
    return RawEvent(key, at(minute), "application/json", body)


def delivery(
    raw_id: int,
    status: str,
    minute: float,
    *,
    final: bool,
    key: str = "+33600000001",
    request_id: str = "r1",
) -> EventRecord:
    return EventRecord(
        raw_id=raw_id,
        kind="delivery",
        channel="sms",
        recipient_key=key,
        status=status,
        message_id=None,
        occurred_at=at(minute),
        request_id=request_id,
        campaign_id="spring",
        problem=None,
        final=final,
    )


def stop(raw_id: int, minute: float, key: str = "+33600000001") -> EventRecord:
    return EventRecord(raw_id, "stop", None, key, None, None, at(minute), None, None, "unmatched")


def test_a_repeated_callback_is_stored_once(store: StateStore) -> None:
    store.append_raw([raw("k1", b"first"), raw("k2")])
    store.append_raw([raw("k1", b"again"), raw("k3")])
    pending = store.pending_raw(10)
    assert [e.body for e in pending] == [b"first", b"{}", b"{}"]
    assert pending[0].id < pending[1].id < pending[2].id
    assert store.info().serial == 0  # callbacks do not make saved plans stale


def test_interpreted_events_are_not_pending_any_more(store: StateStore) -> None:
    store.append_raw([raw(f"k{n}") for n in range(5)])
    recorded = store.record_events([1, 2], [], [], at(1), "tester")
    assert (recorded.events, recorded.opted_out, recorded.settled) == (0, 0, ())
    assert [e.id for e in store.pending_raw(10)] == [3, 4, 5]
    assert [e.id for e in store.pending_raw(2)] == [3, 4]


def test_a_final_report_beats_an_interim_one_whatever_the_order(store: StateStore) -> None:
    batch_in(store, "r1", ["+33600000001"], BatchStatus.ACCEPTED)
    store.append_raw([raw("a"), raw("b"), raw("c")])
    # DELIVERED at 10, then an ACK dated earlier arrives late, then a later ACK.
    store.record_events([1], [delivery(1, "DELIVERED", 10, final=True)], [], at(20), "t")
    store.record_events([2], [delivery(2, "ACK", 5, final=False)], [], at(21), "t")
    store.record_events([3], [delivery(3, "ACK", 30, final=False)], [], at(22), "t")
    (found,) = store.recipient_deliveries("+33600000001")
    assert (found.status, found.final, found.occurred_at) == ("DELIVERED", True, at(10))
    assert store.campaign_events()["spring"].deliveries == {"DELIVERED": 1}


def test_between_two_final_reports_the_later_wins(store: StateStore) -> None:
    batch_in(store, "r1", ["+33600000001"], BatchStatus.ACCEPTED)
    store.append_raw([raw("a"), raw("b")])
    store.record_events(
        [1, 2],
        [
            delivery(2, "NOT_DELIVERED", 40, final=True),
            delivery(1, "DELIVERED", 10, final=True),
        ],
        [],
        at(50),
        "t",
    )
    assert store.campaign_events()["spring"].deliveries == {"NOT_DELIVERED": 1}


def test_a_batch_of_many_reports_leaves_what_they_would_one_by_one(store: StateStore) -> None:
    # More rows than one multi-row statement takes (PostgreSQL sends them 500 at a time), a
    # repeated callback inside one call, and two reports per recipient in one batch.
    keys = [f"+336000{n:05d}" for n in range(600)]
    batch_in(store, "r1", keys, BatchStatus.ACCEPTED)
    store.append_raw([raw(f"k{n}") for n in range(1200)] + [raw("k7", b"again")])
    pending = store.pending_raw(2000)
    assert len(pending) == 1200 and b"again" not in {e.body for e in pending}
    reports = []
    for n, key in enumerate(keys):
        final = delivery(2 * n + 1, "DELIVERED", 3, final=True, key=key)
        interim = delivery(2 * n + 2, "ACK", 5, final=False, key=key)
        reports += [final, interim] if n % 2 else [interim, final]
    recorded = store.record_events([e.id for e in pending], reports, [], at(9), "t")
    assert recorded.events == 1200
    assert store.campaign_events()["spring"].deliveries == {"DELIVERED": 600}
    assert store.pending_raw(10) == []


def test_a_number_keeps_its_first_stop_and_serial_moves_once(store: StateStore) -> None:
    store.append_raw([raw("a"), raw("b"), raw("c")])
    first = store.record_events([1], [stop(1, 30)], [], at(31), "t")
    serial = store.info().serial
    earlier = store.record_events([2], [stop(2, 10)], [], at(32), "t")
    later = store.record_events([3], [stop(3, 50)], [], at(33), "t")
    assert (first.opted_out, earlier.opted_out, later.opted_out) == (1, 0, 0)
    assert store.opted_out() == {"+33600000001": at(10)}
    assert serial == 1 and store.info().serial == 1  # a plan changes once, not per STOP
    assert store.unmatched_events() == {"stop": 3}


def test_a_report_settles_an_unconfirmed_request_audited(store: StateStore) -> None:
    batch_in(store, "r1", ["+33600000001"], BatchStatus.INTENT)
    batch_in(store, "r2", ["+33600000002"], BatchStatus.IN_DOUBT)
    batch_in(store, "r3", ["+33600000003"], BatchStatus.REFUSED)
    before = store.info().serial
    store.append_raw([raw("a")])
    recorded = store.record_events(
        [1], [delivery(1, "DELIVERED", 5, final=True)], ["r1", "r2", "r3"], at(9), "receiver"
    )
    assert recorded.settled == ("r1", "r2")  # a refused request is never settled by a report
    statuses = {b.request_id: b.status for b in store.batches()}
    assert statuses == {
        "r1": BatchStatus.ACCEPTED,
        "r2": BatchStatus.ACCEPTED,
        "r3": BatchStatus.REFUSED,
    }
    assert store.info().serial == before + 1
    entries = [(e.action, e.detail) for e in store.audit_log() if e.action != "resolve"]
    assert entries == [
        (
            "accepted-by-report",
            "request r1 of spring: intent -> accepted (a delivery report names one of its "
            "recipients) (by receiver)",
        ),
        (
            "accepted-by-report",
            "request r2 of spring: in_doubt -> accepted (a delivery report names one of its "
            "recipients) (by receiver)",
        ),
    ]


def test_batches_of_a_recipient_are_found_exactly(store: StateStore) -> None:
    store.record_intent(intent("r1", ["a_b@x.io", "ab@x.io"]), at(0))
    store.record_intent(intent("r2", ["aXb@x.io", "+33600000001"]), at(1))
    store.record_intent(intent("r3", ["A_B@X.IO"]), at(2))
    # `_` is a LIKE wildcard and SQLite's LIKE ignores case: neither may widen the match.
    assert store.batches_of_recipient("a_b@x.io") == ["r1"]
    assert store.batches_of_recipient("+33600000001") == ["r2"]
    assert store.batches_of_recipient("+3360000000") == []


def test_members_since_a_seq_are_the_new_batches(store: StateStore) -> None:
    store.record_intent(intent("r1", ["+33600000001", "+33600000002"]), at(0))
    first = store.batch_members_since(0)
    assert [(rid, keys) for _, rid, keys in first] == [("r1", ["+33600000001", "+33600000002"])]
    store.record_intent(intent("r2", ["+33600000003"]), at(1))
    assert [rid for _, rid, _ in store.batch_members_since(first[-1][0])] == ["r2"]


# -- upgrading a version 2 state --------------------------------------------------------------


def _check_upgraded(location: str, tmp_path: Path) -> None:
    store = open_state(location, tmp_path)
    try:
        assert store.info().schema_version == SCHEMA_VERSION
        assert store.recipients("spring")["+33600000001"].status is BatchStatus.ACCEPTED
        store.append_raw([raw("a")])
        assert [e.id for e in store.pending_raw(5)] == [1]
        assert store.opted_out() == {}
    finally:
        store.close()


def _version_2_steps(conn: object, steps: tuple[tuple[object, ...], ...]) -> None:
    for group in steps[:2]:
        for step in group:
            if isinstance(step, str):
                conn.execute(step)  # type: ignore[attr-defined]
            else:
                step(conn)  # type: ignore[operator]


def test_a_version_2_sqlite_state_is_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "v2.db"
    conn = sqlite3.connect(path, isolation_level=None)
    _version_2_steps(conn, sqlite_migrations.MIGRATIONS)
    conn.execute("INSERT INTO meta VALUES (1, 'lineage-v2', 0, 2)")
    conn.close()
    _fill_v2(str(path), tmp_path)
    _check_upgraded(str(path), tmp_path)


def _fill_v2(location: str, tmp_path: Path) -> None:
    """Write a batch with the version 2 code paths (which schema 3 keeps unchanged)."""
    if location.startswith("postgresql"):
        with psycopg.connect(location, autocommit=True) as conn:
            _insert_batch(conn, "%s")
    else:
        conn = sqlite3.connect(location, isolation_level=None)
        _insert_batch(conn, "?")
        conn.close()


def _insert_batch(conn: object, mark: str) -> None:
    from octoplan.state.migrations import compress_payload

    marks = ", ".join([mark] * 16)
    conn.execute(  # type: ignore[attr-defined]
        "INSERT INTO batches (request_id, campaign_id, channel, endpoint, status, "
        "recipients_count, created_at, updated_at, first_sent_at, attempts, send_at, "
        f"estimated_cost, ticket, cost, error_code, seq) VALUES ({marks})",
        (
            "r1",
            "spring",
            "sms",
            "sms-campaign/send",
            "accepted",
            1,
            _time(mark),
            _time(mark),
            _time(mark),
            1,
            None,
            0.045,
            "t1",
            0.045,
            None,
            1,
        ),
    )
    conn.execute(  # type: ignore[attr-defined]
        "INSERT INTO batch_bodies (request_id, recipient_keys, content_hashes, payload) "
        f"VALUES ({mark}, {mark}, {mark}, {mark})",
        ("r1", "+33600000001", "h1", compress_payload('{"request_id": "r1"}')),
    )


def _time(mark: str) -> object:
    moment: datetime = at(0)
    return moment if mark == "%s" else moment.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


@pytest.mark.postgres
def test_a_version_2_postgres_state_is_upgraded(pg_url: str, tmp_path: Path) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        _version_2_steps(conn, pg_migrations.MIGRATIONS)
        conn.execute("INSERT INTO meta VALUES (1, 'lineage-v2', 0, 2)")
    _fill_v2(pg_url, tmp_path)
    _check_upgraded(pg_url, tmp_path)
