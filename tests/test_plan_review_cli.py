"""Plans a reviewer can read (issue 19): saved plans shown again, the old and new text of a
change after a partial send, send_at, samples from different template branches, sent told
apart from scheduled, the sandbox's state, colour, --quiet, plurals."""

from __future__ import annotations

import re

from tests.fixtures.project import MakeProject, run_cli

CONFIG = "region: FR\ndefaults: {sender: ShopX, purpose: alert}\n"
ONE = 'channel: sms\ntext: "Bonjour"\nrecipients: [{phone_number: "+33612345678"}]\n'


def test_one_recipient_is_one_recipient_in_every_format(make_project: MakeProject) -> None:
    root = make_project({"campaigns/ok.yaml": ONE}, CONFIG)
    markdown = run_cli("plan", "--format", "markdown", cwd=root).stdout
    assert re.search(r"\n\+ request op-[0-9a-f]{32}: 1 recipient\n", markdown)
    assert "(sms, create): 1 message, 0.04 EUR</summary>" in markdown
    assert "(s)" not in markdown
    assert " 1 recipients" not in markdown and " 1 messages" not in markdown
