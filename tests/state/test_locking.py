"""One apply at a time: the lock, its takeover from dead processes, and `unlock`."""

from __future__ import annotations

import os
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from octoplan.errors import StateError
from octoplan.state.base import LockHeld, LockInfo, StateStore, describe_lock
from octoplan.state.open import is_postgres, open_state
from octoplan.state.procs import host_name
from tests.state.helpers import T0

ROOT = Path(__file__).resolve().parents[2]

HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from octoplan.state.open import open_state

    store = open_state(sys.argv[1], Path(sys.argv[2]))
    store.acquire_lock("octoplan apply by holder", timeout=30)
    print("locked", flush=True)
    time.sleep(600)
    """
)


def start_holder(state: str, root: Path, wrapper: tuple[str, ...] = ()) -> subprocess.Popen[str]:
    """Another process (run under `wrapper`, if any) that holds the lock once this returns."""
    process = subprocess.Popen(
        [*wrapper, sys.executable, "-c", HOLDER, state, str(root)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline() == "locked\n"
    return process


@pytest.fixture
def holder(state_url: str, tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the lock, until the test kills it."""
    process = start_holder(state_url, tmp_path)
    yield process
    process.kill()
    process.wait()


def kill(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait()


def test_the_lock_names_its_holder_and_is_released(store: StateStore) -> None:
    store.acquire_lock("octoplan apply by alice", timeout=0)
    info = store.lock_info()
    assert info is not None
    assert (info.holder, info.host, info.pid) == (
        "octoplan apply by alice",
        host_name(),
        os.getpid(),
    )
    store.release_lock()
    assert store.lock_info() is None


def test_locked_releases_even_on_error(store: StateStore) -> None:
    with pytest.raises(RuntimeError), store.locked("octoplan apply", timeout=0):
        raise RuntimeError("boom")
    assert store.lock_info() is None


def test_one_process_cannot_take_its_own_lock_twice(store: StateStore) -> None:
    store.acquire_lock("octoplan apply", timeout=0)
    with pytest.raises(StateError) as caught:
        store.acquire_lock("octoplan apply", timeout=0)
    assert str(caught.value) == "this process already holds the state lock"


def test_a_second_store_waits_then_names_the_holder(
    store: StateStore, state_url: str, tmp_path: Path
) -> None:
    store.acquire_lock("octoplan apply by alice", timeout=0)
    other = open_state(state_url, tmp_path)
    try:
        with pytest.raises(LockHeld) as caught:
            other.acquire_lock("octoplan apply by bob", timeout=0.3)
        info = store.lock_info()
        assert info is not None
        assert caught.value.info == info
        assert str(caught.value) == (
            f"state is locked by {describe_lock(info)}; waited 0.3s. "
            "Wait for it to finish, or run `octoplan state unlock` if it is gone."
        )
        store.release_lock()
        other.acquire_lock("octoplan apply by bob", timeout=0)
        assert other.lock_info() is not None
    finally:
        other.close()


def test_a_live_holder_in_another_process_keeps_the_lock(
    store: StateStore, holder: subprocess.Popen[str]
) -> None:
    with pytest.raises(LockHeld) as caught:
        store.acquire_lock("octoplan apply by bob", timeout=0.5)
    assert caught.value.info is not None
    assert (caught.value.info.holder, caught.value.info.pid) == (
        "octoplan apply by holder",
        holder.pid,
    )


def test_a_killed_holder_never_blocks_the_next_apply(
    store: StateStore, holder: subprocess.Popen[str]
) -> None:
    gone = store.lock_info()
    assert gone is not None
    kill(holder)
    # SQLite: the OS lock died with the process; PostgreSQL: with the connection.
    store.acquire_lock("octoplan apply by bob", timeout=10)
    info = store.lock_info()
    assert info is not None
    assert (info.holder, info.pid) == ("octoplan apply by bob", os.getpid())
    [entry] = store.audit_log()
    reason = "connection" if is_postgres(store.info().url) else "process"
    assert (entry.action, entry.detail) == (
        "takeover",
        f"took over the lock of {describe_lock(gone)}: its {reason} is gone "
        f"(by octoplan apply by bob (pid {os.getpid()} on {host_name()}))",
    )


def test_unlock_without_a_lock_does_nothing(store: StateStore) -> None:
    assert store.unlock("alice@laptop") is None
    assert store.audit_log() == []


def test_unlock_refuses_a_live_holder_unless_forced(
    store: StateStore, holder: subprocess.Popen[str]
) -> None:
    info = store.lock_info()
    assert info is not None
    with pytest.raises(StateError) as caught:
        store.unlock("alice@laptop")
    if not is_postgres(store.info().url):
        # An OS lock ends with its process and nothing else: --force cannot take it either.
        expected = (
            f"the state lock is held by {describe_lock(info)}, which is still running (the "
            "operating system keeps its lock on state.db.lock until it ends); "
            "let it finish or stop it"
        )
        assert str(caught.value) == expected
        with pytest.raises(StateError) as forced:
            store.unlock("alice@laptop", force=True)
        assert str(forced.value) == expected
        assert store.lock_info() == info
        assert store.audit_log() == []
        return
    assert str(caught.value) == (
        f"the state lock is held by {describe_lock(info)}, whose database connection is "
        "still open; let it finish or stop it, or use --force to end that connection"
    )
    assert store.unlock("alice@laptop", force=True) == info
    assert store.lock_info() is None
    store.acquire_lock("octoplan apply by bob", timeout=0)
    [entry] = store.audit_log()
    assert (entry.action, entry.detail) == (
        "unlock",
        f"ended the connection and removed the lock of {describe_lock(info)} (by alice@laptop)",
    )


def gone_from_postgres(url: str, backend: int, timeout: float = 30) -> None:
    """Wait (bounded) until PostgreSQL no longer sees a killed client's backend: its server
    process ends a moment after the client does, and until then it holds the client's locks."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(url, autocommit=True) as conn:
        while True:
            row = conn.execute(
                "SELECT (SELECT count(*) FROM pg_stat_activity WHERE pid = %s) "
                "+ (SELECT count(*) FROM pg_locks WHERE pid = %s)",
                (backend, backend),
            ).fetchone()
            if row is not None and row[0] == 0:
                return
            if time.monotonic() > deadline:
                pytest.fail(f"PostgreSQL still sees backend {backend} {timeout}s after its kill")
            time.sleep(0.02)


def test_unlock_removes_what_a_killed_holder_left(
    store: StateStore, holder: subprocess.Popen[str], state_url: str
) -> None:
    info = store.lock_info()
    backend: int | None = None
    if is_postgres(state_url):
        with psycopg.connect(state_url, autocommit=True) as conn:
            row = conn.execute("SELECT backend_pid FROM locks WHERE name = 'apply'").fetchone()
        assert row is not None
        backend = int(row[0])
    kill(holder)
    if backend is not None:
        # Not a sleep: unlock on a connection PostgreSQL still sees open is refused (tested
        # above), which is what made this test fail 2 runs in 9 (issue 22).
        gone_from_postgres(state_url, backend)
    assert store.unlock("alice@laptop") == info
    assert [entry.action for entry in store.audit_log()] == ["unlock"]
    assert store.unlock("alice@laptop") is None


def _left_row(path: Path, host: str, pid: int) -> LockInfo:
    """A lock row as a holder writes it, with no process holding the OS lock behind it."""
    with sqlite3.connect(path) as conn:
        conn.execute(
            "INSERT INTO locks VALUES ('apply', 'octoplan apply by ci', ?, ?, NULL, "
            "'2026-03-01T09:00:00.000000+00:00', 'token')",
            (host, pid),
        )
    conn.close()
    return LockInfo("octoplan apply by ci", host, pid, T0)


@pytest.mark.parametrize("host", ["runner-7", host_name()])
def test_sqlite_a_row_without_its_os_lock_is_taken_over_whatever_pid_it_names(
    tmp_path: Path, host: str
) -> None:
    """The row names a process that runs (this very one, or pid 1 on another host): no
    matter, only the OS lock says whether the lock is held (SPEC section 6)."""
    path = tmp_path / "state.db"
    open_state(str(path), tmp_path).close()
    left = _left_row(path, host, os.getpid() if host == host_name() else 1)
    store = open_state(str(path), tmp_path)
    try:
        assert store.lock_info() is None
        store.acquire_lock("octoplan apply by bob", timeout=0)
        [entry] = store.audit_log()
        assert (entry.action, entry.detail) == (
            "takeover",
            f"took over the lock of {describe_lock(left)}: its process is gone "
            f"(by octoplan apply by bob (pid {os.getpid()} on {host_name()}))",
        )
    finally:
        store.close()


def test_sqlite_unlock_removes_a_row_without_its_os_lock(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    open_state(str(path), tmp_path).close()
    left = _left_row(path, host_name(), os.getpid())
    store = open_state(str(path), tmp_path)
    try:
        assert store.unlock("alice@laptop") == left
        [entry] = store.audit_log()
        assert (entry.action, entry.detail) == (
            "unlock",
            f"removed the lock of {describe_lock(left)}: its process is gone (by alice@laptop)",
        )
        assert store.unlock("alice@laptop") is None
    finally:
        store.close()


def _namespaced_holder(state: Path, root: Path) -> subprocess.Popen[str]:
    """A holder in a PID namespace of its own, where it is pid 1, like a container's apply.
    --mount-proc: its /proc is its namespace's, as in a container, so the start time it
    records is its own."""
    return start_holder(
        str(state), root, ("unshare", "--pid", "--fork", "--mount-proc", "--kill-child")
    )


def test_sqlite_a_holder_in_another_pid_namespace_keeps_the_lock(tmp_path: Path) -> None:
    """Two containers sharing the state volume and the host name: the other one's apply is
    pid 1 in its namespace, and pid 1 here is another process that runs."""
    path = tmp_path / "state.db"
    holder = _namespaced_holder(path, tmp_path)
    store = open_state(str(path), tmp_path)
    try:
        info = store.lock_info()
        assert info is not None
        assert (info.holder, info.host, info.pid) == ("octoplan apply by holder", host_name(), 1)
        with pytest.raises(LockHeld) as caught:
            store.acquire_lock("octoplan apply by bob", timeout=0.5)
        assert caught.value.info == info
        with pytest.raises(StateError):
            store.unlock("alice@laptop", force=True)
        kill(holder)  # unshare --kill-child: its child, the holder, is killed with it
        store.acquire_lock("octoplan apply by bob", timeout=10)
        mine = store.lock_info()
        assert mine is not None
        assert (mine.holder, mine.pid) == ("octoplan apply by bob", os.getpid())
    finally:
        holder.kill()
        holder.wait()
        store.close()


def test_sqlite_a_killed_holder_frees_the_lock_at_once(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    process = start_holder(str(path), tmp_path)
    store = open_state(str(path), tmp_path)
    try:
        kill(process)
        store.acquire_lock("octoplan apply by bob", timeout=0)  # no wait, no polling
    finally:
        store.close()


def test_sqlite_the_lock_is_held_on_a_private_file_beside_the_state(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = open_state(str(path), tmp_path)
    try:
        store.acquire_lock("octoplan apply by bob", timeout=0)
        lock_file = tmp_path / "state.db.lock"
        assert stat.S_IMODE(lock_file.stat().st_mode) == 0o600
        store.release_lock()
        assert lock_file.exists()  # never deleted: a holder would lock a file no one sees
    finally:
        store.close()


@pytest.mark.parametrize("how", ["deleted", "replaced"])
def test_sqlite_a_lock_file_removed_under_a_live_holder_lets_no_second_apply_in(
    tmp_path: Path, how: str
) -> None:
    """A cleanup script or a restored cache removes `state.db.lock` while an apply runs: the OS
    lock on a new file is then free, but the holder's row names a process of this host that
    still runs. Nobody gets in, `unlock` (forced or not) refuses, and once the holder is gone
    its row is taken over as usual."""
    path = tmp_path / "state.db"
    process = start_holder(str(path), tmp_path)
    lock_file = tmp_path / "state.db.lock"
    lock_file.unlink()
    if how == "replaced":
        lock_file.write_bytes(b"")
    store = open_state(str(path), tmp_path)
    try:
        info = store.lock_info()
        assert info is not None
        assert (info.holder, info.pid) == ("octoplan apply by holder", process.pid)
        with pytest.raises(LockHeld) as caught:
            store.acquire_lock("octoplan apply by bob", timeout=0.3)
        assert str(caught.value) == (
            f"state is locked by octoplan apply by holder (pid {process.pid} on {host_name()}, "
            f"since {info.acquired_at:%Y-%m-%d %H:%M:%S} UTC), which is still running though "
            f"its lock file {lock_file} was deleted or replaced; waited 0.3s. Let it finish "
            "(never delete files in the state's directory while an apply runs), then run again."
        )
        for force in (False, True):
            with pytest.raises(StateError) as refused:
                store.unlock("alice@laptop", force=force)
            assert str(refused.value) == (
                f"the state lock is held by {describe_lock(info)}, which is still running on "
                "this host, though its lock file state.db.lock was deleted or replaced; let it "
                "finish or stop it"
            )
        assert store.audit_log() == []
        kill(process)
        assert store.lock_info() is None
        store.acquire_lock("octoplan apply by bob", timeout=0)
        [entry] = store.audit_log()
        assert entry.action == "takeover"
    finally:
        process.kill()
        process.wait()
        store.close()


@pytest.mark.postgres
def test_postgres_states_in_one_database_are_locked_apart(pg_url: str, tmp_path: Path) -> None:
    """Advisory locks are per database: four states in four schemas of one database each
    hold their own apply lock at once (their keys are the schema's and the lineage's)."""
    with psycopg.connect(pg_url, autocommit=True) as admin:
        for n in range(4):
            admin.execute(f"CREATE SCHEMA s{n}")
    stores = [open_state(f"{pg_url}?options=-csearch_path%3Ds{n}", tmp_path) for n in range(4)]
    try:
        for n, store in enumerate(stores):
            store.acquire_lock(f"octoplan apply in s{n}", timeout=0)
        holders = [store.lock_info() for store in stores]
        assert [None if info is None else info.holder for info in holders] == [
            f"octoplan apply in s{n}" for n in range(4)
        ]
    finally:
        for store in stores:
            store.close()
