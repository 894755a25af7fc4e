"""The package teams install: built like a release, checked by twine, installed in a fresh venv.

One build per module (sdist, then the wheel from the sdist, as `python -m build` does), offline
(`--no-isolation`: the build requirements come from the test extra). The fresh venv gets the
wheel only; the wheel's dependencies are borrowed from the test environment through a `.pth`
line (everything but octoplan itself), so no index is needed and `pip check` still proves the
wheel's declared requirements are met.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from octoplan import __version__
from tests.fixtures.project import REPO, run_cli

SKIPPED = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".octoplan", ".*_cache",
    ".hypothesis", "bench", ".coverage*",
)  # fmt: skip
# ".coverage*": the CLI subprocesses of tests running beside this one write and combine their
# coverage data files in the checkout while it is copied (a file listed, then gone, failed CI).


def run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("build")
    source = work / "source"
    shutil.copytree(REPO, source, ignore=SKIPPED)
    out = work / "dist"
    run(sys.executable, "-m", "build", "--no-isolation", "--outdir", out, source, cwd=work)
    return out


@pytest.fixture(scope="module")
def fresh(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A new venv holding the wheel; returns its bin directory."""
    venv = tmp_path_factory.mktemp("fresh") / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=venv.parent)
    python = venv / "bin" / "python"
    site = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])",
                    cwd=venv.parent).strip())  # fmt: skip
    # The dependencies: this environment's packages, octoplan (an editable install) left out.
    deps = venv.parent / "deps"
    deps.mkdir()
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if "octoplan" not in entry.name.lower() and entry.suffix != ".pth":
            (deps / entry.name).symlink_to(entry)
    (site / "deps.pth").write_text(f"{deps}\n")
    (wheel,) = dist.glob("*.whl")
    pip = (sys.executable, "-m", "pip", "--python", python)
    run(*pip, "install", "--quiet", "--no-deps", "--no-index", wheel, cwd=venv.parent)
    run(*pip, "check", cwd=venv.parent)
    yield venv / "bin"


def test_sdist_and_wheel_pass_twine_check(dist: Path) -> None:
    names = sorted(p.name for p in dist.iterdir())
    assert names == [f"octoplan-{__version__}-py3-none-any.whl", f"octoplan-{__version__}.tar.gz"]
    output = run(sys.executable, "-m", "twine", "check", "--strict", *sorted(dist.iterdir()),
                 cwd=dist)  # fmt: skip
    assert output.count("PASSED") == 2, output


def test_the_wheel_holds_every_module_and_nothing_else(dist: Path) -> None:
    (wheel,) = dist.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = archive.read(f"octoplan-{__version__}.dist-info/METADATA").decode()
    modules = sorted(p.relative_to(REPO).as_posix() for p in (REPO / "octoplan").rglob("*.py"))
    assert sorted(n for n in names if not n.startswith("octoplan-")) == modules
    assert f"\nVersion: {__version__}\n" in metadata
    assert "\nLicense-Expression: MIT\n" in metadata
    assert "\nRequires-Python: >=3.11\n" in metadata


def test_the_installed_package_runs_from_the_wheel(
    fresh: Path, example_project: Path, tmp_path: Path
) -> None:
    where = run(fresh / "python", "-c", "import octoplan; print(octoplan.__file__)", cwd=tmp_path)
    assert where.startswith(str(fresh.parent)), where  # the wheel's copy, not this checkout
    assert (
        run(fresh / "octoplan", "--version", cwd=tmp_path) == f"octoplan, version {__version__}\n"
    )
    validated = run(fresh / "octoplan", "-C", example_project, "validate", cwd=tmp_path)
    assert validated == run_cli("-C", str(example_project), "validate", cwd=tmp_path).stdout
    assert validated.endswith(" campaigns valid\n")
    # The GitOps path too: a saved plan applied to the sandbox by the installed command.
    run(fresh / "octoplan", "plan", "--sandbox", "-o", "plan.json", cwd=example_project)
    applied = run(fresh / "octoplan", "apply", "plan.json", "--sandbox", cwd=example_project)
    assert re.search(
        r"^Apply complete: \d+ messages sent in \d+ requests, cost .*\n"
        r"  Environment: sandbox, the embedded local sandbox\.$",
        applied,
        re.M,
    ), applied


def test_the_changelog_has_a_section_for_this_version() -> None:
    changelog = (REPO / "CHANGELOG.md").read_text(encoding="utf-8")
    versions = re.findall(r"^## \[([^\]]+)\]", changelog, re.M)
    assert versions[0] == __version__
    assert f"\n[{__version__}]: " in changelog  # its link at the bottom


def test_the_version_is_written_once() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert "version" not in project["project"]
    assert project["project"]["dynamic"] == ["version"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "octoplan.__version__"}
    assert re.findall(r'__version__ = "([^"]+)"', (REPO / "octoplan/__init__.py").read_text()) == [
        __version__
    ]
