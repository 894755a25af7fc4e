"""The state contract, run against both backends (the `state_url` fixture)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from octoplan.errors import StateError
from octoplan.state.base import (
    SCHEMA_VERSION,
    STATUS_PRECEDENCE,
    AuditEntry,
    BatchStatus,
    CampaignSummary,
    RecipientRecord,
    StateStore,
)
from octoplan.state.open import describe, open_state
from tests.state.helpers import T0, at, batch_in, intent

ROOT = Path(__file__).resolve().parents[2]


def test_a_new_state_is_empty_at_serial_zero(store: StateStore, state_url: str) -> None:
    info = store.info()
    assert (info.serial, info.schema_version, info.url) == (
        0,
        SCHEMA_VERSION,
        describe(state_url),
    )
    assert len(info.lineage) == 32
    assert store.campaigns() == []
    assert store.recipients("spring") == {}
    assert store.batches() == []
    assert store.audit_log() == []
    assert store.lock_info() is None


def test_lineage_and_serial_survive_reopening(
    store: StateStore, state_url: str, tmp_path: Path
) -> None:
    store.record_intent(intent("r1", ["+33600000001"]), at(0))
    before = store.info()
    store.close()
    again = open_state(state_url, tmp_path)
    try:
        assert again.info() == before
        assert again.batch("r1") is not None
    finally:
        again.close()


def test_an_intent_is_recorded_whole(store: StateStore) -> None:
    store.record_intent(intent("r1", ["+33600000002", "+33600000001"]), at(0))
    batch = store.batch("r1")
    assert batch is not None
    assert (batch.request_id, batch.campaign_id, batch.channel, batch.endpoint) == (
        "r1",
        "spring",
        "sms",
        "sms-campaign/send",
    )
    assert store.payload("r1") == '{"request_id": "r1"}'
    assert (batch.status, batch.recipients_count, batch.attempts) == (BatchStatus.INTENT, 2, 0)
    assert (batch.created_at, batch.updated_at, batch.first_sent_at) == (T0, T0, None)
    assert batch.created_at.tzinfo is UTC
    assert batch.send_at is None
    assert batch.estimated_cost == pytest.approx(0.09)
    assert (batch.ticket, batch.cost, batch.error_code, batch.error_message) == (None,) * 4
    assert store.batch_recipients("r1") == [("+33600000001", "h1"), ("+33600000002", "h1")]
    assert store.batch("nope") is None


def test_every_write_bumps_serial_once(store: StateStore) -> None:
    serials = [store.info().serial]
    store.record_intent(intent("r1", ["+33600000001"]), at(0))
    serials.append(store.info().serial)
    store.mark_attempt("r1", at(1))
    serials.append(store.info().serial)
    store.record_outcome("r1", BatchStatus.IN_DOUBT, at(2))
    serials.append(store.info().serial)
    store.resolve("r1", sent=True, now=at(3), actor="alice")
    serials.append(store.info().serial)
    assert serials == [0, 1, 2, 3, 4]


def test_recording_the_same_intent_again_is_a_resume(store: StateStore) -> None:
    store.record_intent(intent("r1", ["+33600000001"]), at(0))
    store.record_outcome("r1", BatchStatus.ACCEPTED, at(1), ticket="T1")
    serial = store.info().serial
    store.record_intent(intent("r1", ["+33600000001"]), at(5))
    batch = store.batch("r1")
    assert batch is not None
    assert (batch.status, batch.ticket, batch.created_at) == (BatchStatus.ACCEPTED, "T1", T0)
    assert store.info().serial == serial


def test_the_same_request_id_with_another_payload_is_refused(store: StateStore) -> None:
    store.record_intent(intent("r1", ["+33600000001"]), at(0))
    with pytest.raises(StateError) as caught:
        store.record_intent(intent("r1", ["+33600000001"], payload="{}"), at(1))
    assert str(caught.value) == (
        "request r1 is already in state with another payload; "
        "request ids must be derived from the whole content of a request"
    )


def test_a_recipient_twice_in_one_request_is_refused(store: StateStore) -> None:
    with pytest.raises(StateError) as caught:
        store.record_intent(intent("r1", ["+33600000001", "+33600000001"]), at(0))
    assert str(caught.value) == "request r1 lists a recipient twice"
    assert store.batch("r1") is None
    assert store.info().serial == 0


def test_a_full_request_of_500_recipients(store: StateStore) -> None:
    keys = [f"+336{n:08d}" for n in range(500)]
    store.record_intent(intent("big", keys), at(0))
    assert len(store.batch_recipients("big")) == 500
    assert set(store.recipients("spring")) == set(keys)


def test_attempts_count_and_the_first_send_is_kept(store: StateStore) -> None:
    store.record_intent(intent("r1", ["+33600000001"]), at(0))
    store.mark_attempt("r1", at(1))
    store.mark_attempt("r1", at(2))
    batch = store.batch("r1")
    assert batch is not None
    assert (batch.attempts, batch.first_sent_at, batch.updated_at) == (2, at(1), at(2))


def test_an_intent_leaving_now_counts_its_attempt_in_the_same_write(store: StateStore) -> None:
    store.record_intent(intent("r1", ["+33600000001"]), at(0), attempt=True)
    batch = store.batch("r1")
    assert batch is not None
    assert (batch.status, batch.attempts, batch.first_sent_at) == (BatchStatus.INTENT, 1, T0)
    assert store.info().serial == 1
    # A resume of the same intent counts one more attempt and keeps the first send.
    store.record_intent(intent("r1", ["+33600000001"]), at(5), attempt=True)
    batch = store.batch("r1")
    assert batch is not None
    assert (batch.attempts, batch.first_sent_at, batch.created_at) == (2, T0, T0)


def test_a_withdrawn_attempt_leaves_the_request_as_never_sent(store: StateStore) -> None:
    store.record_intent(intent("r1", ["+33600000001"]), at(0), attempt=True)
    store.withdraw_attempt("r1", at(1))
    batch = store.batch("r1")
    assert batch is not None
    assert (batch.status, batch.attempts, batch.first_sent_at) == (BatchStatus.INTENT, 0, None)
    # An earlier attempt that did leave keeps its time: the 24 h window runs from it.
    store.mark_attempt("r1", at(2))
    store.mark_attempt("r1", at(3))
    store.withdraw_attempt("r1", at(4))
    batch = store.batch("r1")
    assert batch is not None
    assert (batch.attempts, batch.first_sent_at) == (1, at(2))
    assert store.info().serial == 5


def test_only_an_attempt_of_an_unconfirmed_request_can_be_withdrawn(store: StateStore) -> None:
    store.record_intent(intent("r1", ["+33600000001"]), at(0))
    with pytest.raises(StateError) as caught:
        store.withdraw_attempt("r1", at(1))
    assert str(caught.value) == "request r1 has no attempt to withdraw"
    store.mark_attempt("r1", at(1))
    store.record_outcome("r1", BatchStatus.ACCEPTED, at(2))
    with pytest.raises(StateError) as caught:
        store.withdraw_attempt("r1", at(3))
    assert str(caught.value) == "request r1 has no attempt to withdraw"
    batch = store.batch("r1")
    assert batch is not None
    assert (batch.status, batch.attempts) == (BatchStatus.ACCEPTED, 1)


def test_grouped_writes_are_seen_together_once_the_group_ends(
    store: StateStore, state_url: str, tmp_path: Path
) -> None:
    store.record_intent(intent("r1", ["+33600000001"]), at(0), attempt=True)
    other = open_state(state_url, tmp_path)
    try:
        with store.grouped():
            store.record_outcome("r1", BatchStatus.ACCEPTED, at(1))
            store.record_intent(intent("r2", ["+33600000002"]), at(1), attempt=True)
            assert other.batch("r2") is None  # not committed yet
            assert store.batch("r2") is not None  # reads inside the group see its writes
            assert other.recipients("spring")["+33600000001"].status is BatchStatus.INTENT
        assert other.recipients("spring")["+33600000001"].status is BatchStatus.ACCEPTED
        assert other.batch("r2") is not None
        assert other.info().serial == 3
    finally:
        other.close()


def test_a_failed_write_in_a_group_keeps_none_of_it(store: StateStore) -> None:
    store.record_intent(intent("r1", ["+33600000001"]), at(0), attempt=True)
    with pytest.raises(StateError) as caught, store.grouped():
        store.record_outcome("r1", BatchStatus.ACCEPTED, at(1))
        store.record_intent(intent("r2", ["+33600000002", "+33600000002"]), at(1))
    assert str(caught.value) == "request r2 lists a recipient twice"
    assert store.recipients("spring")["+33600000001"].status is BatchStatus.INTENT
    assert store.info().serial == 1
    # The store works on after the failed group.
    store.record_outcome("r1", BatchStatus.ACCEPTED, at(2))
    assert store.info().serial == 2


@pytest.mark.parametrize(
    ("keys", "hashes"),
    [(["+33600000001\n+33600000002"], ["h1"]), (["+33600000001"], ["h1\nh2"]), ([""], ["h1"])],
    ids=["line-break-in-key", "line-break-in-hash", "empty-key"],
)
def test_recipients_that_would_not_read_back_are_refused(
    store: StateStore, keys: list[str], hashes: list[str]
) -> None:
    broken = replace(intent("r1", ["+33600000009"]), recipients=keys, content_hashes=hashes)
    with pytest.raises(StateError) as caught:
        store.record_intent(broken, at(0))
    assert str(caught.value) == (
        "request r1: recipient keys and content hashes must pair up and hold no line breaks"
    )
    assert store.batch("r1") is None


def test_writes_to_an_unknown_request_are_refused(store: StateStore) -> None:
    with pytest.raises(StateError) as caught:
        store.mark_attempt("ghost", at(0))
    assert str(caught.value) == "no request ghost in state"
    with pytest.raises(StateError) as caught:
        store.record_outcome("ghost", BatchStatus.ACCEPTED, at(0))
    assert str(caught.value) == "no request ghost in state"
    assert store.info().serial == 0


def test_an_outcome_is_recorded_on_the_batch_and_its_recipients(store: StateStore) -> None:
    store.record_intent(intent("r1", ["+33600000001", "+33600000002"]), at(0))
    store.record_outcome("r1", BatchStatus.ACCEPTED, at(1), ticket="T-42", cost=0.09)
    batch = store.batch("r1")
    assert batch is not None
    assert (batch.status, batch.ticket, batch.updated_at) == (BatchStatus.ACCEPTED, "T-42", at(1))
    assert batch.cost == pytest.approx(0.09)
    assert {record.status for record in store.recipients("spring").values()} == {
        BatchStatus.ACCEPTED
    }


def test_a_refusal_keeps_the_api_code_and_message(store: StateStore) -> None:
    store.record_intent(intent("r1", ["+33600000001"]), at(0))
    store.record_outcome(
        "r1", BatchStatus.REFUSED, at(1), error_code=121, error_message="STOP mention missing"
    )
    batch = store.batch("r1")
    assert batch is not None
    assert (batch.status, batch.error_code, batch.error_message) == (
        BatchStatus.REFUSED,
        121,
        "STOP mention missing",
    )


@pytest.mark.parametrize("later", [BatchStatus.REFUSED, BatchStatus.IN_DOUBT])
def test_an_accepted_request_never_goes_back(store: StateStore, later: BatchStatus) -> None:
    store.record_intent(intent("r1", ["+33600000001"]), at(0))
    store.record_outcome("r1", BatchStatus.ACCEPTED, at(1))
    with pytest.raises(StateError) as caught:
        store.record_outcome("r1", later, at(2))
    assert str(caught.value) == f"request r1 is accepted; it cannot become {later}"
    assert store.recipients("spring")["+33600000001"].status is BatchStatus.ACCEPTED


def test_an_accepted_request_can_be_cancelled(store: StateStore) -> None:
    batch_in(store, "r1", ["+33600000001"], BatchStatus.CANCELLED)
    assert store.recipients("spring")["+33600000001"].status is BatchStatus.CANCELLED


def test_intent_is_not_an_outcome(store: StateStore) -> None:
    store.record_intent(intent("r1", ["+33600000001"]), at(0))
    with pytest.raises(ValueError, match="use record_intent"):
        store.record_outcome("r1", BatchStatus.INTENT, at(1))


PAIRS = [(a, b) for a in BatchStatus for b in BatchStatus]


@pytest.mark.parametrize(("first", "second"), PAIRS, ids=[f"{a}-{b}" for a, b in PAIRS])
def test_the_deciding_record_follows_status_precedence(
    store: StateStore, first: BatchStatus, second: BatchStatus
) -> None:
    batch_in(store, "a", ["+33600000001", "+33600000002"], first, content_hash="old")
    batch_in(store, "b", ["+33600000001"], second, content_hash="new")
    if STATUS_PRECEDENCE.index(first) < STATUS_PRECEDENCE.index(second):
        expected = RecipientRecord("+33600000001", "old", "a", first)
    else:  # a tie goes to the later batch
        expected = RecipientRecord("+33600000001", "new", "b", second)
    assert store.recipients("spring") == {
        "+33600000001": expected,
        "+33600000002": RecipientRecord("+33600000002", "old", "a", first),
    }
    # The planner's view says the same, split into sent and the rest.
    sent, others = store.recipient_state("spring")
    everyone = {key: (h, "", BatchStatus.ACCEPTED.value) for key, h in sent.items()} | others
    assert everyone == {
        key: (
            record.content_hash,
            "" if record.status is BatchStatus.ACCEPTED else record.request_id,
            record.status.value,
        )
        for key, record in store.recipients("spring").items()
    }
    assert all(status != BatchStatus.ACCEPTED.value for _, _, status in others.values())


def test_recipients_are_per_campaign(store: StateStore) -> None:
    batch_in(store, "a", ["+33600000001"], BatchStatus.ACCEPTED)
    batch_in(store, "b", ["+33600000001"], BatchStatus.REFUSED, campaign_id="autumn")
    assert store.recipients("spring")["+33600000001"].status is BatchStatus.ACCEPTED
    assert store.recipients("autumn")["+33600000001"].status is BatchStatus.REFUSED
    assert store.recipients("winter") == {}


def test_batches_filter_by_campaign_and_status_in_intent_order(store: StateStore) -> None:
    batch_in(store, "z", ["+33600000001"], BatchStatus.ACCEPTED)
    batch_in(store, "a", ["+33600000002"], BatchStatus.IN_DOUBT)
    batch_in(store, "m", ["+33600000003"], BatchStatus.INTENT, campaign_id="autumn")

    def ids(**kwargs: object) -> list[str]:
        return [batch.request_id for batch in store.batches(**kwargs)]  # type: ignore[arg-type]

    assert ids() == ["z", "a", "m"]
    assert ids(campaign_id="spring") == ["z", "a"]
    assert ids(statuses=[BatchStatus.INTENT, BatchStatus.IN_DOUBT]) == ["a", "m"]
    assert ids(campaign_id="spring", statuses=[BatchStatus.INTENT]) == []
    assert ids(statuses=[]) == []


def test_campaign_summaries_count_each_recipient_once(store: StateStore) -> None:
    store.record_intent(intent("a", ["+33600000001", "+33600000002", "+33600000003"]), at(0))
    store.record_outcome("a", BatchStatus.REFUSED, at(1), error_code=106)
    store.record_intent(intent("b", ["+33600000001"], content_hash="h2"), at(2))
    store.record_outcome("b", BatchStatus.ACCEPTED, at(3), ticket="T", cost=0.045)
    store.record_intent(intent("c", ["+33600000004"]), at(4))
    batch_in(store, "d", ["+33600000009"], BatchStatus.ACCEPTED, campaign_id="autumn")
    assert store.campaigns() == [
        CampaignSummary("autumn", 1, 1, 0, 0, 0.0, at(1)),
        CampaignSummary(
            campaign_id="spring",
            batches=3,
            recipients_sent=1,
            recipients_pending=1,
            recipients_refused=2,
            cost=pytest.approx(0.045),  # type: ignore[arg-type]
            last_activity=at(4),
        ),
    ]


def test_resolve_settles_a_request_in_doubt_and_is_audited(store: StateStore) -> None:
    batch_in(store, "r1", ["+33600000001"], BatchStatus.IN_DOUBT)
    batch_in(store, "r2", ["+33600000002"], BatchStatus.INTENT)
    store.resolve("r1", sent=True, now=at(10), actor="alice@laptop")
    store.resolve("r2", sent=False, now=at(11), actor="bob@ci")
    records = store.recipients("spring")
    assert records["+33600000001"].status is BatchStatus.ACCEPTED
    assert records["+33600000002"].status is BatchStatus.NOT_SENT
    assert store.audit_log() == [
        AuditEntry(
            at(10), "resolve", "request r1 of spring: in_doubt -> accepted (by alice@laptop)"
        ),
        AuditEntry(at(11), "resolve", "request r2 of spring: intent -> not_sent (by bob@ci)"),
    ]


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (BatchStatus.ACCEPTED, "request r1 is accepted, not in doubt"),
        (BatchStatus.REFUSED, "request r1 is refused, not in doubt"),
        (BatchStatus.NOT_SENT, "request r1 is not_sent, not in doubt"),
    ],
)
def test_only_requests_in_doubt_can_be_resolved(
    store: StateStore, status: BatchStatus, message: str
) -> None:
    batch_in(store, "r1", ["+33600000001"], status)
    serial = store.info().serial
    with pytest.raises(StateError) as caught:
        store.resolve("r1", sent=True, now=at(10), actor="alice")
    assert str(caught.value) == (
        f"{message}: only requests left as intent or in_doubt can be resolved"
    )
    assert store.info().serial == serial


def test_resolving_an_unknown_request_says_where_to_look(store: StateStore) -> None:
    with pytest.raises(StateError) as caught:
        store.resolve("ghost", sent=True, now=at(10), actor="alice")
    assert str(caught.value) == (
        "no request ghost in state; `octoplan state show CAMPAIGN` lists the requests of a campaign"
    )


def test_a_scheduled_request_cancelled_unrecorded_is_resolved_as_cancelled(
    store: StateStore,
) -> None:
    scheduled = replace(intent("r1", ["+33600000001"]), send_at="2026-03-02T10:00:00+00:00")
    store.record_intent(scheduled, at(0))
    store.record_outcome("r1", BatchStatus.ACCEPTED, at(1), ticket="t1")
    serial = store.info().serial
    store.resolve_cancelled("r1", now=at(10), actor="alice@laptop")
    assert store.recipients("spring")["+33600000001"].status is BatchStatus.CANCELLED
    assert store.info().serial == serial + 1
    assert store.audit_log() == [
        AuditEntry(
            at(10), "resolve", "request r1 of spring: accepted -> cancelled (by alice@laptop)"
        )
    ]


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (BatchStatus.ACCEPTED, "request r1 is not scheduled"),
        (BatchStatus.IN_DOUBT, "request r1 is in_doubt"),
        (BatchStatus.CANCELLED, "request r1 is cancelled"),
    ],
)
def test_only_a_scheduled_accepted_request_can_be_resolved_as_cancelled(
    store: StateStore, status: BatchStatus, message: str
) -> None:
    batch_in(store, "r1", ["+33600000001"], status)
    serial = store.info().serial
    with pytest.raises(StateError) as caught:
        store.resolve_cancelled("r1", now=at(10), actor="alice")
    assert str(caught.value) == (
        f"{message}: only a request accepted for a later send_at can be resolved as cancelled"
    )
    assert store.info().serial == serial
    with pytest.raises(StateError) as unknown:
        store.resolve_cancelled("ghost", now=at(10), actor="alice")
    assert str(unknown.value) == (
        "no request ghost in state; `octoplan state show CAMPAIGN` lists the requests of a campaign"
    )


def test_times_come_back_as_utc_whatever_they_went_in_as(store: StateStore) -> None:
    paris = timezone(timedelta(hours=1))
    store.record_intent(intent("r1", ["+33600000001"]), datetime(2026, 3, 1, 10, 0, tzinfo=paris))
    store.mark_attempt("r1", datetime(2026, 3, 1, 9, 5))  # naive: taken as UTC
    batch = store.batch("r1")
    assert batch is not None
    assert (batch.created_at, batch.first_sent_at) == (T0, at(5))
    assert batch.created_at.utcoffset() == timedelta(0)


def test_two_stores_on_one_state_see_each_others_writes(
    store: StateStore, state_url: str, tmp_path: Path
) -> None:
    other = open_state(state_url, tmp_path)
    try:
        store.record_intent(intent("r1", ["+33600000001"]), at(0))
        other.record_outcome("r1", BatchStatus.ACCEPTED, at(1))
        assert store.recipients("spring")["+33600000001"].status is BatchStatus.ACCEPTED
        assert store.info() == other.info()
    finally:
        other.close()


WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from octoplan.state.base import BatchStatus
    from octoplan.state.open import open_state
    from tests.state.helpers import at, intent

    store = open_state(sys.argv[1], Path(sys.argv[2]))
    for n in range(40):
        request_id = f"{sys.argv[3]}-{n}"
        store.record_intent(intent(request_id, [f"+336{n:08d}", f"+337{n:08d}"]), at(n))
        store.mark_attempt(request_id, at(n))
        store.record_outcome(request_id, BatchStatus.ACCEPTED, at(n), cost=0.09)
    store.close()
    """
)


def test_writers_in_two_processes_lose_nothing(
    store: StateStore, state_url: str, tmp_path: Path
) -> None:
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, state_url, str(tmp_path), name], cwd=ROOT)
        for name in ("left", "right")
    ]
    assert [writer.wait(timeout=120) for writer in writers] == [0, 0]
    assert store.info().serial == 2 * 40 * 3
    assert len(store.batches(statuses=[BatchStatus.ACCEPTED])) == 80
    [summary] = store.campaigns()
    assert (summary.batches, summary.recipients_sent) == (80, 80)
    assert summary.cost == pytest.approx(80 * 0.09)


def test_a_campaigns_history_spans_its_earlier_ids(store: StateStore) -> None:
    """recipient_state over a campaign and its renamed_from ids: each recipient's deciding
    record across all of them, as if they were one campaign."""
    batch_in(
        store, "old-1", ["+33600000001", "+33600000002"], BatchStatus.ACCEPTED, campaign_id="promo"
    )
    batch_in(store, "old-2", ["+33600000003"], BatchStatus.REFUSED, campaign_id="promo")
    batch_in(
        store,
        "new-1",
        ["+33600000002", "+33600000003"],
        BatchStatus.INTENT,
        campaign_id="promo-2026",
    )
    batch_in(store, "else", ["+33600000004"], BatchStatus.ACCEPTED, campaign_id="other")
    assert store.recipient_state("promo-2026", "promo") == (
        {"+33600000001": "h1", "+33600000002": "h1"},
        {"+33600000003": ("h1", "new-1", "intent")},
    )
    assert store.recipient_state("promo-2026") == (
        {},
        {"+33600000002": ("h1", "new-1", "intent"), "+33600000003": ("h1", "new-1", "intent")},
    )
    assert [b.request_id for b in store.batches(("promo-2026", "promo"))] == [
        "old-1",
        "old-2",
        "new-1",
    ]


def test_recent_batches_are_those_whose_recipients_may_have_their_text(
    store: StateStore,
) -> None:
    batch_in(store, "sent", ["+33600000001"], BatchStatus.ACCEPTED)
    batch_in(store, "refused", ["+33600000002"], BatchStatus.REFUSED)
    batch_in(store, "doubt", ["+33600000003"], BatchStatus.IN_DOUBT)
    batch_in(store, "cancelled", ["+33600000004"], BatchStatus.CANCELLED)
    batch_in(store, "never-left", ["+33600000005"], BatchStatus.INTENT)
    store.record_intent(intent("left", ["+33600000006"], campaign_id="autumn"), at(3), attempt=True)
    scheduled = replace(intent("later", ["+33600000007"]), send_at="2026-04-20T10:00:00+02:00")
    store.record_intent(scheduled, at(-90 * 24 * 60), attempt=True)
    store.record_outcome("later", BatchStatus.ACCEPTED, at(-90 * 24 * 60), ticket="T")

    recent = store.recent_batches(at(0))
    assert [(b.request_id, b.campaign_id, b.status.value, b.at) for b in recent] == [
        ("sent", "spring", "accepted", at(0)),
        ("doubt", "spring", "in_doubt", at(0)),
        ("left", "autumn", "intent", at(3)),
        ("later", "spring", "accepted", datetime(2026, 4, 20, 8, tzinfo=UTC)),
    ]
    assert [b.request_id for b in store.recent_batches(at(4))] == ["later"]
    assert store.recent_batches(datetime(2026, 4, 21, tzinfo=UTC)) == []


def test_sent_contents_give_recipients_hashes_and_their_key(store: StateStore) -> None:
    store.record_intent(
        replace(intent("a", ["+33600000002", "+33600000001"]), options="0f" * 16), at(0)
    )
    store.record_intent(intent("b", ["+33600000003"]), at(0))
    assert store.sent_contents(["a", "b", "unknown"]) == {
        "a": (["+33600000002", "+33600000001"], ["h1", "h1"], "0f" * 16),
        "b": (["+33600000003"], ["h1"], None),
    }
    many = [f"r{n}" for n in range(1200)]  # several SQL statements' worth
    with store.grouped():
        for n, request_id in enumerate(many):
            store.record_intent(intent(request_id, [f"+3360{n:07d}"]), at(0))
    assert sorted(store.sent_contents(many)) == sorted(many)


def test_move_campaign_gives_a_history_to_another_id_and_is_audited(store: StateStore) -> None:
    batch_in(store, "r1", ["+33600000001"], BatchStatus.ACCEPTED, campaign_id="promo")
    batch_in(store, "r2", ["+33600000002"], BatchStatus.ACCEPTED, campaign_id="taken")
    serial = store.info().serial
    assert store.move_campaign("promo", "promo-2026", at(5), "alice@laptop") == 1
    assert store.info().serial == serial + 1
    assert store.campaign_ids() == ["promo-2026", "taken"]
    with pytest.raises(StateError) as onto:
        store.move_campaign("promo-2026", "taken", at(6), "alice@laptop")
    assert str(onto.value) == (
        "campaign taken already has 1 request in state; --merge adds promo-2026's to them "
        "(each recipient then counts as sent if either sent it)"
    )
    with pytest.raises(StateError) as missing:
        store.move_campaign("nothing", "taken", at(6), "alice@laptop")
    assert str(missing.value) == (
        "campaign nothing is not in state; `octoplan state list` shows the campaigns recorded"
    )
    assert store.move_campaign("promo-2026", "taken", at(7), "bob@ci", merge=True) == 1
    assert store.recipient_state("taken")[0] == {"+33600000001": "h1", "+33600000002": "h1"}
    assert [(e.action, e.detail) for e in store.audit_log()] == [
        ("mv", "moved 1 request(s) of campaign promo to promo-2026 (by alice@laptop)"),
        ("mv", "moved 1 request(s) of campaign promo-2026 to taken, merged with its 1 (by bob@ci)"),
    ]


def test_forget_campaign_refuses_unsettled_and_scheduled_requests_unless_forced(
    store: StateStore,
) -> None:
    batch_in(store, "sent", ["+33600000001", "+33600000002"], BatchStatus.ACCEPTED)
    batch_in(store, "doubt", ["+33600000003"], BatchStatus.IN_DOUBT)
    scheduled = replace(intent("later", ["+33600000004"]), send_at="2026-03-05T10:00:00+01:00")
    store.record_intent(scheduled, at(0), attempt=True)
    store.record_outcome("later", BatchStatus.ACCEPTED, at(1), ticket="T")
    batch_in(store, "other", ["+33600000009"], BatchStatus.ACCEPTED, campaign_id="autumn")
    with pytest.raises(StateError) as caught:
        store.forget_campaign("spring", at(10), "alice@laptop")
    assert str(caught.value) == (
        "campaign spring has 1 unconfirmed or in-doubt request(s) and 1 request(s) scheduled "
        "to go out later: forgotten, they could no longer be resent under their request_id, "
        "settled or cancelled. Settle them first (`octoplan state resolve`, or let them go "
        "out), or use --force"
    )
    assert store.campaign_ids() == ["autumn", "spring"]
    # Once the scheduled send has gone out, only the doubt is left to force past.
    forgotten = store.forget_campaign("spring", datetime(2026, 3, 6, tzinfo=UTC), "a", force=True)
    assert (forgotten.batches, forgotten.recipients_sent) == (3, 3)
    assert store.campaign_ids() == ["autumn"]
    assert store.recipient_state("spring") == ({}, {})
    assert store.sent_contents(["sent", "doubt", "later"]) == {}
    [entry] = store.audit_log()
    assert (entry.action, entry.detail) == (
        "rm",
        "forgot campaign spring: 3 request(s), 3 recipient(s) sent (forced) (by a)",
    )
