"""The reading half of a state in SQL (`SqlReader`), shared by SQLite and PostgreSQL.

Mixed into `SqlStore` (octoplan/state/sql.py), which adds the writes: it uses the backend's
read transactions (`_read`, or the open write group, which sees its own writes) and time
columns. A batch's recipients are two text columns of its row (keys and content hashes
joined by SEPARATOR), split only when asked for.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime
from functools import partial
from itertools import repeat
from typing import Any, Protocol

from octoplan.errors import StateError
from octoplan.gcpause import paused_gc
from octoplan.state.base import (
    STATUS_PRECEDENCE,
    AuditEntry,
    BatchRecord,
    BatchStatus,
    CampaignSummary,
    RecentBatch,
    RecipientRecord,
    RecipientState,
    SentContents,
    StageReports,
)
from octoplan.state.migrations import decompress_payload

MARKETING = "wholesale"

Row = tuple[Any, ...]

BATCH_COLUMNS = (
    "request_id, campaign_id, channel, endpoint, status, recipients_count, created_at, "
    "updated_at, first_sent_at, attempts, send_at, estimated_cost, ticket, cost, error_code, "
    "error_message, purpose, cost_estimated, stage"
)
# Statuses whose recipients were or may have been sent: what the frequency cap counts.
_MAYBE_SENT = (BatchStatus.ACCEPTED.value, BatchStatus.INTENT.value, BatchStatus.IN_DOUBT.value)
STATUS: dict[str, BatchStatus] = {status.value: status for status in BatchStatus}
_RANK: dict[str, int] = {status.value: rank for rank, status in enumerate(STATUS_PRECEDENCE)}
PENDING = (BatchStatus.INTENT, BatchStatus.IN_DOUBT)


# A batch's recipients are two columns of its row, keys and content hashes joined by this.
SEPARATOR = "\n"


def _members(count: int, joined: str) -> list[str]:
    return joined.split(SEPARATOR) if count else []


def _by_precedence(rows: list[Row]) -> list[Row]:
    """Batch rows (..., status, seq, ...) ordered so that, applied one after another, the
    deciding batch of each recipient (STATUS_PRECEDENCE, then the later batch) comes last:
    a dict update per batch then leaves every recipient with its deciding record."""
    rank = _RANK
    return sorted(rows, key=lambda row: (-rank[row[1]], row[2]))


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


class SqlReader(ABC):
    """What a SQL state answers (the StateStore reads), over the backend's transactions."""

    # -- what a backend provides ----------------------------------------------------------
    @abstractmethod
    def _read(self) -> AbstractContextManager[Tx]: ...

    @abstractmethod
    def _time_in(self, moment: datetime) -> object: ...

    @abstractmethod
    def _time_out(self, value: Any) -> datetime: ...

    _group: Tx | None = None  # the open write group (SqlStore.grouped)

    def _reading(self) -> AbstractContextManager[Tx]:
        """A read transaction of its own, or the open group's (which sees its own writes)."""
        if self._group is not None:
            return nullcontext(self._group)
        return self._read()

    # -- shared helpers --------------------------------------------------------------------
    def _maybe_time(self, value: Any) -> datetime | None:
        return None if value is None else self._time_out(value)

    def _batch(self, row: Row) -> BatchRecord:
        return BatchRecord(
            request_id=row[0],
            campaign_id=row[1],
            channel=row[2],
            endpoint=row[3],
            status=STATUS[row[4]],
            recipients_count=row[5],
            created_at=self._time_out(row[6]),
            updated_at=self._time_out(row[7]),
            first_sent_at=self._maybe_time(row[8]),
            attempts=row[9],
            send_at=row[10],
            estimated_cost=row[11],
            ticket=row[12],
            cost=row[13],
            error_code=row[14],
            error_message=row[15],
            purpose=row[16],
            cost_estimated=bool(row[17]),
            stage=row[18],
        )

    @staticmethod
    def _require(row: Row | None, request_id: str) -> Row:
        if row is None:
            raise StateError(f"no request {request_id} in state")
        return row

    # -- reading ---------------------------------------------------------------------------
    def _campaign_members(self, *campaign_ids: str) -> list[Row]:
        """(request_id, status, seq, recipients_count, recipient_keys, content_hashes) of
        each batch of the campaigns, in precedence order (see _by_precedence)."""
        with self._reading() as tx:
            rows = tx.all(
                "SELECT request_id, status, seq, recipients_count, recipient_keys, "
                "content_hashes FROM batches JOIN batch_bodies USING (request_id) "
                f"WHERE campaign_id IN ({', '.join('?' * len(campaign_ids))})",
                campaign_ids,
            )
        return _by_precedence(rows)

    def recipients(self, campaign_id: str) -> dict[str, RecipientRecord]:
        found: dict[str, RecipientRecord] = {}
        with paused_gc():
            for request_id, status, _, count, keys, hashes in self._campaign_members(campaign_id):
                record = partial(RecipientRecord, request_id=request_id, status=STATUS[status])
                members = _members(count, keys)
                found.update(
                    zip(members, map(record, members, _members(count, hashes)), strict=True)
                )
        return found

    def recipient_state(self, campaign_id: str, *renamed_from: str) -> RecipientState:
        accepted = BatchStatus.ACCEPTED.value
        rows = self._campaign_members(campaign_id, *renamed_from)
        with paused_gc():
            # Accepted batches come last in precedence order, and among them the later batch
            # last: one dict built from all of them at once keeps each recipient's deciding one.
            sent_rows = [row for row in rows if row[1] == accepted and row[3]]
            sent = dict(
                zip(
                    SEPARATOR.join(row[4] for row in sent_rows).split(SEPARATOR),
                    SEPARATOR.join(row[5] for row in sent_rows).split(SEPARATOR),
                    strict=True,
                )
                if sent_rows
                else ()
            )
            others: dict[str, tuple[str, str, str]] = {}
            for request_id, status, _, count, keys, hashes in rows:
                if status != accepted:
                    others.update(
                        zip(
                            _members(count, keys),
                            zip(
                                _members(count, hashes),
                                repeat(request_id),
                                repeat(status),
                                strict=False,
                            ),
                            strict=True,
                        )
                    )
            for key in sent.keys() & others.keys():  # accepted decides
                del others[key]
        return RecipientState(sent, others)

    def batches(
        self,
        campaign_id: str | tuple[str, ...] | None = None,
        statuses: Sequence[BatchStatus] | None = None,
        *,
        scheduled: bool = False,
    ) -> list[BatchRecord]:
        where: list[str] = ["send_at IS NOT NULL AND ticket IS NOT NULL"] if scheduled else []
        params: list[object] = []
        if campaign_id is not None:
            ids = (campaign_id,) if isinstance(campaign_id, str) else campaign_id
            where.append(f"campaign_id IN ({', '.join('?' * len(ids))})")
            params.extend(ids)
        if statuses is not None:
            if not statuses:
                return []
            where.append(f"status IN ({', '.join('?' * len(statuses))})")
            params.extend(str(status) for status in statuses)
        sql = f"SELECT {BATCH_COLUMNS} FROM batches"
        if where:
            sql += " WHERE " + " AND ".join(where)
        with self._reading() as tx:
            rows = tx.all(sql + " ORDER BY seq, request_id", params)
        return [self._batch(row) for row in rows]

    def recent_batches(self, since: datetime) -> list[RecentBatch]:
        with self._reading() as tx:
            rows = tx.all(
                "SELECT request_id, campaign_id, endpoint, status, send_at, first_sent_at, "
                "created_at FROM batches WHERE (status IN (?, ?) OR (status = ? AND attempts > 0)) "
                # A batch that left at `since` or later was last updated then or later; one
                # scheduled long ago may go out later still.
                "AND (updated_at >= ? OR send_at IS NOT NULL) ORDER BY seq",
                (
                    BatchStatus.ACCEPTED.value,
                    BatchStatus.IN_DOUBT.value,
                    BatchStatus.INTENT.value,
                    self._time_in(since),
                ),
            )
        found = []
        for request_id, campaign_id, endpoint, status, send_at, first_sent_at, created in rows:
            if send_at is not None:
                moment = utc(datetime.fromisoformat(send_at))
            else:
                moment = self._time_out(first_sent_at if first_sent_at is not None else created)
            if moment >= since:
                found.append(RecentBatch(request_id, campaign_id, endpoint, STATUS[status], moment))
        return found

    def sent_contents(self, request_ids: Sequence[str]) -> dict[str, SentContents]:
        found: dict[str, SentContents] = {}
        for start in range(0, len(request_ids), 500):  # within any SQL variable limit
            chunk = request_ids[start : start + 500]
            with self._reading() as tx:
                rows = tx.all(
                    "SELECT request_id, recipients_count, recipient_keys, content_hashes, "
                    "options FROM batches JOIN batch_bodies USING (request_id) "
                    f"WHERE request_id IN ({', '.join('?' * len(chunk))})",
                    chunk,
                )
            for request_id, count, keys, hashes, options in rows:
                found[request_id] = SentContents(
                    _members(count, keys), _members(count, hashes), options
                )
        return found

    def batch(self, request_id: str) -> BatchRecord | None:
        with self._reading() as tx:
            row = tx.one(f"SELECT {BATCH_COLUMNS} FROM batches WHERE request_id = ?", (request_id,))
        return None if row is None else self._batch(row)

    def batch_recipients(self, request_id: str) -> list[tuple[str, str]]:
        with self._reading() as tx:
            row = tx.one(
                "SELECT recipients_count, recipient_keys, content_hashes "
                "FROM batches JOIN batch_bodies USING (request_id) WHERE request_id = ?",
                (request_id,),
            )
        if row is None:
            return []
        count, keys, hashes = row
        return sorted(zip(_members(count, keys), _members(count, hashes), strict=True))

    def payload(self, request_id: str) -> str:
        with self._reading() as tx:
            row = tx.one("SELECT payload FROM batch_bodies WHERE request_id = ?", (request_id,))
        return decompress_payload(self._require(row, request_id)[0])

    def campaign_ids(self) -> list[str]:
        with self._reading() as tx:
            rows = tx.all("SELECT DISTINCT campaign_id FROM batches ORDER BY campaign_id")
        return [str(row[0]) for row in rows]

    def campaigns(self) -> list[CampaignSummary]:
        with self._reading() as tx:
            return self._summaries(tx)

    def _summaries(self, tx: Tx, only: str | None = None) -> list[CampaignSummary]:
        """Every campaign's summary, or campaign `only`'s (none if it has no batch)."""
        where, params = ("WHERE campaign_id = ? ", (only,)) if only is not None else ("", ())
        totals = tx.all(
            "SELECT campaign_id, COUNT(*), COALESCE(SUM(cost), 0), MAX(updated_at) "
            f"FROM batches {where}GROUP BY campaign_id ORDER BY campaign_id",
            params,
        )
        members = tx.all(
            "SELECT campaign_id, status, seq, recipients_count, recipient_keys "
            f"FROM batches JOIN batch_bodies USING (request_id) {where}",
            params,
        )
        # Each recipient counts once, under its deciding status (STATUS_PRECEDENCE).
        deciding: dict[str, dict[str, str]] = {}
        with paused_gc():
            for campaign, status, _, size, keys in _by_precedence(members):
                deciding.setdefault(campaign, {}).update(
                    zip(_members(size, keys), repeat(status), strict=False)
                )
        counts = {
            (campaign, status): number
            for campaign, statuses in deciding.items()
            for status, number in Counter(statuses.values()).items()
        }

        def count(campaign: str, *statuses: BatchStatus) -> int:
            return sum(counts.get((campaign, status.value), 0) for status in statuses)

        return [
            CampaignSummary(
                campaign_id=campaign,
                batches=batches,
                recipients_sent=count(campaign, BatchStatus.ACCEPTED),
                recipients_pending=count(campaign, *PENDING),
                recipients_refused=count(campaign, BatchStatus.REFUSED),
                cost=float(cost),
                last_activity=self._maybe_time(last),
            )
            for campaign, batches, cost, last in totals
        ]

    def marketing_sends(self, since: datetime) -> list[tuple[datetime, list[str]]]:
        with self._reading() as tx:
            rows = tx.all(
                "SELECT due_at, recipients_count, recipient_keys "
                "FROM batches JOIN batch_bodies USING (request_id) "
                "WHERE purpose = ? AND due_at >= ? AND status IN (?, ?, ?)",
                (MARKETING, self._time_in(since), *_MAYBE_SENT),
            )
        return [(self._time_out(due), _members(count, keys)) for due, count, keys in rows]

    def stage_reports(self, campaign_ids: Sequence[str], stage: str) -> StageReports:
        marks = ", ".join("?" * len(campaign_ids))
        scope = f"b.campaign_id IN ({marks}) AND b.stage = ? AND b.status = ?"
        params = (*campaign_ids, stage, BatchStatus.ACCEPTED.value)
        with self._reading() as tx:
            sent = tx.one(
                f"SELECT COALESCE(SUM(recipients_count), 0) FROM batches b WHERE {scope}", params
            )
            # The campaign's ids again on the reports' side: their indexes start with them, so
            # the reports of other campaigns are never read.
            rows = tx.all(
                "SELECT d.status, d.final, COUNT(*) FROM deliveries d "
                f"JOIN batches b ON b.request_id = d.request_id WHERE d.campaign_id IN ({marks}) "
                f"AND {scope} GROUP BY d.status, d.final",
                (*campaign_ids, *params),
            )
            stops = tx.one(
                "SELECT COUNT(DISTINCT e.recipient_key) FROM events e "
                f"JOIN batches b ON b.request_id = e.request_id WHERE e.campaign_id IN ({marks}) "
                f"AND e.kind = 'stop' AND {scope}",
                (*campaign_ids, *params),
            )
        deliveries: dict[str, int] = {}
        final = 0
        for status, is_final, count in rows:
            deliveries[status] = deliveries.get(status, 0) + int(count)
            final += int(count) if is_final else 0
        return StageReports(
            sent=int(sent[0]) if sent else 0,
            deliveries=deliveries,
            final=final,
            stops=int(stops[0]) if stops else 0,
        )

    def audit_log(self) -> list[AuditEntry]:
        with self._reading() as tx:
            rows = tx.all("SELECT at, action, actor, detail FROM audit ORDER BY id")
        return [
            AuditEntry(at=self._time_out(at), action=action, detail=f"{detail} (by {actor})")
            for at, action, actor, detail in rows
        ]
