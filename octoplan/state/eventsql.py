"""The events part of a state in SQL, shared by SQLite and PostgreSQL (see eventlog.py).

Mixed into `SqlStore`: it uses the backend's transactions (`_read`, `_write`, and `_append`, a
write that does not take the lock on `meta` that serializes journal writes) and time columns.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from octoplan.state.eventlog import (
    CampaignEvents,
    EventLog,
    EventRecord,
    RawEvent,
    RecipientDelivery,
    Recorded,
    SentBatch,
    StoredRawEvent,
)

if TYPE_CHECKING:
    from octoplan.state.sqlread import Tx

_SETTLEABLE = ("intent", "in_doubt")
_EVENT_COLUMNS = (
    "raw_id, kind, channel, recipient_key, status, message_id, occurred_at, request_id, "
    "campaign_id, problem"
)
_INSERT_RAW = (
    "INSERT INTO raw_events (dedup_key, received_at, content_type, body, problem) "
    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (dedup_key) DO NOTHING"
)
# A final status beats an interim one; between two of the same rank the later report wins.
_UPSERT_DELIVERY = (
    "INSERT INTO deliveries (campaign_id, recipient_key, request_id, status, final, "
    "occurred_at, raw_id) VALUES (?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (campaign_id, recipient_key) DO UPDATE SET request_id = excluded.request_id, "
    "status = excluded.status, final = excluded.final, occurred_at = excluded.occurred_at, "
    "raw_id = excluded.raw_id "
    "WHERE excluded.final > deliveries.final OR (excluded.final = deliveries.final "
    "AND excluded.occurred_at >= deliveries.occurred_at)"
)
_CHUNK = 500  # ids per IN (...) list


def _latest_deliveries(events: Sequence[EventRecord]) -> list[EventRecord]:
    """The delivery reports to upsert, one per (campaign, recipient): the one that applying
    them in order under _UPSERT_DELIVERY's rule would leave (a final status beats an interim
    one; at the same rank the later report, or the later in order on a tie, wins). The stored
    row then meets only this winner, which is the same as meeting them all in turn, and a
    backend may send them as one statement (a DO UPDATE must not meet its key twice there)."""
    winners: dict[tuple[str, str], EventRecord] = {}
    for e in events:
        if not (
            e.kind == "delivery"
            and e.campaign_id
            and e.request_id
            and e.recipient_key
            and e.status
            and e.occurred_at is not None
        ):
            continue
        key = (e.campaign_id, e.recipient_key)
        held = winners.get(key)
        if held is None or _beats(e, held):
            winners[key] = e
    return list(winners.values())


def _beats(new: EventRecord, held: EventRecord) -> bool:
    if new.final != held.final:
        return bool(new.final)
    return _aware(new.occurred_at) >= _aware(held.occurred_at)


def _aware(moment: datetime | None) -> datetime:
    """As the time columns store it: naive is UTC (None does not occur: filtered before)."""
    if moment is None:
        return datetime.min.replace(tzinfo=UTC)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _like_member(key: str) -> str:
    """A LIKE pattern for a newline-delimited member `key` (wildcards escaped)."""
    escaped = key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%\n{escaped}\n%"


class SqlEventLog(EventLog):
    # -- what SqlStore and the backends provide ---------------------------------------------
    @abstractmethod
    def _read(self) -> AbstractContextManager[Tx]: ...

    @abstractmethod
    def _write(self) -> AbstractContextManager[Tx]: ...

    @abstractmethod
    def _time_in(self, moment: datetime) -> object: ...

    @abstractmethod
    def _time_out(self, value: Any) -> datetime: ...

    @abstractmethod
    def _bump(self, tx: Tx) -> int: ...

    @abstractmethod
    def _audit(self, tx: Tx, now: datetime, action: str, actor: str, detail: str) -> None: ...

    def _append(self) -> AbstractContextManager[Tx]:
        """A write that leaves `meta` alone (PostgreSQL: no wait behind an apply)."""
        return self._write()

    def _maybe_in(self, moment: datetime | None) -> object:
        return None if moment is None else self._time_in(moment)

    # -- raw callbacks ------------------------------------------------------------------------
    def append_raw(self, events: Sequence[RawEvent]) -> None:
        if not events:
            return
        with self._append() as tx:
            tx.many(
                _INSERT_RAW,
                [
                    (e.dedup_key, self._time_in(e.received_at), e.content_type, e.body, e.problem)
                    for e in events
                ],
            )

    def pending_raw(self, limit: int) -> list[StoredRawEvent]:
        with self._read() as tx:
            rows = tx.all(
                "SELECT id, received_at, content_type, body, problem FROM raw_events "
                "WHERE interpreted = 0 ORDER BY id LIMIT ?",
                (limit,),
            )
        return [
            StoredRawEvent(int(i), self._time_out(at), ctype, bytes(body), problem)
            for i, at, ctype, body, problem in rows
        ]

    # -- interpretations ----------------------------------------------------------------------
    def record_events(
        self,
        raw_ids: Sequence[int],
        events: Sequence[EventRecord],
        settle: Sequence[str],
        now: datetime,
        actor: str,
    ) -> Recorded:
        stops = [e for e in events if e.kind == "stop" and e.recipient_key]
        # Only what may change a plan takes the journal's lock (and bumps serial).
        transaction = self._write() if (stops or settle) else self._append()
        with transaction as tx:
            tx.many(
                f"INSERT INTO events ({_EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        e.raw_id,
                        e.kind,
                        e.channel,
                        e.recipient_key,
                        e.status,
                        e.message_id,
                        self._maybe_in(e.occurred_at),
                        e.request_id,
                        e.campaign_id,
                        e.problem,
                    )
                    for e in events
                ],
            )
            tx.many(
                _UPSERT_DELIVERY,
                [
                    (
                        e.campaign_id,
                        e.recipient_key,
                        e.request_id,
                        e.status,
                        1 if e.final else 0,
                        self._time_in(_aware(e.occurred_at)),
                        e.raw_id,
                    )
                    for e in _latest_deliveries(events)
                ],
            )
            opted = self._record_stops(tx, stops, now)
            settled = self._settle(tx, settle, now, actor)
            for start in range(0, len(raw_ids), _CHUNK):
                chunk = raw_ids[start : start + _CHUNK]
                tx.run(
                    f"UPDATE raw_events SET interpreted = 1 WHERE id IN "
                    f"({', '.join('?' * len(chunk))})",
                    chunk,
                )
            if opted or settled:
                self._bump(tx)
        return Recorded(len(events), opted, tuple(settled))

    def _record_stops(self, tx: Tx, stops: Iterable[EventRecord], now: datetime) -> int:
        """Keep each number's first STOP; count the numbers opted out for the first time."""
        new = 0
        for event in stops:
            when = event.occurred_at or now
            row = tx.one(
                "SELECT stopped_at FROM opt_outs WHERE recipient_key = ?", (event.recipient_key,)
            )
            if row is None:
                tx.run(
                    "INSERT INTO opt_outs (recipient_key, stopped_at, raw_id) VALUES (?, ?, ?)",
                    (event.recipient_key, self._time_in(when), event.raw_id),
                )
                new += 1
            elif self._time_out(row[0]) > when:
                tx.run(
                    "UPDATE opt_outs SET stopped_at = ?, raw_id = ? WHERE recipient_key = ?",
                    (self._time_in(when), event.raw_id, event.recipient_key),
                )
        return new

    def _settle(self, tx: Tx, request_ids: Sequence[str], now: datetime, actor: str) -> list[str]:
        settled: list[str] = []
        for request_id in request_ids:
            row = tx.one(
                "SELECT status, campaign_id FROM batches WHERE request_id = ?", (request_id,)
            )
            if row is None or row[0] not in _SETTLEABLE:
                continue  # settled meanwhile (by apply, `state resolve` or an earlier report)
            tx.run(
                "UPDATE batches SET status = 'accepted', updated_at = ? WHERE request_id = ?",
                (self._time_in(now), request_id),
            )
            self._audit(
                tx,
                now,
                "accepted-by-report",
                actor,
                f"request {request_id} of {row[1]}: {row[0]} -> accepted "
                "(a delivery report names one of its recipients)",
            )
            settled.append(request_id)
        return settled

    # -- reading for matching -----------------------------------------------------------------
    def sent_batches(self) -> list[SentBatch]:
        with self._read() as tx:
            rows = tx.all(
                "SELECT request_id, campaign_id, channel, status, first_sent_at, send_at, seq "
                "FROM batches"
            )
        return [
            SentBatch(
                rid,
                campaign,
                channel,
                status,
                None if first is None else self._time_out(first),
                send_at,
                int(seq),
            )
            for rid, campaign, channel, status, first, send_at, seq in rows
        ]

    def batch_members_since(self, seq: int) -> list[tuple[int, str, list[str]]]:
        with self._read() as tx:
            rows = tx.all(
                "SELECT seq, request_id, recipients_count, recipient_keys "
                "FROM batches JOIN batch_bodies USING (request_id) WHERE seq > ? ORDER BY seq",
                (seq,),
            )
        return [(int(s), rid, keys.split("\n") if count else []) for s, rid, count, keys in rows]

    def opted_out(self) -> dict[str, datetime]:
        with self._read() as tx:
            rows = tx.all("SELECT recipient_key, stopped_at FROM opt_outs")
        return {key: self._time_out(at) for key, at in rows}

    # -- reading for status and explain -------------------------------------------------------
    def campaign_events(self) -> dict[str, CampaignEvents]:
        with self._read() as tx:
            deliveries = tx.all(
                "SELECT campaign_id, status, COUNT(*) FROM deliveries GROUP BY campaign_id, status"
            )
            stops = tx.all(
                "SELECT campaign_id, COUNT(DISTINCT recipient_key) FROM events "
                "WHERE kind = 'stop' AND campaign_id IS NOT NULL GROUP BY campaign_id"
            )
            replies = tx.all(
                "SELECT campaign_id, COUNT(*) FROM events "
                "WHERE kind = 'reply' AND campaign_id IS NOT NULL GROUP BY campaign_id"
            )
        found: dict[str, CampaignEvents] = {}

        def of(campaign: str) -> CampaignEvents:
            if campaign not in found:
                found[campaign] = CampaignEvents({}, 0, 0)
            return found[campaign]

        for campaign, status, count in deliveries:
            of(campaign).deliveries[status] = int(count)
        for campaign, count in stops:
            found[campaign] = CampaignEvents(of(campaign).deliveries, int(count), 0)
        for campaign, count in replies:
            current = of(campaign)
            found[campaign] = CampaignEvents(current.deliveries, current.stops, int(count))
        return found

    def unmatched_events(self) -> dict[str, int]:
        with self._read() as tx:
            rows = tx.all(
                "SELECT kind, COUNT(*) FROM events WHERE request_id IS NULL GROUP BY kind"
            )
        return {kind: int(count) for kind, count in rows}

    def recipient_deliveries(self, recipient_key: str) -> list[RecipientDelivery]:
        with self._read() as tx:
            rows = tx.all(
                "SELECT campaign_id, request_id, status, final, occurred_at FROM deliveries "
                "WHERE recipient_key = ? ORDER BY campaign_id",
                (recipient_key,),
            )
        return [
            RecipientDelivery(campaign, rid, status, bool(final), self._time_out(at))
            for campaign, rid, status, final, at in rows
        ]

    def recipient_events(self, recipient_key: str) -> list[EventRecord]:
        with self._read() as tx:
            rows = tx.all(
                f"SELECT {_EVENT_COLUMNS} FROM events WHERE recipient_key = ? "
                "ORDER BY occurred_at, id",
                (recipient_key,),
            )
        return [
            EventRecord(
                raw_id=int(r[0]),
                kind=r[1],
                channel=r[2],
                recipient_key=r[3],
                status=r[4],
                message_id=r[5],
                occurred_at=None if r[6] is None else self._time_out(r[6]),
                request_id=r[7],
                campaign_id=r[8],
                problem=r[9],
            )
            for r in rows
        ]

    def batches_of_recipient(self, recipient_key: str) -> list[str]:
        with self._read() as tx:
            rows = tx.all(
                "SELECT request_id, recipient_keys FROM batches JOIN batch_bodies "
                "USING (request_id) WHERE (? || recipient_keys || ?) LIKE ? ESCAPE '\\' "
                "ORDER BY seq",
                ("\n", "\n", _like_member(recipient_key)),
            )
        # LIKE is only a filter (SQLite's ignores case): the members decide.
        return [rid for rid, keys in rows if recipient_key in keys.split("\n")]
