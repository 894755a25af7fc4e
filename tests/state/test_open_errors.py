"""Opening the state where it cannot be (octoplan/state/open.py, sqlite.py): a state directory
that cannot be created stops apply before anything is sent, with the directory named; a file
that is not a state (an empty meta table, a directory) is refused untouched."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from octoplan.errors import StateError
from octoplan.sandbox import SandboxServer
from octoplan.state.open import open_state
from tests.fixtures.project import MakeProject, run_cli

CAMPAIGN = 'channel: sms\npurpose: alert\ntext: "Votre colis arrive"\ncontacts: [contacts/c.csv]\n'


def test_a_state_directory_that_cannot_be_created_sends_nothing(
    make_project: MakeProject, sandbox: SandboxServer
) -> None:
    root = make_project(
        {
            "campaigns/parcel.yaml": CAMPAIGN,
            "contacts/c.csv": "phone_number\n+33612345678\n",
            "blocker": "a file where the state's directory should be\n",
        },
        "region: FR\ndefaults: {sender: ShopX}\nstate: blocker/states/state.db\n",
    )
    result = run_cli("apply", "--auto-approve", cwd=root, env=sandbox.env())
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        f"error: {root / 'blocker' / 'states'}: cannot create the state directory: "
        "Not a directory\n"
    )
    assert sandbox.requests() == []
    assert (root / "blocker").read_text() == "a file where the state's directory should be\n"


def unreadable(path: Path, reason: str) -> str:
    return (
        f"{path}: not a readable octoplan state ({reason}); nothing was changed. Restore it from "
        "a backup; do not start a new state in its place if it held records (a new state does "
        "not know what was sent, and would send it again)"
    )


def test_a_sqlite_meta_table_without_its_row_is_not_a_state(tmp_path: Path) -> None:
    location = tmp_path / "state.db"
    open_state(str(location), tmp_path).close()
    with sqlite3.connect(location) as conn:
        conn.execute("DELETE FROM meta")
    conn.close()
    with pytest.raises(StateError) as caught:
        open_state(str(location), tmp_path)
    assert str(caught.value) == unreadable(location, "its meta table is empty")


def test_a_directory_where_the_state_file_should_be_is_refused(tmp_path: Path) -> None:
    location = tmp_path / "state.db"
    location.mkdir()
    with pytest.raises(StateError) as caught:
        open_state(str(location), tmp_path)
    assert str(caught.value) == unreadable(location, "Is a directory")
    assert list(location.iterdir()) == []


def test_a_state_path_under_a_file_is_a_path_mistake_not_a_damaged_state(
    make_project: MakeProject,
) -> None:
    """A file where the state's directory should be is told as the path mistake it is, with no
    advice to restore a backup."""
    root = make_project(
        {
            "campaigns/parcel.yaml": CAMPAIGN,
            "contacts/c.csv": "phone_number\n+33612345678\n",
            "blocker": "a file where the state's directory should be\n",
        },
        "region: FR\ndefaults: {sender: ShopX}\nstate: blocker/state.db\n",
    )
    result = run_cli("plan", cwd=root)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        f"error: {root / 'blocker' / 'state.db'}: cannot hold a state: "
        f"{root / 'blocker'} is a file, not a directory; nothing was changed. Point "
        "OCTOPLAN_STATE (or `state:` in octoplan.yaml) at a file in a directory\n"
    )
    assert (root / "blocker").read_text() == "a file where the state's directory should be\n"
