"""SQLite schema migrations (see the package docstring). Times are ISO 8601 UTC text.

A step is a statement, or a function given the connection when SQL alone cannot do it safely
(SQLite 3.40 cannot order what `group_concat` joins).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from octoplan.state.migrations import compress_payload

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
    # Version 3: the key of a batch's content hashes (its campaign's options digest, hex), for
    # the check against sending a recipient the same text twice (octoplan.repeats). NULL for
    # the batches journaled before: that check derives it from their body.
    ("ALTER TABLE batch_bodies ADD COLUMN options TEXT",),
)
