"""`plan --changed-since` when git cannot answer (octoplan/changes.py): not installed at all,
or failing on a damaged repository. A clear error, never an internal one, and nothing planned.
"""

from __future__ import annotations

from pathlib import Path

from tests.fixtures.project import MakeProject, run_cli
from tests.test_changes import CONFIG, FILES, repo


def test_without_git_installed_the_error_says_so(make_project: MakeProject, tmp_path: Path) -> None:
    root = repo(make_project)
    empty = tmp_path / "no-git-here"
    empty.mkdir()
    result = run_cli("plan", "--changed-since", "HEAD", cwd=root, env={"PATH": str(empty)})
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == "error: --changed-since needs git, which is not installed\n"


def test_a_git_that_fails_is_quoted(make_project: MakeProject) -> None:
    root = repo(make_project)
    (root / ".git" / "index").write_bytes(b"not an index")  # damaged: diff cannot read it
    result = run_cli("plan", "--changed-since", "HEAD", cwd=root)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        "error: git diff --name-only --no-renames HEAD -- failed: fatal: .git/index: index file "
        "smaller than expected\n"
    )


def test_without_git_a_project_outside_a_repository_says_git_is_missing(
    make_project: MakeProject, tmp_path: Path
) -> None:
    root = make_project(FILES, CONFIG)
    empty = tmp_path / "no-git-here"
    empty.mkdir()
    result = run_cli("plan", "--changed-since", "HEAD", cwd=root, env={"PATH": str(empty)})
    assert result.returncode == 1
    assert result.stderr == "error: --changed-since needs git, which is not installed\n"
