"""Power-cut style: a writer killed mid-write never loses a committed step nor counts one twice."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from octoplan.state.base import BatchStatus, StateStore
from octoplan.state.open import open_state
from tests.state.helpers import at, intent

ROOT = Path(__file__).resolve().parents[2]

# Says each step on stdout only once it is committed, so the test knows what must be in state.
WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from octoplan.state.base import BatchStatus
    from octoplan.state.open import open_state
    from tests.state.helpers import at, intent

    store = open_state(sys.argv[1], Path(sys.argv[2]))
    round_ = sys.argv[3]
    for n in range(100_000):
        request_id = f"{round_}-{n}"
        keys = [f"+336{n:05d}{k:03d}" for k in range(100)]
        store.record_intent(intent(request_id, keys, campaign_id=round_), at(n))
        print("intent", request_id, flush=True)
        store.mark_attempt(request_id, at(n))
        print("attempt", request_id, flush=True)
        store.record_outcome(request_id, BatchStatus.ACCEPTED, at(n), cost=1.0)
        print("accepted", request_id, flush=True)
    """
)


def kill_after(state_url: str, directory: Path, round_: str, steps: int) -> list[tuple[str, str]]:
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, state_url, str(directory), round_],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert writer.stdout is not None
    done = []
    for _ in range(steps):
        step, request_id = writer.stdout.readline().split()
        done.append((step, request_id))
    writer.kill()  # SIGKILL, in the middle of the next transaction or close to it
    writer.wait()
    for line in writer.stdout:  # steps committed before the kill landed
        step, _, request_id = line.strip().partition(" ")
        if request_id:
            done.append((step, request_id))
    return done


def check_consistent(store: StateStore) -> None:
    batches = store.batches()
    writes = 0
    for batch in batches:
        keys = store.batch_recipients(batch.request_id)
        assert len(keys) == batch.recipients_count == 100
        statuses = {store.recipients(batch.campaign_id)[key].status for key, _ in keys}
        assert statuses == {batch.status}
        writes += 1 + batch.attempts + (batch.status is BatchStatus.ACCEPTED)
    assert store.info().serial == writes


@pytest.mark.parametrize("steps", [1, 7, 23])
def test_a_killed_writer_loses_nothing_committed(
    store: StateStore, state_url: str, tmp_path: Path, steps: int
) -> None:
    for round_ in ("first", "second"):
        done = kill_after(state_url, tmp_path, round_, steps)
        check_consistent(store)
        for step, request_id in done:
            batch = store.batch(request_id)
            assert batch is not None, f"{step} of {request_id} was lost"
            if step == "attempt":
                assert batch.attempts == 1
            if step == "accepted":
                assert batch.status is BatchStatus.ACCEPTED
    store.record_intent(intent("after", ["+33700000000"]), at(0))  # still writable
    reopened = open_state(state_url, tmp_path)
    try:
        assert reopened.batch("after") is not None
    finally:
        reopened.close()
