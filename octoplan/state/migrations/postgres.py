"""PostgreSQL schema migrations (see the package docstring). Times are timestamptz.

A step is a statement, or a function given the connection (version 2 compresses bodies, which
SQL cannot do).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg

from octoplan.state.migrations import compress_payload, due_of, purpose_of

Step = str | Callable[[psycopg.Connection[Any]], None]


def _batch_bodies(conn: psycopg.Connection[Any]) -> None:
    """Version 2: what a batch holds for good moves to batch_bodies, written once: recipient
    keys and content hashes as two newline-joined columns (same key order), the body
    compressed (`compress_payload`). `batches` keeps the small row status changes rewrite."""
    conn.execute(
        """CREATE TABLE batch_bodies (
            request_id text PRIMARY KEY REFERENCES batches (request_id),
            recipient_keys text NOT NULL,
            content_hashes text NOT NULL,
            payload bytea NOT NULL
        )"""
    )
    rows = conn.execute(
        """SELECT batches.request_id, COALESCE(members.keys, ''),
            COALESCE(members.hashes, ''), batches.payload
        FROM batches LEFT JOIN (
            SELECT request_id,
                string_agg(recipient_key, E'\\n' ORDER BY recipient_key) AS keys,
                string_agg(content_hash, E'\\n' ORDER BY recipient_key) AS hashes
            FROM batch_recipients GROUP BY request_id
        ) AS members ON members.request_id = batches.request_id"""
    ).fetchall()
    with conn.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO batch_bodies (request_id, recipient_keys, content_hashes, payload) "
            "VALUES (%s, %s, %s, %s)",
            [(rid, keys, hashes, compress_payload(payload)) for rid, keys, hashes, payload in rows],
        )
    conn.execute("DROP TABLE batch_recipients")
    conn.execute("ALTER TABLE batches DROP COLUMN payload")


def _purpose_due_estimated(conn: psycopg.Connection[Any]) -> None:
    """Version 3: `purpose`, `due_at` and `cost_estimated` of each batch, as in sqlite.py."""
    conn.execute("ALTER TABLE batches ADD COLUMN purpose text NOT NULL DEFAULT 'wholesale'")
    conn.execute("ALTER TABLE batches ADD COLUMN due_at timestamptz")
    conn.execute("ALTER TABLE batches ADD COLUMN cost_estimated boolean NOT NULL DEFAULT false")
    rows = conn.execute(
        "SELECT batches.request_id, payload, send_at, COALESCE(first_sent_at, created_at) "
        "FROM batches JOIN batch_bodies ON batch_bodies.request_id = batches.request_id"
    ).fetchall()
    with conn.cursor() as cursor:
        cursor.executemany(
            "UPDATE batches SET purpose = %s, due_at = %s WHERE request_id = %s",
            [
                (purpose_of(payload), due_of(send_at, sent), request_id)
                for request_id, payload, send_at, sent in rows
            ],
        )
    conn.execute(
        "UPDATE batches SET cost = estimated_cost, cost_estimated = true "
        "WHERE status = 'accepted' AND cost IS NULL"
    )
    conn.execute("CREATE INDEX batches_by_due ON batches (due_at)")


MIGRATIONS: tuple[tuple[Step, ...], ...] = (
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
    (_batch_bodies,),
    # Version 3: what happened after the send (octoplan/state/eventlog.py).
    (
        """CREATE TABLE raw_events (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            dedup_key text NOT NULL UNIQUE,
            received_at timestamptz NOT NULL,
            content_type text NOT NULL,
            body bytea NOT NULL,
            problem text,
            interpreted integer NOT NULL DEFAULT 0
        )""",
        "CREATE INDEX raw_events_pending ON raw_events (id) WHERE interpreted = 0",
        """CREATE TABLE events (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            raw_id bigint NOT NULL REFERENCES raw_events (id),
            kind text NOT NULL,
            channel text,
            recipient_key text,
            status text,
            message_id text,
            occurred_at timestamptz,
            request_id text,
            campaign_id text,
            problem text
        )""",
        "CREATE INDEX events_by_campaign ON events (campaign_id, kind)",
        "CREATE INDEX events_by_recipient ON events (recipient_key)",
        """CREATE TABLE deliveries (
            campaign_id text NOT NULL,
            recipient_key text NOT NULL,
            request_id text NOT NULL,
            status text NOT NULL,
            final integer NOT NULL,
            occurred_at timestamptz NOT NULL,
            raw_id bigint NOT NULL,
            PRIMARY KEY (campaign_id, recipient_key)
        )""",
        "CREATE INDEX deliveries_by_recipient ON deliveries (recipient_key)",
        """CREATE TABLE opt_outs (
            recipient_key text PRIMARY KEY,
            stopped_at timestamptz NOT NULL,
            raw_id bigint NOT NULL
        )""",
    ),
    # Version 4: each batch's purpose, due time and whether its cost is an estimate.
    (_purpose_due_estimated,),
    # Version 5: the key of a batch's content hashes (its campaign's options digest, hex), for
    # the check against sending a recipient the same text twice (octoplan.repeats). NULL for
    # the batches journaled before: that check derives it from their body.
    ("ALTER TABLE batch_bodies ADD COLUMN options text",),
    # Version 6: the rollout stage a batch was sent in (`seed`, `5%`...; NULL: no rollout).
    ("ALTER TABLE batches ADD COLUMN stage text",),
)
