"""A migration that fails part way is rolled back: the state stays exactly as it was, at its
old schema version, and the error names it (never an internal error); and a SQLite state kept
busy by another writer is refused after the busy timeout with nothing written.

The failing migration is a real one (version 3 -> 4 reads every journaled body to find its
purpose) on a version 2 state whose body was damaged on disk: it fails after version 3's
tables and its own ALTER TABLEs were made.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import psycopg
import pytest

from octoplan.errors import StateError
from octoplan.state.base import BatchStatus
from octoplan.state.migrations import postgres as pg_migrations
from octoplan.state.migrations import sqlite as sqlite_migrations
from octoplan.state.open import open_state
from tests.fixtures.project import MakeProject, run_cli
from tests.state.helpers import at, intent

BODY_ERROR = "Error -3 while decompressing data: incorrect header check"
T0 = "2026-03-01T09:00:00.000000+00:00"


def refused(where: str) -> str:
    return (
        f"{where}: not a readable octoplan state (its upgrade to schema version 4 failed: "
        f"{BODY_ERROR}); nothing was changed. Restore it from a backup; do not start a new "
        "state in its place if it held records (a new state does not know what was sent, and "
        "would send it again)"
    )


def damaged_v2_state(location: str, version: int = 2) -> None:
    """A state at schema version 2 (or `version`, 3: the same batches table) (built as
    tests/state/test_migrations.py does), one batch accepted, whose body is not the compressed
    text octoplan wrote (a damaged page, an edit)."""
    row = ("r1", "spring", "sms", "sms-campaign/send", "accepted", 1)
    rest = (1, None, 0.045, "T1", 0.045, None, None, 1)
    if location.startswith("postgresql://"):
        with psycopg.connect(location) as conn:
            for steps in pg_migrations.MIGRATIONS[:version]:
                for step in steps:
                    conn.execute(step) if isinstance(step, str) else step(conn)
            conn.execute("INSERT INTO meta VALUES (1, 'lineage-v2', 2, %s)", (version,))
            conn.execute(
                f"INSERT INTO batches VALUES ({', '.join(['%s'] * 17)})",
                (*row, at(0), at(0), at(0), *rest),
            )
            conn.execute(
                "INSERT INTO batch_bodies VALUES ('r1', '+33600000001', 'h1', %s)",
                (b"not a compressed body",),
            )
        return
    Path(location).parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(location)
    for sqlite_steps in sqlite_migrations.MIGRATIONS[:version]:
        for sqlite_step in sqlite_steps:
            db.execute(sqlite_step) if isinstance(sqlite_step, str) else sqlite_step(db)
    db.execute("INSERT INTO meta VALUES (1, 'lineage-v2', 2, ?)", (version,))
    db.execute(f"INSERT INTO batches VALUES ({', '.join('?' * 17)})", (*row, T0, T0, T0, *rest))
    db.execute(
        "INSERT INTO batch_bodies VALUES ('r1', '+33600000001', 'h1', ?)",
        (b"not a compressed body",),
    )
    db.commit()
    db.close()


def contents(location: str) -> list[str]:
    """Every table's definition and rows, as text: equal means nothing was changed."""
    if location.startswith("postgresql://"):
        with psycopg.connect(location) as conn:
            columns = conn.execute(
                "SELECT table_name, column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = 'public' ORDER BY table_name, ordinal_position"
            ).fetchall()
            indexes = conn.execute(
                "SELECT indexname FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1"
            ).fetchall()
            rows = [
                conn.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()
                for table in ("meta", "batches", "batch_bodies")
            ]
        return [repr(columns), repr(indexes), repr(rows)]
    db = sqlite3.connect(location)
    try:
        return list(db.iterdump())
    finally:
        db.close()


def test_a_migration_that_fails_is_rolled_back_whole(state_url: str, tmp_path: Path) -> None:
    damaged_v2_state(state_url)
    before = contents(state_url)
    with pytest.raises(StateError) as caught:
        open_state(state_url, tmp_path)
    assert str(caught.value) == refused(state_url)
    after = contents(state_url)
    assert after == before
    assert any("schema_version" in line for line in before)  # the comparison saw the tables
    # And it is refused the same way the next time: nothing was left half done.
    with pytest.raises(StateError) as again:
        open_state(state_url, tmp_path)
    assert str(again.value) == str(caught.value)


def test_a_failed_migration_from_version_3_names_version_4(state_url: str, tmp_path: Path) -> None:
    """One version behind the failing step, not two: the error still names the version whose
    upgrade failed."""
    damaged_v2_state(state_url, version=3)
    before = contents(state_url)
    with pytest.raises(StateError) as caught:
        open_state(state_url, tmp_path)
    assert str(caught.value) == refused(state_url)
    assert contents(state_url) == before


def test_the_cli_tells_a_failed_migration_as_such(make_project: MakeProject) -> None:
    root = make_project()
    damaged_v2_state(str(root / ".octoplan" / "state.db"))
    result = run_cli("status", cwd=root)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == f"error: {refused(str(root / '.octoplan' / 'state.db'))}\n"


def test_a_state_kept_busy_by_another_writer_is_refused_with_nothing_written(
    tmp_path: Path,
) -> None:
    location = tmp_path / "state.db"
    store = open_state(str(location), tmp_path)
    try:
        serial = store.info().serial
        other = sqlite3.connect(location, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another process writing, and taking its time
        try:
            started = time.monotonic()
            with pytest.raises(StateError) as caught:
                store.record_intent(intent("r1", ["+33600000001"]), at(0))
            assert time.monotonic() - started >= 30  # it waited the busy timeout first
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert str(caught.value) == (
            f"{location}: another process kept the state busy for over 30s; try again"
        )
        assert store.info().serial == serial
        assert store.batches() == []
        # Once the other writer is done, the same write goes through.
        store.record_intent(intent("r1", ["+33600000001"]), at(0))
        store.record_outcome("r1", BatchStatus.ACCEPTED, at(1))
        assert [b.request_id for b in store.batches()] == ["r1"]
    finally:
        store.close()
