"""Voice list campaigns through apply (octoplan/sender.py): create, poll, confirm as
one journaled request. An apply killed after the API created the campaign never learnt its
ticket: the next apply must not create it twice, and says what to do.
"""

from __future__ import annotations

from pathlib import Path

from octoplan.sandbox import SandboxServer
from octoplan.state.base import BatchStatus
from tests.fixtures.project import MakeProject, run_cli
from tests.test_apply_edges import batches, kill_in_flight

CONFIG = "region: FR\ndefaults: {sender: ShopX}\n"
CALL = (
    "id: promo\nchannel: voice_sms\npurpose: alert\non_list: true\nlist_name: rappel\n"
    "metadata: {voice_gender: female, voice_language: fr-FR}\n"
    'text: "Bonjour {{ contact.first_name }}, votre colis arrive demain."\n'
    "contacts: [contacts/customers.csv]\n"
)


def test_a_list_campaign_created_by_a_killed_apply_is_never_created_twice(
    make_project: MakeProject, sandbox: SandboxServer
) -> None:
    root: Path = make_project(
        {
            "campaigns/call.yaml": CALL,
            "contacts/customers.csv": "phone_number,first_name\n+33612345678,Ana\n",
        },
        CONFIG,
    )
    request_id = kill_in_flight(root, sandbox.env(), sandbox)
    rerun = run_cli("apply", "--auto-approve", cwd=root, env=sandbox.env())
    assert (rerun.returncode, rerun.stderr.endswith("(0/1 messages sent)\n")) == (1, True)
    assert (
        "Apply finished with problems: 0 messages sent in 0 requests, cost 0.00 EUR.\n"
        f"  Environment: default, {sandbox.base_url}.\n"
        f"  unconfirmed: promo request {request_id} (1 recipient): HTTP 400 code 120: this "
        "voice list campaign was created by an earlier apply that did not record its ticket; "
        "check the Octopush dashboard, then `octoplan state resolve`\n"
        "    an earlier attempt of it may have reached the API, so this refusal does not prove it "
        "was not sent: it stays journaled; the next apply resends it under the same request_id, "
        "and after 23 h it is in doubt (`octoplan state resolve`)\n"
    ) in rerun.stdout
    creates = [r for r in sandbox.requests() if r.path.endswith("voice-campaign-on-list/create")]
    assert [(r.status, r.code) for r in creates] == [(201, None), (400, 120)]
    assert sandbox.deliveries() == []  # created once, never confirmed
    assert [(b[0], b[1]) for b in batches(root, "promo")] == [(request_id, BatchStatus.INTENT)]

    # The dashboard shows it was never sent: resolved so, the next apply sends it once.
    resolved = run_cli("state", "resolve", request_id, "--not-sent", cwd=root)
    assert resolved.returncode == 0, resolved.stderr
    again = run_cli("apply", "--auto-approve", cwd=root, env=sandbox.env())
    assert again.returncode == 0, again.stdout + again.stderr
    assert [(d.recipient, d.text) for d in sandbox.deliveries()] == [
        ("+33612345678", "Bonjour Ana, votre colis arrive demain.")
    ]
