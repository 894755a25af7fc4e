"""The sandbox's SQLite file: credit, request_ids, tickets, deliveries and a request log.

Everything the sandbox accepted survives a restart. Each acceptance (request_id check, credit
check, charge, deliveries) is one `BEGIN IMMEDIATE` transaction, so two threads, or a second
process using the same file, never both accept one request_id or overspend the credit.

Times are stored as UTC epoch seconds (REAL); `send_at` is NULL for "send now". An accepted
send is one `sends` row whose `messages` column holds the JSON list of [recipient, text]:
one insert per request instead of 500 keeps the sandbox at hundreds of requests a second.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from octoplan.clock import now
from octoplan.private import private_database
from octoplan.sandbox import callbacks
from octoplan.sandbox.callbacks import Callback, ReportSettings

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS request_ids (
    request_id TEXT PRIMARY KEY, accepted_at REAL NOT NULL, ticket TEXT
);
CREATE TABLE IF NOT EXISTS tickets (
    ticket TEXT PRIMARY KEY, channel TEXT NOT NULL, endpoint TEXT NOT NULL,
    status TEXT NOT NULL, created_at REAL NOT NULL, send_at REAL,
    number_of_contacts INTEGER NOT NULL, cost REAL NOT NULL, request_id TEXT,
    polls INTEGER NOT NULL DEFAULT 0, pending TEXT
);
CREATE TABLE IF NOT EXISTS sends (
    id INTEGER PRIMARY KEY, ticket TEXT, channel TEXT NOT NULL, sender TEXT,
    request_id TEXT, purpose TEXT NOT NULL, send_at REAL, created_at REAL NOT NULL,
    messages TEXT NOT NULL, cancelled INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS sends_ticket ON sends (ticket);
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY, at REAL NOT NULL, method TEXT NOT NULL, path TEXT NOT NULL,
    status INTEGER NOT NULL, code INTEGER, request_id TEXT, ticket TEXT, outcome TEXT NOT NULL
);
"""

# An accepted send as inserted: (ticket, channel, sender, request_id, purpose, send_at,
# created_at, messages as JSON [[recipient, text], ...]).
SendRow = tuple[str | None, str, str | None, str | None, str, float | None, float, str]
_INSERT_SEND = (
    "INSERT INTO sends (ticket, channel, sender, request_id, purpose, send_at, created_at, "
    "messages) VALUES (?,?,?,?,?,?,?,?)"
)


class DuplicateRequestId(Exception):
    """The request_id was accepted less than the window ago."""


class NotEnoughCredit(Exception):
    """The account cannot pay for the request."""


@dataclass(frozen=True, slots=True)
class Delivery:
    """One message the sandbox accepted for one recipient."""

    channel: str
    recipient: str  # phone number, e-mail address or live-chat conversation id
    text: str  # after server-side personalization and text optimization
    sender: str | None
    request_id: str | None
    ticket: str | None
    purpose: str
    send_at: datetime | None
    created_at: datetime
    status: str  # "delivered", "scheduled" (send_at in the future) or "cancelled"

    def to_json(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "recipient": self.recipient,
            "text": self.text,
            "sender": self.sender,
            "request_id": self.request_id,
            "ticket": self.ticket,
            "purpose": self.purpose,
            "send_at": self.send_at.isoformat() if self.send_at else None,
            "created_at": self.created_at.isoformat(),
            "status": self.status,
        }


@dataclass(frozen=True, slots=True)
class LoggedRequest:
    """One HTTP request the sandbox received, whatever became of it."""

    id: int
    at: datetime
    method: str
    path: str
    status: int  # what was (or, when dropped, would have been) answered
    code: int | None  # the Octopush error code of a refusal
    request_id: str | None
    ticket: str | None
    outcome: str  # accepted, refused, fault_500, fault_502, fault_429, error, "<that>+<fault>"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "method": self.method,
            "path": self.path,
            "status": self.status,
            "code": self.code,
            "request_id": self.request_id,
            "ticket": self.ticket,
            "outcome": self.outcome,
        }


@dataclass(frozen=True, slots=True)
class Ticket:
    ticket: str
    channel: str
    endpoint: str
    status: str
    created_at: float
    send_at: float | None
    number_of_contacts: int
    cost: float
    request_id: str | None
    polls: int
    pending: str | None  # JSON of the deliveries a voice list campaign sends once confirmed


def _dt(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def connect(path: Path) -> sqlite3.Connection:
    private_database(path)  # the deliveries: numbers and texts
    # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE) and short.
    conn = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.executescript(SCHEMA)
    conn.executescript(callbacks.SCHEMA)
    return conn


class Store:
    """One connection shared by the server's threads, serialized by a lock."""

    def __init__(self, path: Path, initial_credit: float) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._conn = connect(path)
        # The starting credit only applies to a new file: credit survives restarts.
        self._conn.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES ('credit', ?)", (repr(initial_credit),)
        )

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _credit(self, conn: sqlite3.Connection) -> float:
        row = conn.execute("SELECT value FROM meta WHERE key = 'credit'").fetchone()
        return float(row[0])

    def credit(self) -> float:
        with self._lock:
            return self._credit(self._conn)

    def set_credit(self, value: float) -> None:
        with self._transaction() as conn:
            conn.execute("UPDATE meta SET value = ? WHERE key = 'credit'", (repr(value),))

    def accept(
        self,
        *,
        ticket: Ticket | None,
        request_id: str | None,
        window_start: float,
        now: float,
        cost: float,
        send: SendRow | None,
    ) -> float:
        """Record an accepted request atomically and return the residual credit.

        Raises DuplicateRequestId or NotEnoughCredit, recording nothing.
        """
        with self._transaction() as conn:
            if request_id is not None:
                seen = conn.execute(
                    "SELECT accepted_at FROM request_ids WHERE request_id = ?", (request_id,)
                ).fetchone()
                if seen is not None and seen[0] > window_start:
                    raise DuplicateRequestId(request_id)
            credit = self._credit(conn)
            if cost > credit + 1e-9:
                raise NotEnoughCredit()
            residual = round(credit - cost, 6)
            conn.execute("UPDATE meta SET value = ? WHERE key = 'credit'", (repr(residual),))
            if request_id is not None:
                conn.execute(
                    "INSERT OR REPLACE INTO request_ids (request_id, accepted_at, ticket) "
                    "VALUES (?, ?, ?)",
                    (request_id, now, ticket.ticket if ticket else None),
                )
            if ticket is not None:
                self._insert_ticket(conn, ticket)
            if send is not None:
                conn.execute(_INSERT_SEND, send)
            return residual

    def _insert_ticket(self, conn: sqlite3.Connection, t: Ticket) -> None:
        conn.execute(
            "INSERT INTO tickets (ticket, channel, endpoint, status, created_at, send_at, "
            "number_of_contacts, cost, request_id, polls, pending) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (
                t.ticket,
                t.channel,
                t.endpoint,
                t.status,
                t.created_at,
                t.send_at,
                t.number_of_contacts,
                t.cost,
                t.request_id,
                t.polls,
                t.pending,
            ),
        )

    def ticket(self, ticket: str) -> Ticket | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT ticket, channel, endpoint, status, created_at, send_at, "
                "number_of_contacts, cost, request_id, polls, pending "
                "FROM tickets WHERE ticket = ?",
                (ticket,),
            ).fetchone()
        return Ticket(*row) if row else None

    def count_poll(self, ticket: str) -> int:
        """Count a status poll of a list campaign; return the number of polls before it."""
        with self._transaction() as conn:
            row = conn.execute("SELECT polls FROM tickets WHERE ticket = ?", (ticket,)).fetchone()
            conn.execute("UPDATE tickets SET polls = polls + 1 WHERE ticket = ?", (ticket,))
            return int(row[0]) if row else 0

    def set_ticket_status(self, ticket: str, status: str, *, expect: str | None = None) -> bool:
        """Change a ticket's status (only from `expect` when given); False if it did not."""
        with self._transaction() as conn:
            if expect is None:
                cur = conn.execute(
                    "UPDATE tickets SET status = ? WHERE ticket = ?", (status, ticket)
                )
            else:
                cur = conn.execute(
                    "UPDATE tickets SET status = ? WHERE ticket = ? AND status = ?",
                    (status, ticket, expect),
                )
            return cur.rowcount == 1

    def confirm_list_campaign(self, ticket: str, *, send: SendRow, cost: float) -> float | None:
        """Send a ready list campaign: charge and record; None if it was not ready any more."""
        with self._transaction() as conn:
            cur = conn.execute(
                "UPDATE tickets SET status = 'sent', pending = NULL "
                "WHERE ticket = ? AND status = 'ready_to_be_sent'",
                (ticket,),
            )
            if cur.rowcount != 1:
                return None
            credit = self._credit(conn)
            if cost > credit + 1e-9:
                raise NotEnoughCredit()
            residual = round(credit - cost, 6)
            conn.execute("UPDATE meta SET value = ? WHERE key = 'credit'", (repr(residual),))
            conn.execute(_INSERT_SEND, send)
            return residual

    def cancel_scheduled(self, ticket: str, refund: float) -> None:
        with self._transaction() as conn:
            conn.execute("UPDATE tickets SET status = 'cancelled' WHERE ticket = ?", (ticket,))
            conn.execute("UPDATE sends SET cancelled = 1 WHERE ticket = ?", (ticket,))
            credit = self._credit(conn)
            conn.execute(
                "UPDATE meta SET value = ? WHERE key = 'credit'", (repr(round(credit + refund, 6)),)
            )

    # -- callbacks (octoplan/sandbox/callbacks.py) -------------------------------------------

    def due_callbacks(self, now: float, settings: ReportSettings) -> list[Callback]:
        with self._lock:
            return callbacks.due_callbacks(self._conn, now, settings)

    def mark_reported(self, done: list[Callback]) -> None:
        with self._transaction() as conn:
            callbacks.mark_reported(conn, done)

    def add_reply(self, number: str, text: str, at: float) -> None:
        with self._transaction() as conn:
            callbacks.add_reply(conn, number, text, at)

    def deliveries(
        self, now: float, *, request_id: str | None = None, ticket: str | None = None
    ) -> list[Delivery]:
        with self._lock:
            return query_deliveries(self._conn, now, request_id=request_id, ticket=ticket)

    def requests(self) -> list[LoggedRequest]:
        with self._lock:
            return query_requests(self._conn)

    def log(
        self,
        *,
        at: float,
        method: str,
        path: str,
        status: int,
        code: int | None,
        request_id: str | None,
        ticket: str | None,
        outcome: str,
    ) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT INTO requests (at, method, path, status, code, request_id, ticket, "
                "outcome) VALUES (?,?,?,?,?,?,?,?)",
                (at, method, path, status, code, request_id, ticket, outcome),
            )


def _status(cancelled: int, send_at: float | None, now: float) -> str:
    if cancelled:
        return "cancelled"
    if send_at is not None and send_at > now:
        return "scheduled"
    return "delivered"


def query_deliveries(
    conn: sqlite3.Connection,
    now: float,
    *,
    request_id: str | None = None,
    ticket: str | None = None,
) -> list[Delivery]:
    sql = (
        "SELECT ticket, channel, sender, request_id, purpose, send_at, created_at, messages, "
        "cancelled FROM sends"
    )
    where: list[str] = []
    args: list[str] = []
    if request_id is not None:
        where.append("request_id = ?")
        args.append(request_id)
    if ticket is not None:
        where.append("ticket = ?")
        args.append(ticket)
    if where:
        sql += " WHERE " + " AND ".join(where)
    found: list[Delivery] = []
    for (
        tkt,
        channel,
        sender,
        rid,
        purpose,
        send_at,
        created_at,
        messages,
        cancelled,
    ) in conn.execute(sql + " ORDER BY id", args).fetchall():
        status = _status(cancelled, send_at, now)
        due = _dt(send_at) if send_at is not None else None
        created = _dt(created_at)
        found.extend(
            Delivery(channel, recipient, text, sender, rid, tkt, purpose, due, created, status)
            for recipient, text in json.loads(messages)
        )
    return found


def query_requests(conn: sqlite3.Connection) -> list[LoggedRequest]:
    rows = conn.execute(
        "SELECT id, at, method, path, status, code, request_id, ticket, outcome "
        "FROM requests ORDER BY id"
    ).fetchall()
    return [
        LoggedRequest(
            id=r[0],
            at=_dt(r[1]),
            method=r[2],
            path=r[3],
            status=r[4],
            code=r[5],
            request_id=r[6],
            ticket=r[7],
            outcome=r[8],
        )
        for r in rows
    ]


def _read_only(data_path: Path) -> sqlite3.Connection:
    if not data_path.is_file():
        raise FileNotFoundError(data_path)
    return connect(data_path)


def read_deliveries(
    data_path: Path, *, request_id: str | None = None, ticket: str | None = None
) -> list[Delivery]:
    """What the sandbox at `data_path` accepted, oldest first; works with no server running."""
    conn = _read_only(data_path)
    try:
        return query_deliveries(conn, now().timestamp(), request_id=request_id, ticket=ticket)
    finally:
        conn.close()


def read_requests(data_path: Path) -> list[LoggedRequest]:
    """Every HTTP request the sandbox at `data_path` received, oldest first."""
    conn = _read_only(data_path)
    try:
        return query_requests(conn)
    finally:
        conn.close()
