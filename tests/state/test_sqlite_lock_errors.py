"""The SQLite state's lock (octoplan/state/sqlite.py) where its holder cannot be named or its
file cannot be used: an OS lock held with no row written yet (a holder between taking the lock
and recording itself) is a live lock held by "another process"; a lock file that cannot be
opened is an error that names it, with nothing written. The OS lock is taken for real, with
flock(2) on the same file, as a second octoplan process would."""

from __future__ import annotations

import fcntl
import os
import sqlite3
from pathlib import Path

import pytest

from octoplan.errors import StateError
from octoplan.state.base import LockHeld
from octoplan.state.open import open_state
from octoplan.state.procs import process_start


def test_an_os_lock_without_its_row_is_a_live_lock_of_another_process(tmp_path: Path) -> None:
    location = tmp_path / "state.db"
    store = open_state(str(location), tmp_path)
    fd = os.open(tmp_path / "state.db.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(LockHeld) as caught:
            store.acquire_lock("octoplan apply by bob", timeout=0.3)
        assert str(caught.value) == (
            "state is locked by another process; waited 0.3s. Wait for it to finish, or run "
            "`octoplan state unlock` if it is gone."
        )
        assert caught.value.info is None
        assert store.lock_info() is None  # no one to name
        assert store.unlock("alice@laptop") is None  # no row: nothing to remove
        fcntl.flock(fd, fcntl.LOCK_UN)  # the other process ends
        store.acquire_lock("octoplan apply by bob", timeout=0)
        info = store.lock_info()
        assert info is not None and (info.holder, info.pid) == (
            "octoplan apply by bob",
            os.getpid(),
        )
        assert store.audit_log() == []  # no row was there: no takeover to record
    finally:
        os.close(fd)
        store.close()


def test_a_lock_file_that_cannot_be_opened_is_named_and_nothing_is_written(
    tmp_path: Path,
) -> None:
    location = tmp_path / "state.db"
    store = open_state(str(location), tmp_path)
    try:
        (tmp_path / "state.db.lock").mkdir()  # in the way of the lock file
        serial = store.info().serial
        for attempt in (
            lambda: store.acquire_lock("octoplan apply by bob", timeout=0),
            store.lock_info,
        ):
            with pytest.raises(StateError) as caught:
                attempt()
            assert str(caught.value) == (
                f"{tmp_path / 'state.db.lock'}: cannot open the state's lock file: Is a directory"
            )
        assert store.info().serial == serial
        assert store.audit_log() == []
    finally:
        store.close()


def test_the_lock_row_records_the_start_time_of_its_holder(tmp_path: Path) -> None:
    """With the pid, the start time tells two holders with the same pid apart; a process that
    is gone has none."""
    location = tmp_path / "state.db"
    store = open_state(str(location), tmp_path)
    try:
        store.acquire_lock("octoplan apply by bob", timeout=0)
        with sqlite3.connect(location) as conn:
            row = conn.execute("SELECT pid, pid_start FROM locks").fetchone()
        conn.close()
        stat = Path(f"/proc/{os.getpid()}/stat").read_text()
        assert row == (os.getpid(), stat[stat.rfind(")") + 2 :].split()[19])
    finally:
        store.close()
    assert process_start(2**22 + 1) is None  # above Linux's largest pid: never a process
