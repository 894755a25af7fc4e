"""What the SQLite and PostgreSQL backends share: every write on batches, recipients and audit
(the reads are `SqlReader`'s, octoplan/state/sqlread.py, which `SqlStore` is made of).

A backend supplies transactions (`_read`, `_write`: writes are serialized with any other writer
of the same state) whose handle runs SQL written with `?` placeholders, and converts times to
and from its column type. Locking differs too much to share and lives in each backend.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import datetime

from octoplan.errors import StateError
from octoplan.state.base import (
    BatchIntent,
    BatchStatus,
    CampaignSummary,
    StateStore,
)
from octoplan.state.eventsql import SqlEventLog
from octoplan.state.migrations import compress_payload, decompress_payload, due_of
from octoplan.state.sqlread import (
    BATCH_COLUMNS,
    PENDING,
    SEPARATOR,
    STATUS,
    SqlReader,
    Tx,
    utc,
)
from octoplan.words import plural

# Once the API took a request, nothing but a cancellation may say otherwise: a later "refused"
# or "in doubt" for it would let the recipients be sent twice.
_FINAL_ONWARDS: dict[BatchStatus, tuple[BatchStatus, ...]] = {
    BatchStatus.ACCEPTED: (BatchStatus.ACCEPTED, BatchStatus.CANCELLED),
    BatchStatus.CANCELLED: (BatchStatus.CANCELLED,),
    BatchStatus.SKIPPED: (BatchStatus.SKIPPED,),
}


class SqlStore(SqlReader, SqlEventLog, StateStore):
    # -- what a backend provides (and SqlReader's `_read`, `_time_in`, `_time_out`) ---------
    @abstractmethod
    def _write(self) -> AbstractContextManager[Tx]: ...

    # -- grouping writes -------------------------------------------------------------------
    @contextmanager
    def grouped(self) -> Iterator[None]:
        if self._group is not None:  # already inside a group: join it
            yield
            return
        with self._write() as tx:
            self._group = tx
            try:
                yield
            finally:
                self._group = None

    def _writing(self) -> AbstractContextManager[Tx]:
        """A write transaction of its own, or the open group's."""
        if self._group is not None:
            return nullcontext(self._group)
        return self._write()

    # -- shared helpers --------------------------------------------------------------------
    def _bump(self, tx: Tx) -> int:
        row = tx.one("UPDATE meta SET serial = serial + 1 WHERE id = 1 RETURNING serial")
        assert row is not None
        return int(row[0])

    def _audit(self, tx: Tx, now: datetime, action: str, actor: str, detail: str) -> None:
        tx.run(
            "INSERT INTO audit (at, action, actor, detail) VALUES (?, ?, ?, ?)",
            (self._time_in(now), action, actor, detail),
        )

    # -- writing ---------------------------------------------------------------------------
    def record_test(self, now: datetime, actor: str, detail: str) -> None:
        # An audit row, not a batch: a test send marks no recipient of any campaign as sent
        # (no ledger, no frequency cap, no 30-day repeat), and changes no plan (no serial).
        with self._writing() as tx:
            self._audit(tx, now, "send-test", actor, detail)

    def record_intent(self, intent: BatchIntent, now: datetime, *, attempt: bool = False) -> None:
        keys, hashes = intent.recipients, intent.content_hashes
        if len(set(keys)) != len(keys):
            raise StateError(f"request {intent.request_id} lists a recipient twice")
        joined_keys, joined_hashes = SEPARATOR.join(keys), SEPARATOR.join(hashes)
        # Each column must split back into exactly its members.
        separators = max(len(keys) - 1, 0)
        if (
            len(hashes) != len(keys)
            or joined_keys.count(SEPARATOR) != separators
            or joined_hashes.count(SEPARATOR) != separators
            or "" in keys
        ):
            raise StateError(
                f"request {intent.request_id}: recipient keys and content hashes must pair up "
                "and hold no line breaks"
            )
        with self._writing() as tx:
            existing = tx.one(
                "SELECT campaign_id, endpoint, payload "
                "FROM batches JOIN batch_bodies USING (request_id) WHERE request_id = ?",
                (intent.request_id,),
            )
            if existing is not None:
                campaign_id, endpoint, payload = existing
                if (campaign_id, endpoint, decompress_payload(payload)) != (
                    intent.campaign_id,
                    intent.endpoint,
                    intent.payload,
                ):
                    raise StateError(
                        f"request {intent.request_id} is already in state with another payload; "
                        "request ids must be derived from the whole content of a request"
                    )
                # A resume: the journal already holds this very request.
                if attempt:
                    self._attempt(tx, intent.request_id, now)
                return
            serial = self._bump(tx)
            at = self._time_in(now)
            due = due_of(intent.send_at, now)
            tx.run(
                f"INSERT INTO batches ({BATCH_COLUMNS}, seq, due_at) VALUES "
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, NULL, NULL, ?, ?, ?, ?, ?)",
                (
                    intent.request_id,
                    intent.campaign_id,
                    intent.channel,
                    intent.endpoint,
                    BatchStatus.INTENT.value,
                    len(keys),
                    at,
                    at,
                    at if attempt else None,
                    1 if attempt else 0,
                    intent.send_at,
                    intent.estimated_cost,
                    intent.purpose,
                    False,
                    intent.stage,
                    serial,
                    self._time_in(due),
                ),
            )
            # Written once, never updated: status changes rewrite only the small row above.
            tx.run(
                "INSERT INTO batch_bodies "
                "(request_id, recipient_keys, content_hashes, payload, options) "
                "VALUES (?, ?, ?, ?, ?)",
                (
                    intent.request_id,
                    joined_keys,
                    joined_hashes,
                    compress_payload(intent.payload),
                    intent.options,
                ),
            )

    def _attempt(self, tx: Tx, request_id: str, now: datetime) -> None:
        at = self._time_in(now)
        changed = tx.run(
            "UPDATE batches SET attempts = attempts + 1, "
            "first_sent_at = COALESCE(first_sent_at, ?), updated_at = ? WHERE request_id = ?",
            (at, at, request_id),
        )
        if not changed:
            raise StateError(f"no request {request_id} in state")
        self._bump(tx)

    def mark_attempt(self, request_id: str, now: datetime) -> None:
        with self._writing() as tx:
            self._attempt(tx, request_id, now)

    def withdraw_attempt(self, request_id: str, now: datetime) -> None:
        with self._writing() as tx:
            # SET reads the row as it was: `attempts = 1` is the attempt being withdrawn.
            changed = tx.run(
                "UPDATE batches SET attempts = attempts - 1, first_sent_at = "
                "CASE WHEN attempts = 1 THEN NULL ELSE first_sent_at END, updated_at = ? "
                "WHERE request_id = ? AND status = ? AND attempts > 0",
                (self._time_in(now), request_id, BatchStatus.INTENT.value),
            )
            if not changed:
                raise StateError(f"request {request_id} has no attempt to withdraw")
            self._bump(tx)

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
        cost_estimated: bool = False,
    ) -> None:
        if status is BatchStatus.INTENT:
            raise ValueError("an outcome cannot be 'intent': use record_intent")
        with self._writing() as tx:
            row = self._require(
                tx.one("SELECT status FROM batches WHERE request_id = ?", (request_id,)),
                request_id,
            )
            current = STATUS[row[0]]
            allowed = _FINAL_ONWARDS.get(current)
            if allowed is not None and status not in allowed:
                raise StateError(f"request {request_id} is {current}; it cannot become {status}")
            # A cost given says whether it is the API's or the estimate; none keeps both.
            estimated = "" if cost is None else "cost_estimated = ?, "
            tx.run(
                "UPDATE batches SET status = ?, updated_at = ?, ticket = COALESCE(?, ticket), "
                f"cost = COALESCE(?, cost), {estimated}error_code = ?, error_message = ? "
                "WHERE request_id = ?",
                (
                    status.value,
                    self._time_in(now),
                    ticket,
                    cost,
                    *(() if cost is None else (cost_estimated,)),
                    error_code,
                    error_message,
                    request_id,
                ),
            )
            self._bump(tx)

    def resolve(self, request_id: str, sent: bool, now: datetime, actor: str) -> None:
        with self._writing() as tx:
            current, campaign_id, _ = self._resolved_row(tx, request_id)
            if current not in PENDING:
                raise StateError(
                    f"request {request_id} is {current}, not in doubt: only requests "
                    "left as intent or in_doubt can be resolved"
                )
            new = BatchStatus.ACCEPTED if sent else BatchStatus.NOT_SENT
            self._resolve_as(tx, request_id, campaign_id, current, new, now, actor)
            if sent:
                # What it cost was never answered: the estimate stands in, marked as such.
                tx.run(
                    "UPDATE batches SET cost = estimated_cost, cost_estimated = ? "
                    "WHERE request_id = ? AND cost IS NULL",
                    (True, request_id),
                )

    def resolve_cancelled(self, request_id: str, now: datetime, actor: str) -> None:
        with self._writing() as tx:
            current, campaign_id, send_at = self._resolved_row(tx, request_id)
            if current is not BatchStatus.ACCEPTED or send_at is None:
                what = f"{current}" if current is not BatchStatus.ACCEPTED else "not scheduled"
                raise StateError(
                    f"request {request_id} is {what}: only a request accepted for a later "
                    "send_at can be resolved as cancelled"
                )
            new = BatchStatus.CANCELLED
            self._resolve_as(tx, request_id, campaign_id, current, new, now, actor)

    def _resolved_row(self, tx: Tx, request_id: str) -> tuple[BatchStatus, str, str | None]:
        """(status, campaign, send_at) of a request settled by hand (`state resolve`)."""
        row = tx.one(
            "SELECT status, campaign_id, send_at FROM batches WHERE request_id = ?", (request_id,)
        )
        if row is None:
            raise StateError(
                f"no request {request_id} in state; "
                "`octoplan state show CAMPAIGN` lists the requests of a campaign"
            )
        return STATUS[row[0]], row[1], row[2]

    def _resolve_as(
        self,
        tx: Tx,
        request_id: str,
        campaign_id: str,
        current: BatchStatus,
        new: BatchStatus,
        now: datetime,
        actor: str,
    ) -> None:
        """The status a request is settled to by hand, audited, in one change of state."""
        tx.run(
            "UPDATE batches SET status = ?, updated_at = ? WHERE request_id = ?",
            (new.value, self._time_in(now), request_id),
        )
        self._audit(
            tx, now, "resolve", actor, f"request {request_id} of {campaign_id}: {current} -> {new}"
        )
        self._bump(tx)

    def move_campaign(
        self, old: str, new: str, now: datetime, actor: str, *, merge: bool = False
    ) -> int:
        if old == new:
            raise StateError(f"campaign {old} cannot be moved onto itself")
        with self._writing() as tx:
            moving = self._count(tx, old)
            if not moving:
                raise StateError(
                    f"campaign {old} is not in state; "
                    "`octoplan state list` shows the campaigns recorded"
                )
            there = self._count(tx, new)
            if there and not merge:
                raise StateError(
                    f"campaign {new} already has {plural(there, 'request')} in state; --merge "
                    f"adds {old}'s to them (each recipient then counts as sent if either sent it)"
                )
            tx.run("UPDATE batches SET campaign_id = ? WHERE campaign_id = ?", (new, old))
            merged = f", merged with its {there}" if there else ""
            self._audit(
                tx,
                now,
                "mv",
                actor,
                f"moved {moving} request(s) of campaign {old} to {new}{merged}",
            )
            self._bump(tx)
        return moving

    def forget_campaign(
        self,
        campaign_id: str,
        now: datetime,
        actor: str,
        *,
        force: bool = False,
        dry_run: bool = False,
    ) -> CampaignSummary:
        with self._reading() if dry_run else self._writing() as tx:
            summaries = self._summaries(tx, campaign_id)
            if not summaries:
                raise StateError(
                    f"campaign {campaign_id} is not in state; "
                    "`octoplan state list` shows the campaigns recorded"
                )
            [summary] = summaries
            rows = tx.all(
                "SELECT status, send_at, ticket FROM batches WHERE campaign_id = ?", (campaign_id,)
            )
            unsettled = sum(1 for status, _, _ in rows if STATUS[status] in PENDING)
            scheduled = sum(
                1
                for status, send_at, ticket in rows
                if status == BatchStatus.ACCEPTED.value
                and send_at is not None
                and ticket is not None
                and utc(datetime.fromisoformat(send_at)) > utc(now)
            )
            if (unsettled or scheduled) and not force:
                parts = []
                if unsettled:
                    parts.append(f"{unsettled} unconfirmed or in-doubt request(s)")
                if scheduled:
                    parts.append(f"{scheduled} request(s) scheduled to go out later")
                raise StateError(
                    f"campaign {campaign_id} has {' and '.join(parts)}: forgotten, they could "
                    "no longer be resent under their request_id, settled or cancelled. Settle "
                    "them first (`octoplan state resolve`, or let them go out), or use --force"
                )
            if dry_run:
                return summary
            tx.run(
                "DELETE FROM batch_bodies WHERE request_id IN "
                "(SELECT request_id FROM batches WHERE campaign_id = ?)",
                (campaign_id,),
            )
            tx.run("DELETE FROM batches WHERE campaign_id = ?", (campaign_id,))
            forced = " (forced)" if force and (unsettled or scheduled) else ""
            self._audit(
                tx,
                now,
                "rm",
                actor,
                f"forgot campaign {campaign_id}: {summary.batches} request(s), "
                f"{summary.recipients_sent} recipient(s) sent{forced}",
            )
            self._bump(tx)
        return summary

    def _count(self, tx: Tx, campaign_id: str) -> int:
        row = tx.one("SELECT COUNT(*) FROM batches WHERE campaign_id = ?", (campaign_id,))
        return int(row[0]) if row is not None else 0
