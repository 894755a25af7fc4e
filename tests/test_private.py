"""Files holding personal data are the owner's only, whatever the umask (SPEC section 6).

Through the real CLI: state (and its -wal, -shm and lock files), the sandbox's deliveries and
saved plans are 0600 and `.octoplan/` 0700, created under a umask of 000; files left loose by
an earlier octoplan are tightened when next opened; someone else's files are left alone.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from octoplan.private import private_dir, private_file, tighten, write_private
from octoplan.sandbox import SandboxServer
from octoplan.state.open import is_postgres
from tests.fixtures.project import MakeProject, run_cli
from tests.fixtures.sandbox import SandboxFactory

CAMPAIGN = (
    "channel: sms\npurpose: alert\ntext: Votre colis arrive demain\n"
    "recipients: [{phone_number: '0612345678'}, {phone_number: '0612345679'}]\n"
)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """Everything this test and its children create: rw for everybody, unless octoplan says."""
    previous = os.umask(0)
    yield
    os.umask(previous)


@pytest.mark.usefixtures("open_umask")
def test_state_sandbox_data_and_plan_files_are_private_whatever_the_umask(
    make_project: MakeProject, sandbox_factory: SandboxFactory, state_url: str, tmp_path: Path
) -> None:
    root = make_project({"campaigns/notice.yaml": CAMPAIGN})
    server = sandbox_factory(data_path=tmp_path / "sandbox-data" / "deliveries.db")
    env = {**server.env(), "OCTOPLAN_STATE": state_url}

    planned = run_cli("plan", "-o", "plans/notice.json", cwd=root, env=env)
    assert planned.returncode == 0, planned.stderr
    applied = run_cli("apply", "plans/notice.json", cwd=root, env=env)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    embedded = run_cli("apply", "--sandbox", "--auto-approve", cwd=root)
    assert embedded.returncode == 0, embedded.stdout + embedded.stderr

    assert mode(root / ".octoplan") == 0o700
    private = [
        root / "plans/notice.json",
        root / ".octoplan/sandbox.db",
        root / ".octoplan/sandbox-state.db",
        root / ".octoplan/sandbox-state.db.lock",
        tmp_path / "sandbox-data/deliveries.db",
    ]
    if not is_postgres(state_url):
        private += [Path(state_url), Path(state_url + ".lock")]
        assert mode(Path(state_url).parent) == 0o700
    assert {str(p): mode(p) for p in private} == {str(p): 0o600 for p in private}
    # SQLite gives the -wal and -shm files it makes the database's own mode.
    state = Path(state_url) if not is_postgres(state_url) else root / ".octoplan/sandbox.db"
    with sqlite3.connect(state) as reader:
        reader.execute("SELECT * FROM sqlite_master").fetchall()
        side = [Path(f"{state}-wal"), Path(f"{state}-shm")]
        assert {str(p): mode(p) for p in side} == {str(p): 0o600 for p in side}
    reader.close()


@pytest.mark.usefixtures("open_umask")
def test_files_an_earlier_octoplan_left_readable_are_tightened_when_opened(
    make_project: MakeProject, sandbox: SandboxServer
) -> None:
    root = make_project({"campaigns/notice.yaml": CAMPAIGN})
    assert run_cli("apply", "--auto-approve", cwd=root, env=sandbox.env()).returncode == 0
    state = root / ".octoplan/state.db"
    os.chmod(root / ".octoplan", 0o755)
    os.chmod(state, 0o644)
    (root / ".octoplan/state.db.lock").chmod(0o666)
    with sqlite3.connect(state) as reader:  # keeps a -wal and a -shm, made 0644 like the file
        reader.execute("SELECT * FROM sqlite_master").fetchall()
        side = [Path(f"{state}-wal"), Path(f"{state}-shm")]
        assert [mode(p) for p in side] == [0o644, 0o644]

        result = run_cli("plan", cwd=root)

        assert result.returncode == 0, result.stderr
        loose = [state, *side]
        assert [mode(p) for p in loose] == [0o600, 0o600, 0o600]
    reader.close()
    assert mode(root / ".octoplan") == 0o700
    again = run_cli("apply", "--auto-approve", cwd=root, env=sandbox.env())
    assert again.returncode == 0, again.stderr
    assert mode(root / ".octoplan/state.db.lock") == 0o600


@pytest.mark.usefixtures("open_umask")
def test_a_state_outside_dot_octoplan_leaves_its_existing_directory_alone(
    make_project: MakeProject,
) -> None:
    root = make_project({"campaigns/notice.yaml": CAMPAIGN}, config="region: FR\nstate: s.db\n")
    os.chmod(root, 0o755)
    result = run_cli("plan", cwd=root)
    assert result.returncode == 0, result.stderr
    assert (mode(root), mode(root / "s.db")) == (0o755, 0o600)


@pytest.mark.usefixtures("open_umask")
def test_helpers_create_private_and_tighten_only_what_is_ours(tmp_path: Path) -> None:
    private_dir(tmp_path / "a" / "b")
    assert (mode(tmp_path / "a"), mode(tmp_path / "a" / "b")) == (0o700, 0o700)
    private_file(tmp_path / "a" / "f")
    write_private(tmp_path / "a" / "plan.json", "{}\n")
    assert (mode(tmp_path / "a" / "f"), mode(tmp_path / "a" / "plan.json")) == (0o600, 0o600)
    assert (tmp_path / "a" / "plan.json").read_text() == "{}\n"

    theirs = tmp_path / "theirs.db"
    theirs.write_text("")
    theirs.chmod(0o644)
    os.chown(theirs, 65534, 65534)  # nobody's (the tests run as root)
    tighten(theirs)
    assert mode(theirs) == 0o644
    mine = tmp_path / "mine.db"
    mine.write_text("")
    mine.chmod(0o664)
    tighten(mine)
    assert mode(mine) == 0o600
