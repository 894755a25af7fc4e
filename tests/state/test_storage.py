"""SQLite state against its storage: the WAL checkpointed by every writer as it closes, and a
database file replaced under an open state (SPEC section 6, "storage faults are told as they
are"). Deleted files and a full disk mid-apply are in tests/test_apply_edges.py."""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from octoplan.state.base import BatchStatus, StorageFault
from octoplan.state.open import open_state
from tests.state.helpers import at, intent


def request_ids(path: Path) -> list[str]:
    store = open_state(str(path), path.parent)
    try:
        return [b.request_id for b in store.batches()]
    finally:
        store.close()


def test_a_writer_leaves_the_state_whole_in_its_main_file(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = open_state(str(path), tmp_path)
    # Another process reading the same state: SQLite then leaves the WAL as it is on close.
    reader = sqlite3.connect(path)
    try:
        reader.execute("SELECT serial FROM meta").fetchall()
        store.record_intent(intent("r1", ["+33600000001"]), at(0))
        store.record_outcome("r1", BatchStatus.ACCEPTED, at(1))
        store.close()
        # The main file alone (a backup that skips the -wal file, a WAL deleted later).
        alone = tmp_path / "copy" / "state.db"
        alone.parent.mkdir()
        shutil.copyfile(path, alone)
    finally:
        reader.close()
    assert request_ids(alone) == ["r1"]


def test_a_state_file_replaced_under_an_open_state_is_written_beside_it(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = open_state(str(path), tmp_path)
    try:
        store.record_intent(intent("r1", ["+33600000001"]), at(0))
        store.record_intent(intent("r2", ["+33600000002"]), at(1))
        other = tmp_path / "other" / "state.db"
        open_state(str(other), other.parent).close()
        os.replace(other, path)  # someone puts another state in its place

        with pytest.raises(StorageFault) as caught:
            store.record_intent(intent("r3", ["+33600000003"]), at(2))
        [recovered] = tmp_path.glob("state.db.recovered-*[0-9]")
        assert str(caught.value) == (
            f"{path}: the state file was replaced by another file while octoplan was using "
            f"it; everything this state recorded up to then was written to {recovered}, and "
            "this command stopped there. Compare the two before going on. Everything recorded "
            "before is kept in it: do not move it away or delete it (a new state would not "
            "know what was sent, and would send it again). Fix the cause (free disk space, make "
            "it writable), then run the command again"
        )
        with pytest.raises(StorageFault):  # nothing more goes to a file that is not it
            store.record_outcome("r1", BatchStatus.ACCEPTED, at(3))
    finally:
        store.close()
    assert request_ids(recovered) == ["r1", "r2"]
    assert request_ids(path) == []
