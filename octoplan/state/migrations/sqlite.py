"""SQLite schema migrations (see the package docstring). Times are ISO 8601 UTC text.

A step is a statement, or a function given the connection when SQL alone cannot do it safely
(SQLite 3.40 cannot order what `group_concat` joins).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime

from octoplan.state.migrations import compress_payload, due_of, purpose_of

Step = str | Callable[[sqlite3.Connection], None]


def _batch_bodies(conn: sqlite3.Connection) -> None:
    """Version 2: what a batch holds for good (its recipients and body) moves to batch_bodies,
    written once; its recipients become two columns there (keys and content hashes joined by
    newlines, in the same order) instead of a row each, and the body is compressed. `batches`
    keeps the small row that status changes rewrite (SQLite rewrites a whole row, body
    included, on any update)."""
    conn.execute(
        """CREATE TABLE batch_bodies (
            request_id TEXT PRIMARY KEY,
            recipient_keys TEXT NOT NULL,
            content_hashes TEXT NOT NULL,
            payload BLOB NOT NULL
        )"""
    )
    members: dict[str, tuple[list[str], list[str]]] = {}
    for request_id, key, content_hash in conn.execute(
        "SELECT request_id, recipient_key, content_hash FROM batch_recipients "
        "ORDER BY request_id, recipient_key"
    ):
        keys, hashes = members.setdefault(request_id, ([], []))
        keys.append(key)
        hashes.append(content_hash)
    conn.executemany(
        "INSERT INTO batch_bodies (request_id, recipient_keys, content_hashes, payload) "
        "VALUES (?, ?, ?, ?)",
        [
            (request_id, "\n".join(keys), "\n".join(hashes), compress_payload(payload))
            for request_id, payload in conn.execute("SELECT request_id, payload FROM batches")
            for keys, hashes in [members.get(request_id, ([], []))]
        ],
    )
    conn.execute("DROP TABLE batch_recipients")
    conn.execute("ALTER TABLE batches DROP COLUMN payload")


TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%f+00:00"  # fixed width, so text order is time order


def _purpose_due_estimated(conn: sqlite3.Connection) -> None:
    """Version 3: each batch's `purpose` (read from its body; the frequency cap counts
    marketing sends across campaigns), `due_at` (when its messages go out: send_at, else the
    first attempt, else the intent) and `cost_estimated` (the cost is octoplan's estimate,
    the API's answer having been lost). Accepted batches without a cost (confirmed by a
    "request_id already used" answer, or resolved by hand) get their estimate, marked."""
    conn.execute("ALTER TABLE batches ADD COLUMN purpose TEXT NOT NULL DEFAULT 'wholesale'")
    conn.execute("ALTER TABLE batches ADD COLUMN due_at TEXT")
    conn.execute("ALTER TABLE batches ADD COLUMN cost_estimated INTEGER NOT NULL DEFAULT 0")
    rows = conn.execute(
        "SELECT request_id, payload, send_at, COALESCE(first_sent_at, created_at) "
        "FROM batches JOIN batch_bodies USING (request_id)"
    ).fetchall()
    conn.executemany(
        "UPDATE batches SET purpose = ?, due_at = ? WHERE request_id = ?",
        [
            (
                purpose_of(payload),
                due_of(send_at, datetime.fromisoformat(sent)).strftime(TIME_FORMAT),
                request_id,
            )
            for request_id, payload, send_at, sent in rows
        ],
    )
    conn.execute(
        "UPDATE batches SET cost = estimated_cost, cost_estimated = 1 "
        "WHERE status = 'accepted' AND cost IS NULL"
    )
    conn.execute("CREATE INDEX batches_by_due ON batches (due_at)")


MIGRATIONS: tuple[tuple[Step, ...], ...] = (
    (
        """CREATE TABLE meta (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            lineage TEXT NOT NULL,
            serial INTEGER NOT NULL,
            schema_version INTEGER NOT NULL
        )""",
        """CREATE TABLE batches (
            request_id TEXT PRIMARY KEY,
            campaign_id TEXT NOT NULL,
            channel TEXT NOT NULL,
            endpoint TEXT NOT NULL,
            payload TEXT NOT NULL,
            status TEXT NOT NULL,
            recipients_count INTEGER NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            first_sent_at TEXT,
            attempts INTEGER NOT NULL DEFAULT 0,
            send_at TEXT,
            estimated_cost REAL NOT NULL,
            ticket TEXT,
            cost REAL,
            error_code INTEGER,
            error_message TEXT,
            seq INTEGER NOT NULL
        )""",
        "CREATE INDEX batches_by_campaign ON batches (campaign_id, seq)",
        """CREATE TABLE batch_recipients (
            campaign_id TEXT NOT NULL,
            recipient_key TEXT NOT NULL,
            request_id TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            status TEXT NOT NULL,
            seq INTEGER NOT NULL,
            PRIMARY KEY (campaign_id, recipient_key, request_id)
        ) WITHOUT ROWID""",
        "CREATE UNIQUE INDEX batch_recipients_by_request "
        "ON batch_recipients (request_id, recipient_key)",
        """CREATE TABLE locks (
            name TEXT PRIMARY KEY,
            holder TEXT NOT NULL,
            host TEXT NOT NULL,
            pid INTEGER NOT NULL,
            pid_start TEXT,
            acquired_at TEXT NOT NULL,
            token TEXT NOT NULL
        )""",
        """CREATE TABLE audit (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at TEXT NOT NULL,
            action TEXT NOT NULL,
            actor TEXT NOT NULL,
            detail TEXT NOT NULL
        )""",
    ),
    (_batch_bodies,),
    # Version 3: what happened after the send (octoplan/state/eventlog.py).
    (
        # Every callback as received, kept whatever it holds; `dedup_key` makes a repeated
        # callback one row. `interpreted` = 0 until the worker has read it (restart-safe).
        """CREATE TABLE raw_events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            dedup_key TEXT NOT NULL UNIQUE,
            received_at TEXT NOT NULL,
            content_type TEXT NOT NULL,
            body BLOB NOT NULL,
            problem TEXT,
            interpreted INTEGER NOT NULL DEFAULT 0
        )""",
        "CREATE INDEX raw_events_pending ON raw_events (id) WHERE interpreted = 0",
        # What each callback said, linked to the request and recipient it concerns
        # (request_id and campaign_id NULL: unmatched, `problem` says why).
        """CREATE TABLE events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            raw_id INTEGER NOT NULL REFERENCES raw_events (id),
            kind TEXT NOT NULL,
            channel TEXT,
            recipient_key TEXT,
            status TEXT,
            message_id TEXT,
            occurred_at TEXT,
            request_id TEXT,
            campaign_id TEXT,
            problem TEXT
        )""",
        "CREATE INDEX events_by_campaign ON events (campaign_id, kind)",
        "CREATE INDEX events_by_recipient ON events (recipient_key)",
        # Each recipient's deciding delivery status in a campaign (final beats interim,
        # then the later report), kept up to date so `status` is one GROUP BY.
        """CREATE TABLE deliveries (
            campaign_id TEXT NOT NULL,
            recipient_key TEXT NOT NULL,
            request_id TEXT NOT NULL,
            status TEXT NOT NULL,
            final INTEGER NOT NULL,
            occurred_at TEXT NOT NULL,
            raw_id INTEGER NOT NULL,
            PRIMARY KEY (campaign_id, recipient_key)
        ) WITHOUT ROWID""",
        "CREATE INDEX deliveries_by_recipient ON deliveries (recipient_key)",
        # Numbers that replied STOP: excluded from every later marketing send.
        """CREATE TABLE opt_outs (
            recipient_key TEXT PRIMARY KEY,
            stopped_at TEXT NOT NULL,
            raw_id INTEGER NOT NULL
        ) WITHOUT ROWID""",
    ),
    # Version 4: each batch's purpose, due time and whether its cost is an estimate.
    (_purpose_due_estimated,),
    # Version 5: the key of a batch's content hashes (its campaign's options digest, hex), for
    # the check against sending a recipient the same text twice (octoplan.repeats). NULL for
    # the batches journaled before: that check derives it from their body.
    ("ALTER TABLE batch_bodies ADD COLUMN options TEXT",),
    # Version 6: the rollout stage a batch was sent in (`seed`, `5%`...; NULL: no rollout),
    # so a plan knows which stage a campaign reached, since when, and that stage's reports.
    ("ALTER TABLE batches ADD COLUMN stage TEXT",),
)
