"""`octoplan state ...` (octoplan/commands/state.py) on a project where nothing was applied
yet, or with ids that are not there: every command says so in one line, exits as documented,
and creates no state (a repair command must never make a new, empty state in passing)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.project import MakeProject, run_cli

CAMPAIGN = (
    'channel: sms\npurpose: alert\ntext: "Bonjour"\nrecipients: [{phone_number: "+33612345678"}]\n'
)


@pytest.fixture
def fresh(make_project: MakeProject) -> Path:
    return make_project({"campaigns/parcel.yaml": CAMPAIGN})


@pytest.mark.parametrize(
    ("args", "code", "stdout", "stderr"),
    [
        (("unlock",), 0, "The state is not locked.\n", ""),
        (
            ("resolve", "op-1", "--sent"),
            1,
            "",
            "error: no request op-1 in state; nothing has been applied yet\n",
        ),
        (
            ("mv", "gone", "parcel-2027", "--yes"),
            1,
            "",
            "error: campaign gone is not in state; nothing has been applied yet\n",
        ),
        (
            ("rm", "gone", "--yes"),
            1,
            "",
            "error: campaign gone is not in state; nothing has been applied yet\n",
        ),
        (
            ("show", "gone"),
            1,
            "",
            "error: campaign gone is not in state (.octoplan/state.db); `octoplan state list` "
            "shows the campaigns recorded\n",
        ),
        (
            ("mv", "gone", "bad id"),
            1,
            "",
            "error: 'bad id' is not a campaign id: 1 to 64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit\n",
        ),
        (
            ("resolve", "op-1"),
            1,
            "",
            "error: say what happened to request op-1: --sent or --not-sent (check the "
            "Octopush account first)\n",
        ),
    ],
    ids=["unlock", "resolve", "mv", "rm", "show", "mv-bad-id", "resolve-no-outcome"],
)
def test_state_commands_without_a_state_create_none(
    fresh: Path, args: tuple[str, ...], code: int, stdout: str, stderr: str
) -> None:
    result = run_cli("state", *args, cwd=fresh)
    assert (result.returncode, result.stdout, result.stderr) == (code, stdout, stderr)
    assert not (fresh / ".octoplan").exists()


def test_unknown_ids_in_an_existing_state(fresh: Path) -> None:
    applied = run_cli("apply", "--sandbox", "--auto-approve", cwd=fresh)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    sandbox = ("--sandbox",)
    cases = [
        (
            ("mv", "gone", "other", "--yes"),
            "error: campaign gone is not in state; `octoplan "
            "state list` shows the campaigns recorded\n",
        ),
        (
            ("resolve", "op-1", "--not-sent"),
            "error: no request op-1 in state; `octoplan state show CAMPAIGN` lists the requests "
            "of a campaign\n",
        ),
        (
            ("rm", "gone", "--yes"),
            "error: campaign gone is not in state; `octoplan state list` "
            "shows the campaigns recorded\n",
        ),
    ]
    for args, stderr in cases:
        result = run_cli("state", *args, *sandbox, cwd=fresh)
        assert (result.returncode, result.stdout, result.stderr) == (1, "", stderr), args
    unlocked = run_cli("state", "unlock", *sandbox, cwd=fresh)
    assert (unlocked.returncode, unlocked.stdout) == (0, "The state is not locked.\n")
