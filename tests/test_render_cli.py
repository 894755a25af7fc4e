from __future__ import annotations

import json

from tests.fixtures.project import MakeProject, run_cli

CAMPAIGN = (
    "channel: sms\npurpose: alert\n"
    "text: \"Bonjour {{ contact.first_name | default('') }}, code {{ contact.code }}\"\n"
    "contacts: [contacts/c.csv]\n"
)
CONTACTS = (
    "phone_number;first_name;code\n06 12 34 56 78;Axelle;A1\n06 98 76 54 32;;B2\n"
    "0611111111;Lou;C3\n"
)


def project(make_project: MakeProject, campaign: str = CAMPAIGN, contacts: str = CONTACTS):  # type: ignore[no-untyped-def]
    return make_project({"campaigns/promo.yaml": campaign, "contacts/c.csv": contacts})


def test_render_text_shows_every_message(make_project: MakeProject) -> None:
    result = run_cli("render", "promo", "--limit", "2", cwd=project(make_project))
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        "# +33612345678 (1 SMS part, GSM-7)\nBonjour Axelle, code A1\n\n"
        "# +33698765432 (1 SMS part, GSM-7)\nBonjour , code B2\n"
    )
    assert result.stderr == (
        "campaigns/promo.yaml:3:7: warning: campaign promo: 1 of 3 messages look like a field "
        "printed empty (e.g. +33698765432: 'Bonjour , code B2')\n"
        "  hint: give the field a default: {{ contact.first_name | default('') }} and adjust "
        "the punctuation, or test it with {% if %}\n"
    )


def test_render_json_for_one_recipient_given_in_national_format(make_project: MakeProject) -> None:
    root = project(make_project)
    result = run_cli("render", "promo", "-r", "06.11.11.11.11", "--format", "json", cwd=root)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [
        {
            "recipient": "+33611111111",
            "text": "Bonjour Lou, code C3",
            "encoding": "GSM-7",
            "segments": 1,
            "cost": 0.045,
        }
    ]


def test_render_unknown_recipient_and_campaign(make_project: MakeProject) -> None:
    root = project(make_project)
    result = run_cli("-q", "render", "promo", "-r", "0699999999", cwd=root)
    assert (result.returncode, result.stderr) == (
        1,
        "error: campaign promo has no recipient 0699999999\n",
    )
    result = run_cli("render", "nope", cwd=root)
    assert (result.returncode, result.stderr) == (
        1,
        "error: no campaign with id 'nope'; known: promo\n",
    )


def test_render_reports_template_errors_without_traceback(make_project: MakeProject) -> None:
    contacts = "phone_number,first_name\n0612345678,Axelle\n"
    result = run_cli("render", "promo", cwd=project(make_project, contacts=contacts))
    assert result.returncode == 1
    assert result.stderr == (
        "campaigns/promo.yaml:3:64: error: campaign promo, recipient +33612345678 "
        "(contacts/c.csv:2): contact.code is undefined: there is no column 'code' in "
        "contacts/c.csv\n"
        "  hint: add a code column to contacts/c.csv, test it ({% if contact.code %}...{% endif "
        "%}), or give it a default ({{ contact.code | default('') }})\n"
    )


def test_validate_renders_every_message(make_project: MakeProject) -> None:
    contacts = "phone_number,first_name\n0612345678,Axelle\n06 12 34 56 7,Bob\n"
    result = run_cli("validate", cwd=project(make_project, contacts=contacts))
    assert result.returncode == 1
    assert result.stderr == (
        "contacts/c.csv:3:1: error: '06 12 34 56 7' is not a valid phone number for region FR\n"
        "campaigns/promo.yaml:3:64: error: campaign promo, recipient +33612345678 "
        "(contacts/c.csv:2): contact.code is undefined: there is no column 'code' in "
        "contacts/c.csv\n"
        "  hint: add a code column to contacts/c.csv, test it ({% if contact.code %}...{% endif "
        "%}), or give it a default ({{ contact.code | default('') }})\n"
        "2 errors in 2 files\n"
    )


def test_render_of_an_email_says_nothing_about_sms_parts(make_project: MakeProject) -> None:
    campaign = (
        'channel: email\npurpose: alert\ntext: "Bonjour {{ contact.first_name }} 😀"\n'
        "recipients: [{email: axelle@example.com, first_name: Axelle}]\n"
        "metadata: {email_from: news@shopx.example, subject: Hi, name_from: ShopX}\n"
    )
    result = run_cli("render", "promo", cwd=make_project({"campaigns/promo.yaml": campaign}))
    assert result.returncode == 0, result.stderr
    assert result.stdout == "# axelle@example.com\nBonjour Axelle 😀\n"


def test_render_a_recipient_that_is_no_identity_matches_nobody(make_project: MakeProject) -> None:
    root = project(make_project)
    for given, shown in (
        ("axelle@example.com", "axelle@example.com"),  # an e-mail for an SMS campaign
        ("  not a number ", "not a number"),
    ):
        result = run_cli("-q", "render", "promo", "-r", given, cwd=root)
        assert (result.returncode, result.stdout, result.stderr) == (
            1,
            "",
            f"error: campaign promo has no recipient {shown}\n",
        )
