"""Schema versions: new states are migrated; newer or corrupted ones are refused untouched."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from octoplan.errors import StateError
from octoplan.state.base import SCHEMA_VERSION
from octoplan.state.migrations import postgres as pg_migrations
from octoplan.state.migrations import sqlite as sqlite_migrations
from octoplan.state.open import describe, open_state
from tests.state.helpers import at, intent

TABLES = ["audit", "batch_recipients", "batches", "locks", "meta"]


def unreadable(path: Path, reason: str) -> str:
    return (
        f"{path}: not a readable octoplan state ({reason}); nothing was changed. "
        "Restore it from a backup, or move it away to start a new state"
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
    # Pages 1 and 2 (the schema and meta) stay readable; every page after them is garbage.
    data = state_file.read_bytes()
    damaged = data[:8192] + b"\xff" * (len(data) - 8192)
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
