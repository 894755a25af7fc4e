"""PostgreSQL schema migrations (see the package docstring). Times are timestamptz."""

from __future__ import annotations

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE meta (
            id integer PRIMARY KEY CHECK (id = 1),
            lineage text NOT NULL,
            serial bigint NOT NULL,
            schema_version integer NOT NULL
        )""",
        """CREATE TABLE batches (
            request_id text PRIMARY KEY,
            campaign_id text NOT NULL,
            channel text NOT NULL,
            endpoint text NOT NULL,
            payload text NOT NULL,
            status text NOT NULL,
            recipients_count integer NOT NULL,
            created_at timestamptz NOT NULL,
            updated_at timestamptz NOT NULL,
            first_sent_at timestamptz,
            attempts integer NOT NULL DEFAULT 0,
            send_at text,
            estimated_cost double precision NOT NULL,
            ticket text,
            cost double precision,
            error_code integer,
            error_message text,
            seq bigint NOT NULL
        )""",
        "CREATE INDEX batches_by_campaign ON batches (campaign_id, seq)",
        """CREATE TABLE batch_recipients (
            request_id text NOT NULL REFERENCES batches (request_id),
            recipient_key text NOT NULL,
            campaign_id text NOT NULL,
            content_hash text NOT NULL,
            status text NOT NULL,
            seq bigint NOT NULL,
            PRIMARY KEY (request_id, recipient_key)
        )""",
        "CREATE INDEX batch_recipients_by_campaign "
        "ON batch_recipients (campaign_id, recipient_key)",
        """CREATE TABLE locks (
            name text PRIMARY KEY,
            holder text NOT NULL,
            host text NOT NULL,
            pid integer NOT NULL,
            pid_start text,
            acquired_at timestamptz NOT NULL,
            token text NOT NULL,
            backend_pid integer NOT NULL
        )""",
        """CREATE TABLE audit (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            at timestamptz NOT NULL,
            action text NOT NULL,
            actor text NOT NULL,
            detail text NOT NULL
        )""",
    ),
)
