"""A plan never depends on the forked child that reads the second half of a big CSV list
(octoplan/shards.py): killed as it starts, or failing to hand over its messages (its spool
file cannot be written), the parent reads that half itself, and `octoplan plan` prints exactly
what reading the file in one go prints.

Through the real CLI, on a file of 40,000 rows: the child is a real fork, killed for
real (SIGKILL, found by its parent pid in /proc), or run under a real file size limit.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.fixtures.procs import children
from tests.fixtures.project import MakeProject, run_cli

ROWS = 40_000
TEXT = (
    "Bonjour {{ contact.first_name }}, votre code {{ contact.code }} vous attend en boutique "
    "jusqu'a dimanche soir, sur presentation de ce message. STOP au 30101"
)


def contacts(rows: int) -> str:
    lines = ["phone_number,first_name,code"]
    for index in range(rows):
        # A duplicate now and then, often across the halves; a bad number too.
        number = f"+3361{(index * 7919) % rows if index % 101 == 0 else index:07d}"
        lines.append(f"{'06 12' if index % 997 == 0 else number},Client{index % 50},C{index}")
    return "\n".join(lines) + "\n"


@pytest.fixture
def big(make_project: MakeProject) -> Path:
    return make_project(
        {
            "campaigns/promo.yaml": (
                f'channel: sms\npurpose: wholesale\nsender: ShopX\ntext: "{TEXT}"\n'
                "contacts: [contacts/big.csv]\n"
            ),
            "contacts/big.csv": contacts(ROWS),
        }
    )


def one_go(root: Path) -> subprocess.CompletedProcess[str]:
    result = run_cli("plan", cwd=root, env={"OCTOPLAN_JOBS": "1"})
    # The list really holds what the test is about: duplicates and errors in both halves.
    assert result.returncode == 1, result.stderr
    assert "duplicate recipients collapsed" in result.stdout
    return result


def plan_process(root: Path, preexec_fn: Callable[[], None] | None = None) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCTOPUSH_")}
    env.update(NO_COLOR="1", OCTOPLAN_JOBS="2", OCTOPLAN_SHARD_BYTES="1")
    return subprocess.Popen(
        [sys.executable, "-m", "octoplan", "plan"],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=preexec_fn,
    )


def test_a_child_killed_as_it_starts_changes_nothing_in_the_plan(big: Path) -> None:
    expected = one_go(big)
    process = plan_process(big)
    killed: list[int] = []
    deadline = time.monotonic() + 120
    while not killed and process.poll() is None and time.monotonic() < deadline:
        for child in children(process.pid):
            os.kill(child, signal.SIGKILL)
            killed.append(child)
        time.sleep(0.002)
    out, err = process.communicate(timeout=300)
    assert killed, "the plan forked no child: the file was not split"
    assert (process.returncode, out, err) == (1, expected.stdout, expected.stderr)


def _no_big_files() -> None:
    # The child's spool file of 20,000 messages is over 800 KB (50,000 pass 2 MB); nothing
    # else written while planning comes near 512 KB. Ignored, SIGXFSZ makes the write fail.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (512 * 1024, 512 * 1024))


def test_a_child_that_cannot_hand_over_its_messages_changes_nothing_in_the_plan(
    big: Path,
) -> None:
    expected = one_go(big)
    process = plan_process(big, preexec_fn=_no_big_files)
    out, err = process.communicate(timeout=300)
    assert (process.returncode, out, err) == (1, expected.stdout, expected.stderr)
