"""`octoplan send-test` corners (octoplan/sendtest.py): a disabled campaign, a campaign with no
recipient to take the text of, an --as that is no recipient (masked), and an e-mail test, whose
request_id goes in the body's metadata as the multi-channel endpoint wants."""

from __future__ import annotations

import json
import re

import pytest

from octoplan.sandbox import SandboxServer
from tests.fixtures.project import MakeProject, run_cli
from tests.fixtures.sandbox import SandboxFactory

CONFIG = "region: FR\ndefaults: {sender: ShopX}\n"
FILES = {
    "campaigns/off.yaml": (
        'enabled: false\nchannel: sms\npurpose: alert\ntext: "Hi"\n'
        'recipients: [{phone_number: "0612345678"}]\n'
    ),
    "campaigns/none.yaml": (
        'channel: sms\npurpose: alert\ntext: "Hi"\ncontacts: [contacts/empty.csv]\n'
    ),
    "contacts/empty.csv": "phone_number\n",
    "campaigns/ok.yaml": (
        'channel: sms\npurpose: alert\ntext: "Hi"\nrecipients: [{phone_number: "0612345678"}]\n'
    ),
    "campaigns/mail.yaml": (
        'channel: email\npurpose: alert\ntext: "Bonjour"\n'
        "metadata: {subject: Hello, email_from: shop@example.com}\n"
        "recipients: [{email: zoe@example.fr}]\n"
    ),
}


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("off",), "campaign off is disabled (enabled: false): it sends nothing"),
        (("none",), "campaign none has no recipient to render its text for"),
        (
            ("ok", "--as", " nobody "),
            "campaign ok has no recipient nobo•••• (--as): give one of its recipients, or "
            "leave --as out for the first",
        ),
    ],
)
def test_a_test_that_cannot_go_sends_nothing(
    make_project: MakeProject, sandbox: SandboxServer, args: tuple[str, ...], error: str
) -> None:
    root = make_project(FILES, CONFIG)
    result = run_cli("send-test", *args, "--to", "0699999901", cwd=root, env=sandbox.env())
    assert (result.returncode, result.stdout, result.stderr) == (1, "", f"error: {error}\n")
    assert sandbox.requests() == []


def test_an_email_test_carries_its_request_id_in_the_metadata(
    make_project: MakeProject, sandbox_factory: SandboxFactory
) -> None:
    server = sandbox_factory(keep_bodies=True)
    root = make_project(FILES, CONFIG)
    result = run_cli("send-test", "mail", "--to", "me@example.com", cwd=root, env=server.env())
    assert result.returncode == 0, result.stderr
    found = re.fullmatch(
        r"Test sent to m•••@e•••\.com in environment default \(\S+\): request (op-[0-9a-f]{32}), "
        r"ticket email_[0-9a-f]+, cost 0\.001\. Recorded as a test: no recipient of mail is "
        r"marked as sent\.\n",
        result.stdout,
    )
    assert found is not None, result.stdout
    [(method, path, raw)] = server.bodies()
    assert (method, path) == ("POST", "/v1/public/multi-channel/send")
    assert json.loads(raw) == {
        "channel": "email",
        "metadata": {
            "email_from": "shop@example.com",
            "request_id": found[1],
            "subject": "Hello",
        },
        "purpose": "alert",
        "recipients": [{"email": "me@example.com"}],
        "sender": "ShopX",
        "text": "Bonjour",
    }
    assert [d.recipient for d in server.deliveries()] == ["me@example.com"]
