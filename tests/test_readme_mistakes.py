"""The README's "Common mistakes" quote what octoplan prints: each case is run here.

A case is one or more file blocks (```yaml campaigns/promo.yaml, ```csv contacts/x.csv) put in
a copy of the example project, then a ```text block: what `octoplan validate
campaigns/promo.yaml` prints, whole. A text block with no file before it is run in an empty
directory (the README's /home/me stands for it).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.fixtures.project import REPO, run_cli

FENCE = re.compile(r"^```(\w+)(?: (\S+))?\n(.*?)^```$", re.M | re.S)


def cases() -> list[tuple[dict[str, str], str]]:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Common mistakes\n", 1)[1].split("\n## ", 1)[0]
    found: list[tuple[dict[str, str], str]] = []
    files: dict[str, str] = {}
    for language, path, body in FENCE.findall(section):
        if language == "text":
            found.append((files, body))
            files = {}
        else:
            assert path, f"a ```{language} block of Common mistakes names no file"
            files[path] = body
    return found


CASES = cases()


def test_the_section_has_the_mistakes_of_the_issue() -> None:
    assert len(CASES) >= 10


@pytest.mark.parametrize(("files", "expected"), CASES, ids=[f"case{i}" for i in range(len(CASES))])
def test_each_common_mistake_prints_what_the_readme_says(
    example_project: Path, tmp_path: Path, files: dict[str, str], expected: str
) -> None:
    if not files:
        empty = tmp_path / "empty"
        empty.mkdir()
        result = run_cli("validate", cwd=empty)
        assert result.returncode == 1
        assert result.stderr == expected.replace("/home/me", str(empty))
        return
    for name, text in files.items():
        (example_project / name).write_text(text, encoding="utf-8")
    result = run_cli("validate", "campaigns/promo.yaml", cwd=example_project)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == expected
