"""The embedded sandbox's callbacks, delivered without HTTP (`--sandbox` commands).

`apply --sandbox` runs the sandbox in-process for the length of the apply: there is no server
left to post delivery reports afterwards. So the reports and replies that sandbox owes (the
same payloads `octoplan sandbox --callback-url` posts, see octoplan/sandbox/callbacks.py) are
taken from its data file by the next `--sandbox` command that reads state (`status`,
`explain`, `plan`, `apply`), stored as raw callbacks in the sandbox's state, and interpreted
exactly as `octoplan receive` would. Immediate sends are reported at once (no delay); scheduled
ones when their time has come.
"""

from __future__ import annotations

from pathlib import Path

from octoplan import clock
from octoplan.events import dedup_key
from octoplan.receive.worker import Interpreter, ingest_all
from octoplan.sandbox.callbacks import ReportSettings
from octoplan.sandbox.store import Store
from octoplan.state.base import StateStore
from octoplan.state.eventlog import RawEvent

EMBEDDED = ReportSettings(delay=0.0)
DATA = Path(".octoplan") / "sandbox.db"  # the embedded sandbox's data (commands/session.py)
_JSON = "application/json"


def deliver(data_path: Path, store: StateStore, region: str) -> int:
    """Store and interpret what the sandbox at `data_path` owes; how many callbacks."""
    if not data_path.is_file():
        return 0
    sandbox = Store(data_path, 0.0)
    delivered = 0
    try:
        now = clock.now()
        while due := sandbox.due_callbacks(now.timestamp(), EMBEDDED):
            store.append_raw([RawEvent(dedup_key(_JSON, c.body), now, _JSON, c.body) for c in due])
            # Marked after the state has them: a crash in between delivers them again, and a
            # repeated callback is stored once.
            sandbox.mark_reported(due)
            delivered += len(due)
    finally:
        sandbox.close()
    ingest_all(Interpreter(store, region, actor="octoplan (embedded sandbox)"))
    return delivered
