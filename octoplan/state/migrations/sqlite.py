"""SQLite schema migrations (see the package docstring). Times are ISO 8601 UTC text.

`batch_recipients` is a WITHOUT ROWID table clustered on (campaign_id, recipient_key), so reading
one campaign's recipients is a single range scan, the query planning depends on.
"""

from __future__ import annotations

MIGRATIONS: tuple[tuple[str, ...], ...] = (
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
)
