"""`octoplan plan` of a CSV list read in N parts (`OCTOPLAN_JOBS=N`, N - 1 forked children)
prints byte for byte what one process prints, text and JSON, errors and their lines included.

`OCTOPLAN_SHARD_BYTES=1` splits a small file, so every case goes through the real forks of the
real CLI. The list is built so that the cuts fall where it hurts: each number comes twice, 9
rows apart (in two formats, with other codes: the first occurrence must win across a cut),
most rows hold a quoted value with a line break (the first line break after a cut's
target is often inside quotes), invalid rows spread over every part (their line numbers count
the quoted line breaks and blank lines of the parts before), and the same file with CRLF line
ends. Then children that fail among several: the parent reads their parts in their place.
"""

from __future__ import annotations

import csv
import io
import os
import re
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from octoplan import shards
from octoplan.contactfiles import CsvSource
from tests.fixtures.procs import children
from tests.fixtures.project import MakeProject, run_cli

ROWS = 3000
TEXT = (
    "Bonjour {{ contact.first_name }}, code {{ contact.code }} ({{ contact.note }}). STOP au 30101"
)
CAMPAIGN = (
    'channel: sms\npurpose: wholesale\nsender: ShopX\ntext: "{text}"\n'
    "contacts: [contacts/big.csv]\n"
)


def contacts(rows: int, *, invalid_every: int = 150, newline: str = "\n") -> str:
    lines = ["phone_number,first_name,code,note"]
    for index in range(rows):
        # An even row brings a number (+33 6 12 00 00 07); the odd row 9 rows down has it again
        # (06 12 00 00 07): wherever a cut falls, a row just after it repeats one before it.
        number = (
            f"+3361{2000000 + index // 2:07d}" if index % 2 == 0 else f"0612{(index - 9) // 2:06d}"
        )
        if index % 2 and index < 9:
            number = f"+3362{index:07d}"
        if index % invalid_every == invalid_every - 1:
            number = "06 12"  # not a number: an error at its line
        note = f'"a ""quoted""\nnote,\n{index}\n"' if index % 4 != 3 else f"plain {index}"
        lines.append(f"{number},Zoé{index % 7},C{index},{note}")
        if index % 701 == 0:
            lines.append("")  # a blank line
    return newline.join(lines) + newline


def project(make_project: MakeProject, *, newline: str = "\n", rows: int = ROWS) -> Path:
    return make_project(
        {
            "campaigns/strict.yaml": CAMPAIGN.format(text=TEXT),
            "campaigns/skip.yaml": CAMPAIGN.format(text=TEXT) + "on_invalid: skip\n",
            "contacts/big.csv": contacts(rows, newline=newline),
        }
    )


def plans(root: Path, jobs: int) -> list[tuple[int, str, str]]:
    """The strict campaign's errors, the other's plan as text and JSON."""
    env = {"OCTOPLAN_JOBS": str(jobs), "OCTOPLAN_SHARD_BYTES": "1"}
    runs = [
        run_cli("plan", "--campaign", "strict", cwd=root, env=env),
        run_cli("plan", "--campaign", "skip", cwd=root, env=env),
        run_cli("plan", "--campaign", "skip", "--format", "json", cwd=root, env=env),
    ]
    return [(run.returncode, _timeless(run.stdout), run.stderr) for run in runs]


def _timeless(output: str) -> str:
    """The output without the JSON's `created_at` (the one line that differs between runs)."""
    return re.sub(r'"created_at": "[^"]*"', '"created_at": "..."', output, count=1)


def one_process(root: Path) -> list[tuple[int, str, str]]:
    expected = plans(root, 1)
    (strict, text, json) = expected
    # The list really holds what the test is about.
    assert strict[0] == 1 and strict[1].count("not a valid phone number") == ROWS // 150
    assert text[0] == 0 and f"{ROWS // 2 + 4:,} messages" in text[1]
    assert "duplicate recipients collapsed" in text[1] and json[0] == 0
    return expected


def parts(root: Path, jobs: int) -> list[CsvSource]:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("OCTOPLAN_JOBS", str(jobs))
        env.setenv("OCTOPLAN_SHARD_BYTES", "1")
        found = shards.split(CsvSource(root / "contacts/big.csv", "contacts/big.csv"))
    return found or []


def check_cuts(root: Path, jobs: int) -> None:
    """The file is cut in `jobs` parts; after each cut, a row repeats a number of the part
    before; at least one cut is past a line break inside quotes."""
    found = parts(root, jobs)
    assert len(found) == jobs
    data = (root / "contacts/big.csv").read_bytes()
    inside = 0
    for index, part in enumerate(found[1:], start=1):
        assert part.part is not None
        start = part.part[0]
        naive = data.find(b"\n", len(data) * index // jobs) + 1
        inside += naive != start
        before = [row for row in csv.reader(io.StringIO(data[:start].decode())) if row]
        after = [row for row in csv.reader(io.StringIO(data[start:].decode())) if row]
        # +33612000007 and 0612000007: the same number.
        assert {row[0][-6:] for row in before[-12:]} & {row[0][-6:] for row in after[:3]}
    assert inside >= 1


@pytest.mark.parametrize("jobs", [1, 2, 3, 4, 7])
@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_a_plan_in_n_parts_is_the_plan_of_one_process(
    make_project: MakeProject, jobs: int, newline: str
) -> None:
    root = project(make_project, newline=newline)
    expected = one_process(root)
    if jobs == 1:
        assert parts(root, 1) == []  # OCTOPLAN_JOBS=1: one process, nothing forked
    else:
        check_cuts(root, jobs)
    assert plans(root, jobs) == expected


def test_the_parts_are_at_least_half_the_threshold_and_at_most_the_cores(
    make_project: MakeProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project(make_project)
    size = (root / "contacts/big.csv").stat().st_size
    source = CsvSource(root / "contacts/big.csv", "contacts/big.csv")
    monkeypatch.setenv("OCTOPLAN_JOBS", "7")
    monkeypatch.setenv("OCTOPLAN_SHARD_BYTES", str(size // 2))
    found = shards.split(source)
    assert found is not None and len(found) == 4  # parts of a quarter: half the threshold
    monkeypatch.setenv("OCTOPLAN_SHARD_BYTES", str(size + 1))
    assert shards.split(source) is None
    monkeypatch.setenv("OCTOPLAN_SHARD_BYTES", "1")
    monkeypatch.delenv("OCTOPLAN_JOBS")
    cores = len(os.sched_getaffinity(0))
    assert shards.jobs() == cores
    found = shards.split(source)
    assert (len(found) if found is not None else 1) == cores


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("3", 3),
        (" 12 ", 12),
        ("1", 1),
        ("0", 1),
        ("", None),
        ("auto", None),
        ("-2", None),
        ("2.5", None),
        ("²", None),
    ],
)
def test_octoplan_jobs_is_a_whole_number_or_ignored(
    monkeypatch: pytest.MonkeyPatch, value: str, expected: int | None
) -> None:
    monkeypatch.setenv("OCTOPLAN_JOBS", value)
    assert shards.jobs() == (expected or len(os.sched_getaffinity(0)))


# --- children that fail among several -------------------------------------------------------

BIG = 40_000
# Every message, its text and recipient, is in the JSON; the invalid rows' lines in a warning.
PLAN = ("--campaign", "skip", "--format", "json")


def one_process_big(root: Path) -> subprocess.CompletedProcess[str]:
    run = run_cli("plan", *PLAN, cwd=root, env={"OCTOPLAN_JOBS": "1"})
    assert run.returncode == 0 and '"duplicates": 19730' in run.stdout
    assert '"messages_to_send": 20004' in run.stdout
    return run


def plan_process(
    root: Path, jobs: int, preexec_fn: Callable[[], None] | None = None
) -> subprocess.Popen[str]:
    env: Mapping[str, str] = {
        **{k: v for k, v in os.environ.items() if not k.startswith("OCTOPUSH_")},
        "NO_COLOR": "1",
        "OCTOPLAN_JOBS": str(jobs),
        "OCTOPLAN_SHARD_BYTES": "1",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "octoplan", "plan", *PLAN],
        cwd=root,
        env=dict(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=preexec_fn,
    )


def test_a_child_killed_among_three_changes_nothing_in_the_plan(
    make_project: MakeProject,
) -> None:
    root = project(make_project, rows=BIG)
    run = one_process_big(root)
    process = plan_process(root, 4)
    killed: list[int] = []
    deadline = time.monotonic() + 120
    while not killed and process.poll() is None and time.monotonic() < deadline:
        found = children(process.pid)
        if len(found) == 3:
            # The middle one (forks in part order: part 3 of 4): the parts after it wait for
            # its keys, read by the parent in its place.
            os.kill(found[1], signal.SIGKILL)
            killed.append(found[1])
        time.sleep(0.002)
    out, err = process.communicate(timeout=300)
    assert killed, "the plan forked no three children: the file was not split in four"
    assert (process.returncode, _timeless(out), err) == (0, _timeless(run.stdout), run.stderr)


def _no_big_files() -> None:
    # Each child's spool file of about 10,000 messages is over 300 KB; nothing else written
    # while planning comes near 128 KB. Ignored, SIGXFSZ makes the write fail.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (128 * 1024, 128 * 1024))


def test_children_that_cannot_hand_over_their_messages_change_nothing_in_the_plan(
    make_project: MakeProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Under coverage the process would measure itself, fail to write its data past the file
    # size limit too, and say so on stderr at exit: it is left unmeasured (nothing would be
    # saved), like the full-disk apply of tests/test_apply_edges.py.
    monkeypatch.delenv("COVERAGE_PROCESS_CONFIG", raising=False)
    root = project(make_project, rows=BIG)
    run = one_process_big(root)
    process = plan_process(root, 4, preexec_fn=_no_big_files)
    out, err = process.communicate(timeout=300)
    assert (process.returncode, _timeless(out), err) == (0, _timeless(run.stdout), run.stderr)


def _running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] != "Z"  # a zombie has ended (waiting to be reaped)


def test_children_end_when_the_plan_is_killed(make_project: MakeProject) -> None:
    # Killed by the OOM killer or a CI timeout: its children must not stay behind, holding
    # their part's memory, blocked on a pipe nobody reads any more.
    root = project(make_project, rows=BIG)
    process = plan_process(root, 4)
    found: list[int] = []
    deadline = time.monotonic() + 120
    while len(found) < 3 and process.poll() is None and time.monotonic() < deadline:
        found = children(process.pid)
        time.sleep(0.002)
    assert len(found) == 3, "the plan forked no three children: the file was not split in four"
    process.kill()
    process.communicate(timeout=60)
    deadline = time.monotonic() + 60
    while any(_running(pid) for pid in found) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [pid for pid in found if _running(pid)]
