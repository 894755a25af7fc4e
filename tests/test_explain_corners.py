"""`octoplan explain` before any apply (issue 22): a number in any format, an e-mail in any
case, a live-chat conversation id, a recipient in an exclude list, one outside a campaign's
audience, one in a rollout cohort no stage has reached yet, and a recipient that is none of
these kinds. The real CLI, with a fresh SQLite state and no network."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.fixtures.project import MakeProject, run_cli

FILES = {
    "campaigns/promo.yaml": (
        'channel: sms\ntext: "Promo STOP au 30101"\ncontacts: [contacts/customers.csv]\n'
        "exclude: [contacts/optout.csv]\n"
    ),
    "campaigns/mail.yaml": "channel: email\ntext: Bonjour\nrecipients: [{email: Zoe@Example.fr}]\n",
    "campaigns/ramp.yaml": (
        'channel: sms\ntext: "Soldes STOP au 30101"\ncontacts: [contacts/customers.csv]\n'
        "rollout:\n  - percent: 50\n  - percent: 100\n    wait: 2h\n"
    ),
    "contacts/customers.csv": (
        "phone_number;prénom\r\n06 12 34 00 00;Zoé\r\n+33 6 12 34 00 01;René\r\n"
    ),
    "contacts/optout.csv": "phone_number\n0612340001\n",
}
NOTE = "Environment: default, https://api.octopush.com/v1/public (state .octoplan/state.db).\n"
NOT_MAIL = "mail (email, marketing; campaigns/mail.yaml): not a recipient\n" + (
    "    not in the campaign's recipients or contacts\n"
)
RAMP_WAITS = (
    "ramp (sms, marketing; campaigns/ramp.yaml): to send\n"
    "    in the cohort of rollout stage 1 (50%); none has started yet: "
    "sent by the apply that starts stage 1\n"
)


@pytest.fixture
def project(make_project: MakeProject) -> Path:
    return make_project(FILES, "region: FR\ndefaults: {sender: ShopX}\n")


def test_excluded_and_in_a_rollout_cohort(project: Path) -> None:
    result = run_cli("explain", "06.12.34.00.01", cwd=project)
    assert (result.returncode, result.stderr) == (0, NOTE)
    assert result.stdout == (
        "+33612340001\n\n" + NOT_MAIL + "\npromo (sms, marketing; campaigns/promo.yaml): excluded\n"
        "    in an exclude list (contacts/optout.csv)\n\n" + RAMP_WAITS
    )


def test_to_send_in_the_audience(project: Path) -> None:
    result = run_cli("explain", "0612340000", cwd=project)
    assert (result.returncode, result.stderr) == (0, NOTE)
    assert result.stdout == (
        "+33612340000\n\n" + NOT_MAIL + "\npromo (sms, marketing; campaigns/promo.yaml): to send\n"
        "    in the audience: the next apply sends it\n\n" + RAMP_WAITS
    )


def test_an_email_in_another_case(project: Path) -> None:
    result = run_cli("explain", "ZOE@example.FR", cwd=project)
    assert (result.returncode, result.stderr) == (0, NOTE)
    assert result.stdout == (
        "zoe@example.fr\n\n"
        "mail (email, marketing; campaigns/mail.yaml): to send\n"
        "    in the audience: the next apply sends it\n\n"
        "promo (sms, marketing; campaigns/promo.yaml): not a recipient\n"
        "    not in the campaign's recipients or contacts\n\n"
        "ramp (sms, marketing; campaigns/ramp.yaml): not a recipient\n"
        "    not in the campaign's recipients or contacts\n"
    )


def test_a_conversation_id_in_capitals(project: Path) -> None:
    result = run_cli("explain", " 00000000-0000-4000-8000-00000000000A ", cwd=project)
    assert (result.returncode, result.stderr) == (0, NOTE)
    assert result.stdout.startswith("00000000-0000-4000-8000-00000000000a\n\n" + NOT_MAIL)
    assert result.stdout.count(": not a recipient\n") == 3


def test_neither_number_nor_email_nor_conversation(project: Path) -> None:
    result = run_cli("explain", "12", cwd=project)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        "error: '12' is not a phone number (region FR), an e-mail address or a live-chat "
        "conversation id\n"
    )


SCHEDULED = (
    'channel: sms\ntext: "Soldes -20% STOP au 30101"\nsend_at: 2026-12-10T10:00:00+01:00\n'
    'recipients: [{phone_number: "06 12 34 00 00"}, {phone_number: "06 12 34 00 01"}]\n'
)


def test_stop_after_a_scheduled_send_that_has_not_gone_out(make_project: MakeProject) -> None:
    """The embedded sandbox: apply schedules, the number replies STOP, explain (which takes the
    sandbox's replies into the state) says the next apply cancels and resends without it."""
    root = make_project(
        {"campaigns/promo.yaml": SCHEDULED}, "region: FR\ndefaults: {sender: ShopX}\n"
    )
    env = {"OCTOPLAN_NOW": "2026-12-03T10:00:00+01:00"}
    assert run_cli("apply", "--sandbox", "--auto-approve", cwd=root, env=env).returncode == 0
    replied = run_cli("sandbox", "reply", "06 12 34 00 00", "STOP", cwd=root, env=env)
    assert (replied.returncode, replied.stdout) == (0, "")
    assert replied.stderr == f"reply recorded in {root / '.octoplan' / 'sandbox.db'}\n"

    result = run_cli("explain", "--sandbox", "0612340000", cwd=root, env=env)
    assert (result.returncode, result.stderr) == (
        0,
        "Environment: sandbox, the embedded local sandbox (state .octoplan/sandbox-state.db).\n",
    )
    found = re.fullmatch(
        r"\+33612340000\n"
        r"Opted out by STOP reply on 2026-12-03: no marketing send on sms, voice_sms or rcs "
        r"since\.\n\n"
        r"promo \(sms, marketing; campaigns/promo\.yaml\): sent\n"
        r"    sent 2026-12-03 09:00:00 UTC in request (op-[0-9a-f]{32}) \(ticket sms_[0-9a-f]+\), "
        r"scheduled for 2026-12-10T10:00:00\+01:00\n"
        r"    opted out by STOP reply on 2026-12-03: no later marketing send\n"
        r"    request (op-[0-9a-f]{32}) has not gone out yet: the next apply cancels it and sends "
        r"its other recipients again, without this number\n",
        result.stdout,
    )
    assert found is not None, result.stdout
    assert found[1] == found[2]


def test_json_format(project: Path) -> None:
    result = run_cli("explain", "--format=json", "ZOE@example.FR", cwd=project)
    assert (result.returncode, result.stderr) == (0, NOTE)

    def entry(campaign: str, channel: str, verdict: str, reason: str) -> dict[str, object]:
        return {
            "id": campaign,
            "channel": channel,
            "file": f"campaigns/{campaign}.yaml",
            "marketing": True,
            "verdict": verdict,
            "reasons": [reason],
            "requests": [],
            "delivery": None,
            "stops": [],
            "replies": 0,
        }

    outside = "not in the campaign's recipients or contacts"
    assert json.loads(result.stdout) == {
        "format_version": "1",
        "recipient": "zoe@example.fr",
        "opted_out": None,
        "campaigns": [
            entry("mail", "email", "to send", "in the audience: the next apply sends it"),
            entry("promo", "sms", "not a recipient", outside),
            entry("ramp", "sms", "not a recipient", outside),
        ],
        "environment": {
            "name": "default",
            "api_url": "https://api.octopush.com/v1/public",
            "sandbox": False,
            "local": False,
        },
    }
