"""The tests' in-process CLI runner (tests/fixtures/project.py `invoke`) gives what a real
`python -m octoplan` gives, and leaves the test process as it found it."""

from __future__ import annotations

import gc
import logging
import os
import signal
import sys
import threading
from pathlib import Path

import pytest

from tests.fixtures.project import run_cli, write_files

BROKEN = {"campaigns/bad.yaml": "channel: sms\ntxt: hi\n"}


@pytest.mark.parametrize(
    ("args", "input", "broken"),
    [
        (("validate",), None, False),
        (("plan", "--format", "json"), None, False),
        (("render", "order-shipped", "--limit", "2"), None, False),
        (("count",), "Héllo wörld €\n", False),  # stdin, and text in and out of UTF-8
        (("validate",), None, True),  # file:line:col errors on stderr, exit 1
        (("plan", "--nope"), None, False),  # click's usage error, mapped to exit 1
        (("-C", "nowhere", "validate"), None, False),
        (("state", "list"), None, False),
    ],
)
def test_in_process_and_process_runs_agree(
    example_project: Path, args: tuple[str, ...], input: str | None, broken: bool
) -> None:
    if broken:
        write_files(example_project, BROKEN)
    inside = run_cli(*args, cwd=example_project, input=input)
    outside = run_cli(*args, cwd=example_project, input=input, process=True)
    assert (inside.returncode, inside.stdout, inside.stderr) == (
        outside.returncode,
        outside.stdout,
        outside.stderr,
    )
    assert inside.args == outside.args


def test_the_cli_gets_exactly_the_environment_a_process_would(
    example_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Scrubbed: an OCTOPLAN_ENV or OCTOPLAN_STATE of the caller's would change both answers.
    monkeypatch.setenv("OCTOPLAN_ENV", "nowhere")
    monkeypatch.setenv("OCTOPLAN_STATE", str(example_project / "elsewhere.db"))
    # Given: click answers completions from os.environ (COMP_WORDS) as the CLI sees it.
    env = {"_OCTOPLAN_COMPLETE": "bash_complete", "COMP_WORDS": "octoplan sta", "COMP_CWORD": "1"}
    for args, extra, expected in [
        ((), env, "plain,state\nplain,status\n"),
        (("state", "list"), {}, "No state yet at .octoplan/state.db: nothing has been applied.\n"),
    ]:
        inside = run_cli(*args, cwd=example_project, env=extra)
        outside = run_cli(*args, cwd=example_project, env=extra, process=True)
        assert (inside.returncode, inside.stdout + inside.stderr) == (0, expected)
        assert (outside.returncode, outside.stdout, outside.stderr) == (
            inside.returncode,
            inside.stdout,
            inside.stderr,
        )
    assert os.environ["OCTOPLAN_ENV"] == "nowhere"  # put back
    assert "_OCTOPLAN_COMPLETE" not in os.environ


def _process_state() -> dict[str, object]:
    return {
        "environ": dict(os.environ),
        "cwd": os.getcwd(),
        "streams": (sys.stdin, sys.stdout, sys.stderr),
        "argv": list(sys.argv),
        "signals": {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)},
        "gc enabled": gc.isenabled(),
        "gc frozen": gc.get_freeze_count(),
        "root logger": list(logging.getLogger().handlers),
        "Thread.start": threading.Thread.start,
    }


def test_a_run_leaves_the_test_process_as_it_found_it(example_project: Path) -> None:
    before = _process_state()
    applied = run_cli("apply", "--sandbox", "--auto-approve", cwd=example_project)
    failed = run_cli("plan", "--nope", cwd=example_project)
    assert (applied.returncode, failed.returncode) == (0, 1), applied.stderr
    after = _process_state()
    assert {k: v for k, v in after.items() if before[k] != v} == {}


def test_what_only_a_process_can_change_is_refused_in_process(tmp_path: Path) -> None:
    with pytest.raises(AssertionError) as refused:
        run_cli("--version", cwd=tmp_path, env={"PYTHONHASHSEED": "1", "LC_ALL": "C"})
    assert str(refused.value) == (
        "run_cli in process cannot change LC_ALL, PYTHONHASHSEED: pass process=True"
    )
    done = run_cli("--version", cwd=tmp_path, env={"PYTHONHASHSEED": "1"}, process=True)
    assert done.returncode == 0
