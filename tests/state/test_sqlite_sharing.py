"""Two stores of one SQLite state in one process (`octoplan receive` has one per thread) and
another process that opens and closes it (an apply): no commit may be lost."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from octoplan.state.open import open_state
from tests.state.helpers import at, intent

OPEN_AND_CLOSE = """
import sys
from pathlib import Path
from octoplan.state.open import open_state
open_state(sys.argv[1], Path(".")).close()
"""


def test_a_second_store_in_the_process_keeps_the_first_ones_commits(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    first = open_state(str(path), tmp_path)
    second = open_state(str(path), tmp_path)  # must not drop the first one's file locks
    try:
        # Another process, last to close as far as it can tell if our locks were gone,
        # would checkpoint and delete the WAL that our connections still write to.
        subprocess.run([sys.executable, "-c", OPEN_AND_CLOSE, str(path)], check=True)
        first.record_intent(intent("r1", ["+33600000001"]), at(0))
        second.record_intent(intent("r2", ["+33600000002"]), at(1))
        conn = sqlite3.connect(path)
        try:
            found = conn.execute("SELECT request_id FROM batches ORDER BY seq").fetchall()
        finally:
            conn.close()
        assert found == [("r1",), ("r2",)]
    finally:
        second.close()
        first.close()
