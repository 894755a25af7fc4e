"""`.pre-commit-hooks.yaml` run by pre-commit itself: `pre-commit try-repo` installs octoplan
from this working tree into a hook environment, as a user's `pre-commit install` would.

try-repo builds a fresh environment on every call (~25 s: pip installs octoplan and its
dependencies), so each run checks both hooks at once: one on a clean project, one on a broken
and badly formatted one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.project import REPO, write_files

CONFIG = "region: FR\ndefaults: {sender: ShopX}\n"
CLEAN = (
    'channel: sms\npurpose: alert\ntext: Bonjour\nrecipients:\n  - phone_number: "+33612345678"\n'
)
# Valid YAML, but keys out of order (fmt) and a misspelt key (validate).
BROKEN = 'recipients:\n  - phone_number: "+33612345678"\ntxet: Bonjour\nchannel: sms\n'
BROKEN_FORMATTED = 'channel: sms\nrecipients:\n  - phone_number: "+33612345678"\ntxet: Bonjour\n'


def git(cwd: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


@pytest.fixture(scope="module")
def hooks_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This working tree as committed in a throwaway repository, uncommitted work included
    (try-repo alone would leave out new, untracked files)."""
    snapshot = tmp_path_factory.mktemp("hooks-repo")
    listed = git(REPO, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if source.is_file():  # a tracked file deleted in the working tree is left out
            (snapshot / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, snapshot / name)
    git(snapshot, "init", "-q")
    git(snapshot, "add", "-A")
    git(snapshot, "commit", "-qm", "snapshot")
    return snapshot


def project(root: Path, files: dict[str, str]) -> Path:
    write_files(root, {"octoplan.yaml": CONFIG, **files})
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "campaigns")
    return root


def try_repo(hooks_repo: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("OCTOPUSH_", "OCTOPLAN_", "GIT_"))
    }
    env.update(PRE_COMMIT_HOME=str(cwd.parent / "pre-commit-home"), NO_COLOR="1")
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", "try-repo", str(hooks_repo), "--all-files"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_hooks_pass_on_a_clean_project(hooks_repo: Path, tmp_path: Path) -> None:
    root = project(tmp_path / "clean", {"campaigns/hello.yaml": CLEAN})

    result = try_repo(hooks_repo, root)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "\noctoplan fmt....." in result.stdout
    assert "\noctoplan validate....." in result.stdout
    assert result.stdout.count("Passed\n") == 2
    assert (root / "campaigns/hello.yaml").read_text() == CLEAN


def test_hooks_fail_on_a_broken_project_and_fmt_fixes_the_layout(
    hooks_repo: Path, tmp_path: Path
) -> None:
    root = project(tmp_path / "broken", {"campaigns/hello.yaml": CLEAN, "campaigns/b.yaml": BROKEN})

    result = try_repo(hooks_repo, root)

    assert result.returncode == 1, result.stdout + result.stderr
    output = result.stdout
    # Hooks run in id order: fmt first, then validate on the reformatted file.
    fmt, validate = output.split("\noctoplan fmt.", 1)[1].split("\noctoplan validate.", 1)
    assert "Failed\n- hook id: octoplan-fmt\n- files were modified by this hook\n" in fmt
    assert "reformatted campaigns/b.yaml\n" in fmt
    assert (root / "campaigns/b.yaml").read_text() == BROKEN_FORMATTED
    assert "Failed\n- hook id: octoplan-validate\n- exit code: 1\n" in validate
    assert (
        "campaigns/b.yaml:4:1: error: unknown key 'txet'\n"
        "  hint: did you mean 'text'?\n"
        "1 error in 1 file\n"
    ) in validate
