"""Opening the state where it cannot be (octoplan/state/open.py): a state directory that cannot
be created stops apply before anything is sent, with the directory named."""

from __future__ import annotations

from octoplan.sandbox import SandboxServer
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
