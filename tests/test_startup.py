"""What everyday commands import (issue 19: `--version` and `--help` under 0.1 s, `validate`
and `plan` close to the bare import time of their libraries). Times are measured by
bench/startup_bench.py, not here; these tests pin the laziness that the figures rely on: a
module that only an error, a flag or a rare path needs is imported there, not by every run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# The real `python -m octoplan`, then the names of the modules it imported, written at exit.
_PROBE = """
import atexit, runpy, sys
out, *args = sys.argv[1:]
atexit.register(lambda: open(out, "w").write("\\n".join(sorted(sys.modules))))
sys.argv = ["octoplan", *args]
runpy.run_module("octoplan", run_name="__main__", alter_sys=True)
"""


def imported(tmp_path: Path, cwd: Path, *args: str) -> set[str]:
    out = tmp_path / "modules.txt"
    # Without coverage's start-up in the child (COVERAGE_PROCESS_START, with --cov): coverage
    # imports modules of its own, and this child measures imports, not lines.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OCTOPUSH_", "OCTOPLAN_", "COVERAGE_", "COV_CORE_"))
    }
    env["NO_COLOR"] = "1"
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, str(out), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return set(out.read_text(encoding="utf-8").split("\n"))


def roots(modules: set[str]) -> set[str]:
    return {name.split(".")[0] for name in modules} | modules


@pytest.mark.parametrize("flag", ["--version", "--help"])
def test_version_and_help_import_no_library_but_click(
    tmp_path: Path, example_project: Path, flag: str
) -> None:
    heavy = {"pydantic", "jinja2", "ruamel", "phonenumbers", "rich", "holidays", "httpx"}
    heavy |= {"importlib.metadata", "sqlite3", "subprocess", "traceback", "csv"}
    assert roots(imported(tmp_path, example_project, flag)) & heavy == set()


@pytest.mark.parametrize("command", ["validate", "plan"])
def test_validate_and_plan_import_nothing_only_errors_or_options_need(
    tmp_path: Path, example_project: Path, command: str
) -> None:
    # difflib: did-you-mean hints and multi-line text diffs; subprocess: --changed-since (git);
    # getpass: the audit log's user name; traceback: --debug and a failed shard; multiprocessing:
    # lists big enough to read in two processes; httpx: the Octopush API; rich: colour.
    needless = {"difflib", "subprocess", "getpass", "traceback", "multiprocessing", "httpx"}
    needless |= {"rich", "octoplan.suggest", "octoplan.yamlerrors", "octoplan.undefined"}
    # A saved plan's and --format json's (planfile, inputs, changes), opt-outs' dates (events).
    needless |= {"octoplan.planfile", "octoplan.inputs", "octoplan.changes", "octoplan.events"}
    found = roots(imported(tmp_path, example_project, command))
    assert "octoplan.desired" in found  # the probe ran the command
    assert found & needless == set()
