"""One apply at a time through the real CLI, the holder in another PID namespace (SPEC §6).

Two containers share the state volume and the host name: each one's apply is pid 1 in its own
namespace. The holder here is such a process (`unshare --pid --fork --mount-proc`); the second
apply is the real CLI against the real sandbox. It must wait and give up, never take over.
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

from octoplan.sandbox import SandboxServer
from octoplan.state.procs import host_name
from tests.fixtures.project import MakeProject, run_cli

ROOT = Path(__file__).resolve().parents[1]
HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from octoplan.state.open import open_state

    store = open_state(sys.argv[1], Path(sys.argv[2]))
    store.acquire_lock("octoplan apply by container-a", timeout=30)
    print("locked", flush=True)
    time.sleep(600)
    """
)
CAMPAIGN = (
    "channel: sms\npurpose: alert\ntext: Votre colis arrive demain\n"
    "recipients: [{phone_number: '0612345678'}, {phone_number: '0612345679'}]\n"
)


def _namespaced_holder(root: Path) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [
            *("unshare", "--pid", "--fork", "--mount-proc", "--kill-child"),
            *(sys.executable, "-c", HOLDER, ".octoplan/state.db", str(root)),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline() == "locked\n"
    return process


def test_an_apply_in_another_pid_namespace_is_waited_for_never_taken_over(
    make_project: MakeProject, sandbox: SandboxServer
) -> None:
    root = make_project({"campaigns/notice.yaml": CAMPAIGN})
    holder = _namespaced_holder(root)
    try:
        blocked = run_cli(
            "apply", "--auto-approve", "--lock-timeout", "1", cwd=root, env=sandbox.env()
        )
        assert blocked.returncode == 1, blocked.stdout + blocked.stderr
        # pid 1 here is another process that runs: the lock is held all the same.
        pattern = (
            r"error: state is locked by octoplan apply by container-a \(pid 1 on "
            + re.escape(host_name())
            + r", since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\); waited 1s\. Wait for it to "
            r"finish, or run `octoplan state unlock` if it is gone\.\n"
        )
        assert re.fullmatch(pattern, blocked.stderr), blocked.stderr
        assert sandbox.requests() == []

        refused = run_cli("state", "unlock", "--force", cwd=root)
        assert refused.returncode == 1
        assert "which is still running" in refused.stderr
    finally:
        holder.kill()  # SIGKILL; --kill-child takes the holder with it
        holder.wait()

    # The holder is gone: the kernel released its lock (at most a moment after unshare).
    result = run_cli("apply", "--auto-approve", "--lock-timeout", "5", cwd=root, env=sandbox.env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(d.recipient for d in sandbox.deliveries()) == ["+33612345678", "+33612345679"]
    with sqlite3.connect(root / ".octoplan/state.db") as conn:
        [(detail,)] = conn.execute("SELECT detail FROM audit WHERE action = 'takeover'")
    conn.close()
    assert detail.startswith("took over the lock of octoplan apply by container-a (pid 1 on ")


def test_a_killed_apply_never_blocks_the_next_one(
    make_project: MakeProject, sandbox: SandboxServer
) -> None:
    root = make_project({"campaigns/notice.yaml": CAMPAIGN})
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, ".octoplan/state.db", str(root)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    assert holder.stdout.readline() == "locked\n"
    holder.kill()
    holder.wait()

    result = run_cli("apply", "--auto-approve", "--lock-timeout", "0", cwd=root, env=sandbox.env())

    assert result.returncode == 0, result.stdout + result.stderr
    assert len(sandbox.deliveries()) == 2
