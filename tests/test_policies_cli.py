"""Warnings of the message checks (octoplan/policies.py) through `octoplan validate` and
`plan`: recipients in a region the project gives no price for, and messages that are empty."""

from __future__ import annotations

from tests.fixtures.project import MakeProject, run_cli

NOTICE = (
    'channel: sms\npurpose: alert\ntext: "Code {{ contact.code }}"\ncontacts: [contacts/c.csv]\n'
)
CONTACTS = "phone_number,code\n0612345678,A1\n+32470123456,B2\n+32470123457,B3\n"


def test_recipients_in_a_region_without_a_price_are_a_warning_and_left_out_of_the_cost(
    make_project: MakeProject,
) -> None:
    root = make_project(
        {"campaigns/notice.yaml": NOTICE, "contacts/c.csv": CONTACTS},
        "region: FR\npricing: {sms: {FR: 0.05}}\n",  # no BE, no default
    )
    warning = (
        "campaigns/notice.yaml:3:7: warning: campaign notice: no price for sms to BE: "
        "2 messages not counted in the cost estimate\n"
        "  hint: add pricing.sms.BE or pricing.sms.default to octoplan.yaml\n"
    )
    validated = run_cli("validate", cwd=root)
    assert (validated.returncode, validated.stdout, validated.stderr) == (
        0,
        "1 campaign valid, 1 warning\n",
        warning,
    )
    planned = run_cli("plan", cwd=root)
    assert planned.returncode == 0, planned.stderr
    assert planned.stdout.splitlines()[-1] == (
        "Plan: 3 messages to send in 1 request, 3 SMS parts, est. 0.05 EUR; 0 already sent."
    )
    # A default price covers every region the table does not name.
    (root / "octoplan.yaml").write_text("region: FR\npricing: {sms: {FR: 0.05, default: 0.1}}\n")
    priced = run_cli("plan", cwd=root)
    assert priced.stdout.splitlines()[-1] == (
        "Plan: 3 messages to send in 1 request, 3 SMS parts, est. 0.25 EUR; 0 already sent."
    )
    assert "no price" not in priced.stdout + priced.stderr


def test_messages_that_render_blank_are_an_error_naming_one(make_project: MakeProject) -> None:
    blank = (
        "channel: sms\npurpose: alert\ntext: \"{{ contact.code | default(' ') }}\"\n"
        "contacts: [contacts/c.csv]\n"
    )
    root = make_project(
        {
            "campaigns/notice.yaml": blank,
            "contacts/c.csv": "phone_number,code\n0612345678,A1\n0612345679,\n0612345670,\n",
        }
    )
    validated = run_cli("validate", cwd=root)
    assert (validated.returncode, validated.stdout, validated.stderr) == (
        1,
        "",
        "campaigns/notice.yaml:3:7: error: campaign notice: 2 of 3 messages are empty "
        "(e.g. +33612345679)\n1 error in 1 file\n",
    )


def test_a_two_part_sms_from_yaml_is_priced_and_counted_by_its_parts(
    make_project: MakeProject,
) -> None:
    """The channel is a string read from YAML, not the literal "sms" of the code: compared by
    value, never by identity (an `is "sms"` would price each message as one part)."""
    long_text = "Rappel: " + "votre rendez-vous de demain est confirme. " * 4  # 176 GSM-7 chars
    campaign = (
        f'channel: sms\npurpose: alert\ntext: "{long_text}{{{{ contact.code }}}}"\n'
        "contacts: [contacts/c.csv]\n"
    )
    root = make_project(
        {
            "campaigns/notice.yaml": campaign,
            "contacts/c.csv": "phone_number,code\n0612345678,A1\n0612345679,B2\n",
        },
        "region: FR\npricing: {sms: {FR: 0.05}}\n",
    )
    planned = run_cli("plan", cwd=root)
    assert planned.returncode == 0, planned.stderr
    assert planned.stdout.splitlines()[-1] == (
        "Plan: 2 messages to send in 1 request, 4 SMS parts, est. 0.20 EUR; 0 already sent."
    )
    # Parts over policies.max_segments: a warning naming the first such message.
    (root / "octoplan.yaml").write_text("region: FR\npolicies: {max_segments: 1}\n")
    validated = run_cli("validate", cwd=root)
    assert (validated.returncode, validated.stdout, validated.stderr) == (
        0,
        "1 campaign valid, 1 warning\n",
        "campaigns/notice.yaml:3:7: warning: campaign notice: 2 of 2 messages need more than "
        "1 SMS parts (e.g. +33612345678: 2 parts)\n"
        "  hint: shorten the text or raise policies.max_segments\n",
    )


def test_a_field_printed_empty_in_a_merged_group_is_a_warning(make_project: MakeProject) -> None:
    """A default('') lets a contact through with an empty first_name: its group's texts are
    searched for the look of a field printed empty (' ,'), and one is found."""
    campaign = (
        "channel: sms\npurpose: alert\n"
        "text: \"Bonjour {{ contact.first_name | default('') }}, votre code {{ contact.code }}\"\n"
        "contacts: [contacts/c.csv]\n"
    )
    root = make_project(
        {
            "campaigns/notice.yaml": campaign,
            "contacts/c.csv": (
                "phone_number,first_name,code\n"
                "0612345678,Ann,A1\n0612345679,,B2\n0612345670,Bob,C3\n"
            ),
        }
    )
    validated = run_cli("validate", cwd=root)
    assert (validated.returncode, validated.stdout, validated.stderr) == (
        0,
        "1 campaign valid, 1 warning\n",
        "campaigns/notice.yaml:3:7: warning: campaign notice: 1 of 3 messages look like a field "
        "printed empty (e.g. +33612345679: 'Bonjour , votre code B2')\n"
        "  hint: give the field a default: {{ contact.first_name | default('') }} and adjust "
        "the punctuation, or test it with {% if %}\n",
    )


def test_a_text_over_the_api_limit_is_an_error_even_when_its_parts_are_allowed(
    make_project: MakeProject,
) -> None:
    """policies.max_segments raised to 20: 11 parts are allowed, 1,614 characters are still
    over what the API takes. The merged group's check must look at the length itself."""
    campaign = (
        f'channel: sms\npurpose: alert\ntext: "{"Votre commande est prete. " * 62}'
        '{{ contact.code }}"\ncontacts: [contacts/c.csv]\n'
    )
    root = make_project(
        {"campaigns/notice.yaml": campaign, "contacts/c.csv": CONTACTS},
        "region: FR\npolicies: {max_segments: 20}\n",
    )
    validated = run_cli("validate", cwd=root)
    assert (validated.returncode, validated.stdout, validated.stderr) == (
        1,
        "",
        "campaigns/notice.yaml:3:7: error: campaign notice: 3 of 3 messages exceed the API's "
        "1224 characters (e.g. +33612345678: 1,614 characters)\n1 error in 1 file\n",
    )


def test_a_merged_marketing_sms_without_the_stop_mention_is_an_error(
    make_project: MakeProject,
) -> None:
    """Contacts merged into one request text are checked as a group: the opt-out mention is
    looked for in the group's texts, and its absence is the same error as for one message."""
    campaign = (
        'channel: sms\npurpose: wholesale\ntext: "Promo -20% code {{ contact.code }}"\n'
        "contacts: [contacts/c.csv]\n"
    )
    root = make_project({"campaigns/notice.yaml": campaign, "contacts/c.csv": CONTACTS})
    validated = run_cli("validate", cwd=root)
    assert (validated.returncode, validated.stdout, validated.stderr) == (
        1,
        "",
        "campaigns/notice.yaml:3:7: error: campaign notice: marketing SMS must contain "
        "'STOP au 30101': missing in 3 of 3 messages (e.g. +33612345678)\n"
        "  hint: add 'STOP au 30101' to the text, or set purpose: alert if these messages "
        "are transactional\n1 error in 1 file\n",
    )
    stopped = campaign.replace("{{ contact.code }}", "{{ contact.code }} STOP au 30101")
    (root / "campaigns/notice.yaml").write_text(stopped)
    validated = run_cli("validate", cwd=root)
    assert (validated.returncode, validated.stdout, validated.stderr) == (
        0,
        "1 campaign valid\n",
        "",
    )


def test_unpriced_messages_checked_one_by_one_are_counted_once_each(
    make_project: MakeProject,
) -> None:
    """The euro sign takes two septets: such texts are checked one message at a time (not as a
    merged group), and each message to BE, which has no price, is counted once."""
    campaign = NOTICE.replace('"Code ', '"Votre remise 5€, code ')
    root = make_project(
        {"campaigns/notice.yaml": campaign, "contacts/c.csv": CONTACTS},
        "region: FR\npricing: {sms: {FR: 0.05}}\n",
    )
    validated = run_cli("validate", cwd=root)
    assert (validated.returncode, validated.stdout, validated.stderr) == (
        0,
        "1 campaign valid, 1 warning\n",
        "campaigns/notice.yaml:3:7: warning: campaign notice: no price for sms to BE: "
        "2 messages not counted in the cost estimate\n"
        "  hint: add pricing.sms.BE or pricing.sms.default to octoplan.yaml\n",
    )


def test_voice_sms_messages_are_priced_one_each_by_destination(make_project: MakeProject) -> None:
    """A voice SMS has no parts: one price per message, from one region (all French) or
    several (French and Belgian, each at its own price)."""
    campaign = (
        'channel: voice_sms\npurpose: alert\ntext: "Votre code est {{ contact.code }}"\n'
        "contacts: [contacts/c.csv]\n"
    )
    french = "phone_number,code\n0612345678,A1\n0612345679,B2\n"
    root = make_project({"campaigns/notice.yaml": campaign, "contacts/c.csv": french})
    planned = run_cli("plan", cwd=root)
    assert (planned.returncode, planned.stdout.splitlines()[-1]) == (
        0,
        "Plan: 2 messages to send in 2 requests, est. 0.10 EUR; 0 already sent.",
    )
    (root / "contacts/c.csv").write_text(french + "+32470123456,C3\n")
    planned = run_cli("plan", cwd=root)
    assert (planned.returncode, planned.stdout.splitlines()[-1]) == (
        0,
        "Plan: 3 messages to send in 3 requests, est. 0.18 EUR; 0 already sent.",
    )


def test_a_marketing_rcs_message_needs_no_stop_mention(make_project: MakeProject) -> None:
    """The opt-out mention is the SMS rule only: a marketing RCS message without it is valid,
    checked one by one (the euro sign takes two septets) or merged."""
    campaign = (
        'channel: rcs\npurpose: wholesale\ntext: "Promo -5€ code {{ contact.code }}"\n'
        "contacts: [contacts/c.csv]\n"
    )
    contacts = "phone_number,code\n0612345678,A1\n0612345679,B2\n"
    root = make_project({"campaigns/notice.yaml": campaign, "contacts/c.csv": contacts})
    validated = run_cli("validate", cwd=root)
    assert (validated.returncode, validated.stdout, validated.stderr) == (
        0,
        "1 campaign valid\n",
        "",
    )
    (root / "campaigns/notice.yaml").write_text(campaign.replace("-5€", "-20%"))
    validated = run_cli("validate", cwd=root)
    assert (validated.returncode, validated.stdout, validated.stderr) == (
        0,
        "1 campaign valid\n",
        "",
    )
