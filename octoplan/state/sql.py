"""What the SQLite and PostgreSQL backends share: every query on batches, recipients and audit.

A backend supplies transactions (`_read`, `_write`: writes are serialized with any other writer
of the same state) whose handle runs SQL written with `?` placeholders, and converts times to
and from its column type. Locking differs too much to share and lives in each backend.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any, Protocol

from octoplan.errors import StateError
from octoplan.gcpause import paused_gc
from octoplan.state.base import (
    STATUS_PRECEDENCE,
    AuditEntry,
    BatchIntent,
    BatchRecord,
    BatchStatus,
    CampaignSummary,
    RecipientRecord,
    StateStore,
)

Row = tuple[Any, ...]

BATCH_COLUMNS = (
    "request_id, campaign_id, channel, endpoint, payload, status, recipients_count, created_at, "
    "updated_at, first_sent_at, attempts, send_at, estimated_cost, ticket, cost, error_code, "
    "error_message"
)
_STATUS: dict[str, BatchStatus] = {status.value: status for status in BatchStatus}
_RANK: dict[str, int] = {status.value: rank for rank, status in enumerate(STATUS_PRECEDENCE)}
_RANK_SQL = (
    "CASE status "
    + " ".join(
        f"WHEN '{status.value}' THEN {rank}" for rank, status in enumerate(STATUS_PRECEDENCE)
    )
    + " END"
)
_PENDING = (BatchStatus.INTENT, BatchStatus.IN_DOUBT)
# Once the API took a request, nothing but a cancellation may say otherwise: a later "refused"
# or "in doubt" for it would let the recipients be sent twice.
_FINAL_ONWARDS: dict[BatchStatus, tuple[BatchStatus, ...]] = {
    BatchStatus.ACCEPTED: (BatchStatus.ACCEPTED, BatchStatus.CANCELLED),
    BatchStatus.CANCELLED: (BatchStatus.CANCELLED,),
}


def _deciding(rows: list[Row]) -> dict[str, RecipientRecord]:
    """rows: (recipient_key, content_hash, request_id, status, seq), keys repeated."""
    best: dict[str, Row] = {}
    rank = _RANK
    for row in rows:
        current = best.get(row[0])
        if current is None:
            best[row[0]] = row
            continue
        new_rank, current_rank = rank[row[3]], rank[current[3]]
        # The same status twice: the later batch (higher seq) decides.
        if new_rank < current_rank or (new_rank == current_rank and row[4] > current[4]):
            best[row[0]] = row
    status = _STATUS
    return {key: RecipientRecord(key, row[1], row[2], status[row[3]]) for key, row in best.items()}


class Tx(Protocol):
    """One open transaction; SQL uses `?` placeholders."""

    def all(self, sql: str, params: Sequence[object] = ()) -> list[Row]: ...

    def one(self, sql: str, params: Sequence[object] = ()) -> Row | None: ...

    def run(self, sql: str, params: Sequence[object] = ()) -> int: ...

    def many(self, sql: str, rows: Iterable[Sequence[object]]) -> None: ...


def utc(moment: datetime) -> datetime:
    """Aware UTC; a naive datetime is taken to be UTC already (as `octoplan.clock` gives)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


class SqlStore(StateStore):
    # -- what a backend provides ----------------------------------------------------------
    @abstractmethod
    def _read(self) -> AbstractContextManager[Tx]: ...

    @abstractmethod
    def _write(self) -> AbstractContextManager[Tx]: ...

    @abstractmethod
    def _time_in(self, moment: datetime) -> object: ...

    @abstractmethod
    def _time_out(self, value: Any) -> datetime: ...

    # -- shared helpers --------------------------------------------------------------------
    def _bump(self, tx: Tx) -> int:
        tx.run("UPDATE meta SET serial = serial + 1 WHERE id = 1")
        row = tx.one("SELECT serial FROM meta WHERE id = 1")
        assert row is not None
        return int(row[0])

    def _audit(self, tx: Tx, now: datetime, action: str, actor: str, detail: str) -> None:
        tx.run(
            "INSERT INTO audit (at, action, actor, detail) VALUES (?, ?, ?, ?)",
            (self._time_in(now), action, actor, detail),
        )

    def _maybe_time(self, value: Any) -> datetime | None:
        return None if value is None else self._time_out(value)

    def _batch(self, row: Row) -> BatchRecord:
        return BatchRecord(
            request_id=row[0],
            campaign_id=row[1],
            channel=row[2],
            endpoint=row[3],
            payload=row[4],
            status=_STATUS[row[5]],
            recipients_count=row[6],
            created_at=self._time_out(row[7]),
            updated_at=self._time_out(row[8]),
            first_sent_at=self._maybe_time(row[9]),
            attempts=row[10],
            send_at=row[11],
            estimated_cost=row[12],
            ticket=row[13],
            cost=row[14],
            error_code=row[15],
            error_message=row[16],
        )

    @staticmethod
    def _require(row: Row | None, request_id: str) -> Row:
        if row is None:
            raise StateError(f"no request {request_id} in state")
        return row

    # -- reading ---------------------------------------------------------------------------
    def recipients(self, campaign_id: str) -> dict[str, RecipientRecord]:
        with self._read() as tx:
            rows = tx.all(
                "SELECT recipient_key, content_hash, request_id, status, seq "
                "FROM batch_recipients WHERE campaign_id = ?",
                (campaign_id,),
            )
        status = _STATUS
        with paused_gc():
            records = {
                row[0]: RecipientRecord(row[0], row[1], row[2], status[row[3]]) for row in rows
            }
            if len(records) != len(rows):  # some recipients are in several batches
                records = _deciding(rows)
        return records

    def recipient_rows(self, campaign_id: str) -> dict[str, tuple[str, str, str]]:
        # The planner needs the request_id of unsent recipients only (to salt a new one);
        # leaving it out of the sent ones spares half a million strings.
        with self._read() as tx:
            rows = tx.all(
                "SELECT recipient_key, content_hash, "
                "CASE WHEN status = 'accepted' THEN '' ELSE request_id END, status, seq "
                "FROM batch_recipients WHERE campaign_id = ?",
                (campaign_id,),
            )
        with paused_gc():
            keys = list(map(itemgetter(0), rows))
            found = dict(zip(keys, map(itemgetter(1, 2, 3), rows), strict=True))
            if len(found) != len(rows):  # some recipients are in several batches
                found = {
                    key: (record.content_hash, record.request_id, record.status.value)
                    for key, record in _deciding(rows).items()
                }
        return found

    def batches(
        self,
        campaign_id: str | None = None,
        statuses: Sequence[BatchStatus] | None = None,
        *,
        scheduled: bool = False,
    ) -> list[BatchRecord]:
        where: list[str] = ["send_at IS NOT NULL AND ticket IS NOT NULL"] if scheduled else []
        params: list[object] = []
        if campaign_id is not None:
            where.append("campaign_id = ?")
            params.append(campaign_id)
        if statuses is not None:
            if not statuses:
                return []
            where.append(f"status IN ({', '.join('?' * len(statuses))})")
            params.extend(str(status) for status in statuses)
        sql = f"SELECT {BATCH_COLUMNS} FROM batches"
        if where:
            sql += " WHERE " + " AND ".join(where)
        with self._read() as tx:
            rows = tx.all(sql + " ORDER BY seq, request_id", params)
        return [self._batch(row) for row in rows]

    def batch(self, request_id: str) -> BatchRecord | None:
        with self._read() as tx:
            row = tx.one(f"SELECT {BATCH_COLUMNS} FROM batches WHERE request_id = ?", (request_id,))
        return None if row is None else self._batch(row)

    def batch_recipients(self, request_id: str) -> list[tuple[str, str]]:
        with self._read() as tx:
            rows = tx.all(
                "SELECT recipient_key, content_hash FROM batch_recipients "
                "WHERE request_id = ? ORDER BY recipient_key",
                (request_id,),
            )
        return [(row[0], row[1]) for row in rows]

    def campaign_ids(self) -> list[str]:
        with self._read() as tx:
            rows = tx.all("SELECT DISTINCT campaign_id FROM batches ORDER BY campaign_id")
        return [str(row[0]) for row in rows]

    def campaigns(self) -> list[CampaignSummary]:
        with self._read() as tx:
            totals = tx.all(
                "SELECT campaign_id, COUNT(*), COALESCE(SUM(cost), 0), MAX(updated_at) "
                "FROM batches GROUP BY campaign_id ORDER BY campaign_id"
            )
            # Each recipient counts once, under its deciding status (STATUS_PRECEDENCE).
            deciding = tx.all(
                "SELECT campaign_id, best, COUNT(*) FROM ("
                f"SELECT campaign_id, recipient_key, MIN({_RANK_SQL}) AS best "
                "FROM batch_recipients GROUP BY campaign_id, recipient_key"
                ") AS deciding GROUP BY campaign_id, best"
            )
        counts: dict[tuple[str, BatchStatus], int] = {
            (campaign, STATUS_PRECEDENCE[best]): count for campaign, best, count in deciding
        }

        def count(campaign: str, *statuses: BatchStatus) -> int:
            return sum(counts.get((campaign, status), 0) for status in statuses)

        return [
            CampaignSummary(
                campaign_id=campaign,
                batches=batches,
                recipients_sent=count(campaign, BatchStatus.ACCEPTED),
                recipients_pending=count(campaign, *_PENDING),
                recipients_refused=count(campaign, BatchStatus.REFUSED),
                cost=float(cost),
                last_activity=self._maybe_time(last),
            )
            for campaign, batches, cost, last in totals
        ]

    def audit_log(self) -> list[AuditEntry]:
        with self._read() as tx:
            rows = tx.all("SELECT at, action, actor, detail FROM audit ORDER BY id")
        return [
            AuditEntry(at=self._time_out(at), action=action, detail=f"{detail} (by {actor})")
            for at, action, actor, detail in rows
        ]

    # -- writing ---------------------------------------------------------------------------
    def record_intent(self, intent: BatchIntent, now: datetime) -> None:
        with self._write() as tx:
            existing = tx.one(
                "SELECT campaign_id, endpoint, payload FROM batches WHERE request_id = ?",
                (intent.request_id,),
            )
            if existing is not None:
                if existing == (intent.campaign_id, intent.endpoint, intent.payload):
                    return  # a resume: the journal already holds this very request
                raise StateError(
                    f"request {intent.request_id} is already in state with another payload; "
                    "request ids must be derived from the whole content of a request"
                )
            keys = [key for key, _ in intent.recipients]
            if len(set(keys)) != len(keys):
                raise StateError(f"request {intent.request_id} lists a recipient twice")
            serial = self._bump(tx)
            at = self._time_in(now)
            tx.run(
                f"INSERT INTO batches ({BATCH_COLUMNS}, seq) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, 0, ?, ?, NULL, NULL, NULL, NULL, ?)",
                (
                    intent.request_id,
                    intent.campaign_id,
                    intent.channel,
                    intent.endpoint,
                    intent.payload,
                    BatchStatus.INTENT.value,
                    len(keys),
                    at,
                    at,
                    intent.send_at,
                    intent.estimated_cost,
                    serial,
                ),
            )
            tx.many(
                "INSERT INTO batch_recipients "
                "(request_id, campaign_id, recipient_key, content_hash, status, seq) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (intent.request_id, intent.campaign_id, key, content_hash, "intent", serial)
                    for key, content_hash in intent.recipients
                ],
            )

    def mark_attempt(self, request_id: str, now: datetime) -> None:
        with self._write() as tx:
            at = self._time_in(now)
            changed = tx.run(
                "UPDATE batches SET attempts = attempts + 1, "
                "first_sent_at = COALESCE(first_sent_at, ?), updated_at = ? WHERE request_id = ?",
                (at, at, request_id),
            )
            if not changed:
                raise StateError(f"no request {request_id} in state")
            self._bump(tx)

    def _set_status(self, tx: Tx, request_id: str, status: BatchStatus, at: object) -> None:
        tx.run(
            "UPDATE batch_recipients SET status = ? WHERE request_id = ?",
            (status.value, request_id),
        )
        tx.run(
            "UPDATE batches SET status = ?, updated_at = ? WHERE request_id = ?",
            (status.value, at, request_id),
        )

    def record_outcome(
        self,
        request_id: str,
        status: BatchStatus,
        now: datetime,
        *,
        ticket: str | None = None,
        cost: float | None = None,
        error_code: int | None = None,
        error_message: str | None = None,
    ) -> None:
        if status is BatchStatus.INTENT:
            raise ValueError("an outcome cannot be 'intent': use record_intent")
        with self._write() as tx:
            row = self._require(
                tx.one("SELECT status FROM batches WHERE request_id = ?", (request_id,)),
                request_id,
            )
            current = _STATUS[row[0]]
            allowed = _FINAL_ONWARDS.get(current)
            if allowed is not None and status not in allowed:
                raise StateError(f"request {request_id} is {current}; it cannot become {status}")
            at = self._time_in(now)
            self._set_status(tx, request_id, status, at)
            tx.run(
                "UPDATE batches SET ticket = COALESCE(?, ticket), cost = COALESCE(?, cost), "
                "error_code = ?, error_message = ? WHERE request_id = ?",
                (ticket, cost, error_code, error_message, request_id),
            )
            self._bump(tx)

    def resolve(self, request_id: str, sent: bool, now: datetime, actor: str) -> None:
        with self._write() as tx:
            row = tx.one(
                "SELECT status, campaign_id FROM batches WHERE request_id = ?", (request_id,)
            )
            if row is None:
                raise StateError(
                    f"no request {request_id} in state; "
                    "`octoplan state show CAMPAIGN` lists the requests of a campaign"
                )
            current = _STATUS[row[0]]
            if current not in _PENDING:
                raise StateError(
                    f"request {request_id} is {current}, not in doubt: only requests "
                    "left as intent or in_doubt can be resolved"
                )
            new = BatchStatus.ACCEPTED if sent else BatchStatus.NOT_SENT
            self._set_status(tx, request_id, new, self._time_in(now))
            self._audit(
                tx, now, "resolve", actor, f"request {request_id} of {row[1]}: {current} -> {new}"
            )
            self._bump(tx)
