"""Schema versions: new states are migrated; newer or corrupted ones are refused untouched."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from octoplan.errors import StateError
from octoplan.state.base import SCHEMA_VERSION, BatchStatus
from octoplan.state.migrations import compress_payload
from octoplan.state.migrations import postgres as pg_migrations
from octoplan.state.migrations import sqlite as sqlite_migrations
from octoplan.state.open import describe, open_state
from tests.state.helpers import at, intent

TABLES = [
    "audit",
    "batch_bodies",
    "batches",
    "deliveries",
    "events",
    "locks",
    "meta",
    "opt_outs",
    "raw_events",
]


def unreadable(path: Path, reason: str) -> str:
    return (
        f"{path}: not a readable octoplan state ({reason}); nothing was changed. "
        "Restore it from a backup; do not start a new state in its place if it held "
        "records (a new state does not know what was sent, and would send it again)"
    )


def snapshot(directory: Path) -> dict[str, tuple[bytes, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(directory.iterdir())}


@pytest.fixture
def state_file(tmp_path: Path) -> Path:
    """A closed SQLite state holding 30 requests of 100 recipients."""
    path = tmp_path / "state" / "state.db"
    store = open_state(str(path), tmp_path)
    for n in range(30):
        keys = [f"+336{k:08d}" for k in range(n * 100, n * 100 + 100)]
        store.record_intent(intent(f"r{n}", keys), at(n))
    store.close()
    return path


def test_each_backend_has_one_migration_per_schema_version() -> None:
    assert len(sqlite_migrations.MIGRATIONS) == SCHEMA_VERSION
    assert len(pg_migrations.MIGRATIONS) == SCHEMA_VERSION


def test_a_new_sqlite_state_gets_every_table(tmp_path: Path) -> None:
    open_state("deep/er/state.db", tmp_path).close()
    with sqlite3.connect(tmp_path / "deep/er/state.db") as conn:
        names = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        mode = conn.execute("PRAGMA journal_mode").fetchone()
    conn.close()
    assert sorted(name for (name,) in names if not name.startswith("sqlite_")) == TABLES
    assert mode == ("wal",)


@pytest.mark.postgres
def test_a_new_postgres_state_gets_every_table(pg_url: str, tmp_path: Path) -> None:
    open_state(pg_url, tmp_path).close()
    with psycopg.connect(pg_url) as conn:
        names = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
        ).fetchall()
    assert [name for (name,) in names] == TABLES


def test_a_newer_sqlite_state_is_refused_untouched(state_file: Path, tmp_path: Path) -> None:
    with sqlite3.connect(state_file) as conn:
        conn.execute("UPDATE meta SET schema_version = 7")
    conn.close()
    before = snapshot(state_file.parent)
    with pytest.raises(StateError) as caught:
        open_state(str(state_file), tmp_path)
    assert str(caught.value) == (
        f"{state_file}: state schema version 7 is newer than this octoplan "
        f"(max {SCHEMA_VERSION}); upgrade octoplan"
    )
    assert snapshot(state_file.parent) == before


@pytest.mark.postgres
def test_a_newer_postgres_state_is_refused_untouched(pg_url: str, tmp_path: Path) -> None:
    store = open_state(pg_url, tmp_path)
    store.record_intent(intent("r1", ["+33600000001"]), at(0))
    store.close()
    with psycopg.connect(pg_url) as conn:
        conn.execute("UPDATE meta SET schema_version = 7")
        before = conn.execute("SELECT * FROM meta").fetchall()
    with pytest.raises(StateError) as caught:
        open_state(pg_url, tmp_path)
    assert str(caught.value) == (
        f"{describe(pg_url)}: state schema version 7 is newer than this octoplan "
        f"(max {SCHEMA_VERSION}); upgrade octoplan"
    )
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT * FROM meta").fetchall() == before


def _half(data: bytes) -> bytes:
    return data[: len(data) // 2]


def _page_one_zeroed(data: bytes) -> bytes:
    return data[:100] + bytes(3996) + data[4096:]


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda data: b"region: FR\nstate: .octoplan/state.db\n", "file is not a database"),
        (lambda data: bytes(range(256)) * 64, "file is not a database"),
        (_half, "database disk image is malformed"),
        (lambda data: data[:100], "database disk image is malformed"),
        (_page_one_zeroed, "database disk image is malformed"),
    ],
    ids=["text", "binary", "truncated", "header-only", "schema-page-zeroed"],
)
def test_a_corrupted_sqlite_state_is_refused_untouched(
    state_file: Path, tmp_path: Path, damage: object, reason: str
) -> None:
    assert callable(damage)
    state_file.write_bytes(damage(state_file.read_bytes()))
    before = snapshot(state_file.parent)
    with pytest.raises(StateError) as caught:
        open_state(str(state_file), tmp_path)
    assert str(caught.value) == unreadable(state_file, reason)
    assert snapshot(state_file.parent) == before


def test_damage_found_after_opening_is_refused_untouched(state_file: Path, tmp_path: Path) -> None:
    # The schema and the meta table stay readable (opening succeeds); every page of every
    # other table and index is garbage (SQLite's dbstat says which pages those are).
    with sqlite3.connect(state_file) as conn:
        size = conn.execute("PRAGMA page_size").fetchone()[0]
        pages = [
            n
            for (n,) in conn.execute(
                "SELECT pageno FROM dbstat WHERE name NOT IN ('sqlite_schema', 'sqlite_master', "
                "'meta')"
            )
        ]
    conn.close()
    data = bytearray(state_file.read_bytes())
    for number in pages:
        data[(number - 1) * size : number * size] = b"\xff" * size
    damaged = bytes(data)
    state_file.write_bytes(damaged)
    store = open_state(str(state_file), tmp_path)
    try:
        with pytest.raises(StateError) as caught:
            store.recipients("spring")
        assert str(caught.value) == unreadable(state_file, "database disk image is malformed")
        with pytest.raises(StateError):
            store.record_intent(intent("new", ["+33700000001"]), at(99))
    finally:
        store.close()
    assert state_file.read_bytes() == damaged


def test_a_sqlite_database_of_something_else_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY)")
    conn.close()
    with pytest.raises(StateError) as caught:
        open_state(str(path), tmp_path)
    assert str(caught.value) == unreadable(path, "it holds tables of something else")


def test_an_empty_file_becomes_a_new_state(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.touch()
    store = open_state(str(path), tmp_path)
    try:
        assert store.info().serial == 0
    finally:
        store.close()


RACE = """
import sys
from pathlib import Path
from octoplan.state.open import open_state
store = open_state(sys.argv[1], Path("."))
print(store.info().lineage)
"""


@pytest.mark.postgres
def test_processes_creating_one_postgres_state_at_once_agree(pg_url: str) -> None:
    children = [
        subprocess.Popen(
            [sys.executable, "-c", RACE, pg_url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outputs = [child.communicate(timeout=60) for child in children]
    assert [child.returncode for child in children] == [0, 0, 0, 0], outputs
    assert len({out for out, _ in outputs}) == 1  # one state, one lineage


# A version 1 state, written the way octoplan 1 wrote it: one batch_recipients row per
# recipient. "+33600000002" is in two batches of spring (refused, then accepted).
V1_BATCHES = [
    # request_id, campaign, status, seq, ticket, cost, recipients (key, hash)
    ("r1", "spring", "accepted", 1, "t1", 0.09, [("+33600000002", "h2"), ("+33600000001", "h1")]),
    ("r0", "spring", "refused", 2, None, None, [("+33600000002", "h2"), ("+33600000003", "h3")]),
    ("r2", "autumn", "intent", 3, None, None, [("+33600000009", "h9")]),
]


def _v1_rows(at_value: object) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    batches = [
        (
            rid,
            campaign,
            "sms",
            "sms-campaign/send",
            f'{{"request_id":"{rid}"}}',
            status,
            len(members),
            at_value,
            at_value,
            None,
            1,
            None,
            0.045 * len(members),
            ticket,
            cost,
            None,
            None,
            seq,
        )
        for rid, campaign, status, seq, ticket, cost, members in V1_BATCHES
    ]
    recipients = [
        (rid, campaign, key, content_hash, status, seq)
        for rid, campaign, status, seq, _, _, members in V1_BATCHES
        for key, content_hash in members
    ]
    return batches, recipients


V1_BATCH_INSERT = (
    "INSERT INTO batches (request_id, campaign_id, channel, endpoint, payload, status, "
    "recipients_count, created_at, updated_at, first_sent_at, attempts, send_at, "
    "estimated_cost, ticket, cost, error_code, error_message, seq) "
    "VALUES ({})".format(", ".join(["{0}"] * 18))
)
V1_RECIPIENT_INSERT = (
    "INSERT INTO batch_recipients (request_id, campaign_id, recipient_key, content_hash, "
    "status, seq) VALUES ({})".format(", ".join(["{0}"] * 6))
)


def _check_migrated(location: str, tmp_path: Path) -> None:
    store = open_state(location, tmp_path)
    try:
        info = store.info()
        assert (info.lineage, info.serial, info.schema_version) == ("lineage-v1", 3, SCHEMA_VERSION)
        spring = store.recipients("spring")
        assert {
            key: (r.request_id, r.status.value, r.content_hash) for key, r in spring.items()
        } == {
            "+33600000001": ("r1", "accepted", "h1"),
            "+33600000002": ("r1", "accepted", "h2"),
            "+33600000003": ("r0", "refused", "h3"),
        }
        assert store.recipient_state("autumn") == ({}, {"+33600000009": ("h9", "r2", "intent")})
        assert store.recipient_state("spring") == (
            {"+33600000001": "h1", "+33600000002": "h2"},
            {"+33600000003": ("h3", "r0", "refused")},
        )
        assert store.batch_recipients("r1") == [("+33600000001", "h1"), ("+33600000002", "h2")]
        assert store.batch("r1") is not None
        assert store.payload("r1") == '{"request_id":"r1"}'
        assert store.batch_recipients("r2") == [("+33600000009", "h9")]
        summaries = {c.campaign_id: c for c in store.campaigns()}
        assert (summaries["spring"].recipients_sent, summaries["spring"].recipients_refused) == (
            2,
            1,
        )
        assert summaries["autumn"].recipients_pending == 1
        # And it works on as a version 2 state.
        store.record_intent(intent("r3", ["+33600000003"], content_hash="h3b"), at(5))
        store.record_outcome("r3", BatchStatus.ACCEPTED, at(6))
        assert store.recipients("spring")["+33600000003"].request_id == "r3"
    finally:
        store.close()


def test_a_version_1_sqlite_state_is_migrated_with_every_recipient(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    conn = sqlite3.connect(path)
    for statement in sqlite_migrations.MIGRATIONS[0]:
        assert isinstance(statement, str)
        conn.execute(statement)
    conn.execute("INSERT INTO meta VALUES (1, 'lineage-v1', 3, 1)")
    batches, recipients = _v1_rows("2026-03-01T09:00:00.000000+00:00")
    conn.executemany(V1_BATCH_INSERT.format("?"), batches)
    conn.executemany(V1_RECIPIENT_INSERT.format("?"), recipients)
    conn.commit()
    conn.close()
    _check_migrated(str(path), tmp_path)
    with sqlite3.connect(path) as conn:
        tables = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    conn.close()
    assert sorted(name for (name,) in tables if not name.startswith("sqlite_")) == TABLES


@pytest.mark.postgres
def test_a_version_1_postgres_state_is_migrated_with_every_recipient(
    pg_url: str, tmp_path: Path
) -> None:
    with psycopg.connect(pg_url) as conn:
        for statement in pg_migrations.MIGRATIONS[0]:
            conn.execute(statement)
        conn.execute("INSERT INTO meta VALUES (1, 'lineage-v1', 3, 1)")
        batches, recipients = _v1_rows(at(0))
        with conn.cursor() as cur:
            cur.executemany(V1_BATCH_INSERT.format("%s"), batches)
            cur.executemany(V1_RECIPIENT_INSERT.format("%s"), recipients)
    _check_migrated(pg_url, tmp_path)
    with psycopg.connect(pg_url) as conn:
        names = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
        ).fetchall()
    assert [name for (name,) in names] == TABLES


# Version 2 rows: (request_id, campaign, status, seq, send_at, cost, body, keys).
V2_BATCHES = [
    ("m1", "promo", "accepted", 1, None, 0.09, {"text": "Promo STOP au 30101"}, ["+33600000001"]),
    # Confirmed by "request_id already used": accepted without a cost.
    ("m2", "promo", "accepted", 2, None, None, {"purpose": "wholesale"}, ["+33600000002"]),
    ("a1", "alerts", "accepted", 3, None, 0.045, {"purpose": "alert"}, ["+33600000001"]),
    # Scheduled: goes out (and counts) at its send_at, two days after it was journaled.
    ("s1", "later", "accepted", 4, "2026-03-03T10:00:00+01:00", 0.045, {}, ["+33600000003"]),
    ("r1", "promo", "refused", 5, None, None, {}, ["+33600000004"]),
]
V2_COLUMNS = (
    "request_id, campaign_id, channel, endpoint, status, recipients_count, created_at, "
    "updated_at, first_sent_at, attempts, send_at, estimated_cost, ticket, cost, error_code, "
    "error_message, seq"
)


def _v2_rows(moment: object) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    batches = [
        (
            *(rid, campaign, "sms", "sms-campaign/send", status, len(keys), moment, moment),
            *(moment, 1, send_at, 0.045 * len(keys), None, cost, None, None, seq),
        )
        for rid, campaign, status, seq, send_at, cost, _, keys in V2_BATCHES
    ]
    bodies = [
        (rid, "\n".join(keys), "\n".join("h" for _ in keys), compress_payload(json.dumps(body)))
        for rid, _, _, _, _, _, body, keys in V2_BATCHES
    ]
    return batches, bodies


def _check_migrated_to_3(location: str, tmp_path: Path) -> None:
    store = open_state(location, tmp_path)
    try:
        assert store.info().schema_version == SCHEMA_VERSION
        purposes = {b.request_id: b.purpose for b in store.batches()}
        assert purposes == {
            "m1": "wholesale",
            "m2": "wholesale",
            "a1": "alert",
            "s1": "wholesale",
            "r1": "wholesale",
        }
        costs = {b.request_id: (b.cost, b.cost_estimated) for b in store.batches()}
        assert costs["m1"] == (0.09, False)
        assert costs["m2"] == (0.045, True)  # the estimate, marked as such
        assert costs["r1"] == (None, False)
        # Marketing sends that went (or go) out since then: m1, m2 at their first send, s1 at
        # its send_at; never a. transactional or a refused one.
        sends = store.marketing_sends(at(0))
        assert sorted((when, keys) for when, keys in sends) == [
            (at(0), ["+33600000001"]),
            (at(0), ["+33600000002"]),
            (datetime(2026, 3, 3, 9, 0, tzinfo=UTC), ["+33600000003"]),
        ]
        assert store.marketing_sends(at(1)) == [
            (datetime(2026, 3, 3, 9, 0, tzinfo=UTC), ["+33600000003"])
        ]
    finally:
        store.close()


def test_a_version_2_sqlite_state_gets_purposes_due_times_and_estimated_costs(
    tmp_path: Path,
) -> None:
    path = tmp_path / "state.db"
    conn = sqlite3.connect(path)
    for steps in sqlite_migrations.MIGRATIONS[:2]:
        for step in steps:
            conn.execute(step) if isinstance(step, str) else step(conn)
    conn.execute("INSERT INTO meta VALUES (1, 'lineage-v2', 5, 2)")
    batches, bodies = _v2_rows("2026-03-01T09:00:00.000000+00:00")
    conn.executemany(f"INSERT INTO batches ({V2_COLUMNS}) VALUES ({', '.join('?' * 17)})", batches)
    conn.executemany("INSERT INTO batch_bodies VALUES (?, ?, ?, ?)", bodies)
    conn.commit()
    conn.close()
    _check_migrated_to_3(str(path), tmp_path)


@pytest.mark.postgres
def test_a_version_2_postgres_state_gets_purposes_due_times_and_estimated_costs(
    pg_url: str, tmp_path: Path
) -> None:
    with psycopg.connect(pg_url) as conn:
        for steps in pg_migrations.MIGRATIONS[:2]:
            for step in steps:
                conn.execute(step) if isinstance(step, str) else step(conn)
        conn.execute("INSERT INTO meta VALUES (1, 'lineage-v2', 5, 2)")
        batches, bodies = _v2_rows(at(0))
        with conn.cursor() as cur:
            cur.executemany(
                f"INSERT INTO batches ({V2_COLUMNS}) VALUES ({', '.join(['%s'] * 17)})", batches
            )
            cur.executemany("INSERT INTO batch_bodies VALUES (%s, %s, %s, %s)", bodies)
    _check_migrated_to_3(pg_url, tmp_path)


def _v2_state(location: str, tmp_path: Path) -> None:
    """A state exactly as version 2 of octoplan left it: one batch, accepted."""
    body = '{"request_id":"r1","text":"Bonjour","recipients":[{"phone_number":"+33600000001"}]}'
    payload = compress_payload(body)
    if location.startswith("postgresql://"):
        with psycopg.connect(location) as conn:
            for steps in pg_migrations.MIGRATIONS[:2]:
                for step in steps:
                    if isinstance(step, str):
                        conn.execute(step)
                    else:
                        step(conn)
            conn.execute("INSERT INTO meta VALUES (1, 'lineage-v2', 2, 2)")
            conn.execute(
                "INSERT INTO batches VALUES ('r1', 'spring', 'sms', 'sms-campaign/send', "
                "'accepted', 1, %s, %s, %s, 1, NULL, 0.045, 'T1', 0.045, NULL, NULL, 1)",
                (at(0), at(0), at(0)),
            )
            conn.execute(
                "INSERT INTO batch_bodies VALUES ('r1', '+33600000001', 'h1', %s)", (payload,)
            )
        return
    Path(location).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(location)
    for steps in sqlite_migrations.MIGRATIONS[:2]:
        for step in steps:
            if isinstance(step, str):
                conn.execute(step)
            else:
                step(conn)
    conn.execute("INSERT INTO meta VALUES (1, 'lineage-v2', 2, 2)")
    t0 = "2026-03-01T09:00:00.000000+00:00"
    conn.execute(
        "INSERT INTO batches VALUES ('r1', 'spring', 'sms', 'sms-campaign/send', 'accepted', "
        "1, ?, ?, ?, 1, NULL, 0.045, 'T1', 0.045, NULL, NULL, 1)",
        (t0, t0, t0),
    )
    conn.execute("INSERT INTO batch_bodies VALUES ('r1', '+33600000001', 'h1', ?)", (payload,))
    conn.commit()
    conn.close()


def test_a_version_2_state_is_upgraded_to_record_the_key_of_its_hashes(
    state_url: str, tmp_path: Path
) -> None:
    _v2_state(state_url, tmp_path)
    store = open_state(state_url, tmp_path)
    try:
        info = store.info()
        assert (info.lineage, info.serial, info.schema_version) == ("lineage-v2", 2, SCHEMA_VERSION)
        # The batch journaled before: no key recorded (the repeat check reads its body).
        assert store.sent_contents(["r1"]) == {"r1": (["+33600000001"], ["h1"], None)}
        assert [b.request_id for b in store.recent_batches(at(0))] == ["r1"]
        assert store.recipient_state("spring") == ({"+33600000001": "h1"}, {})
        new = intent("r2", ["+33600000002"])
        store.record_intent(replace(new, options="ab" * 16), at(1))
        assert store.sent_contents(["r2"])["r2"].options == "ab" * 16
    finally:
        store.close()
