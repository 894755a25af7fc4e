"""The mistakes a newcomer makes, each told in plain words at the culprit (issue 19).

Every case runs `octoplan validate` on one campaign file and compares the whole output. The
README's "Common mistakes" section quotes some of these messages; test_readme_mistakes.py
holds it to what the CLI prints.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.fixtures.project import MakeProject, run_cli

SMS = 'channel: sms\npurpose: alert\ntext: "Bonjour {{ contact.first_name }}"\n'
CONTACTS = "phone_number,first_name,city\n+33612345678,Axelle,Paris\n+33612345679,Bruno,\n"
FILES = {
    "templates/promo.sms.j2": "Bonjour {{ contact.first_name }}",
    "contacts/customers.csv": CONTACTS,
}


def validate(
    make_project: MakeProject, campaign: str, files: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    root = make_project({**FILES, **(files or {}), "campaigns/promo.yaml": campaign})
    return run_cli("validate", cwd=root)


def errors_of(make_project: MakeProject, campaign: str, files: dict[str, str] | None = None) -> str:
    result = validate(make_project, campaign, files)
    assert result.returncode == 1
    assert result.stdout == ""
    return result.stderr


def test_an_unclosed_bracket_is_reported_where_it_opens(make_project: MakeProject) -> None:
    campaign = SMS + "contacts: [contacts/customers.csv\nbatch_size: 100\n"
    assert errors_of(make_project, campaign) == (
        "campaigns/promo.yaml:4:11: error: YAML syntax error: this '[' is never closed\n"
        "  hint: end the list with ']' on the same line, e.g. contacts: "
        "[contacts/customers.csv]\n"
        "1 error in 1 file\n"
    )


def test_an_unclosed_bracket_on_the_last_line(make_project: MakeProject) -> None:
    campaign = SMS + "contacts: [contacts/customers.csv\n"
    assert errors_of(make_project, campaign).startswith(
        "campaigns/promo.yaml:4:11: error: YAML syntax error: this '[' is never closed\n"
    )


def test_a_child_key_that_lost_its_indentation(make_project: MakeProject) -> None:
    campaign = SMS + "vars:\ndiscount: 30\ncontacts: [contacts/customers.csv]\n"
    assert errors_of(make_project, campaign) == (
        "campaigns/promo.yaml:5:1: error: unknown key 'discount' right after an empty 'vars:'\n"
        "  hint: did you mean to indent `discount` under `vars`?\n"
        "1 error in 1 file\n"
    )


def test_lost_indentation_in_octoplan_yaml_too(make_project: MakeProject) -> None:
    root = make_project(
        {**FILES, "campaigns/promo.yaml": SMS + "contacts: [contacts/customers.csv]\n"},
        config="region: FR\npolicies:\n  marketing_hours:\n  timezone: Europe/Paris\n",
    )
    result = run_cli("validate", cwd=root)
    assert result.stderr == (
        "octoplan.yaml:4:3: error: unknown key 'timezone' right after an empty "
        "'marketing_hours:'\n"
        "  hint: did you mean to indent `timezone` under `marketing_hours`?\n"
        "1 error in 1 file\n"
    )


def test_an_empty_mapping_is_reported_at_its_key(make_project: MakeProject) -> None:
    campaign = SMS + "contacts: [contacts/customers.csv]\nmetadata:\n"
    assert errors_of(make_project, campaign) == (
        "campaigns/promo.yaml:5:1: error: metadata must be a mapping (got null)\n"
        "  hint: `metadata:` is empty: indent its entries under it, or remove the line\n"
        "1 error in 1 file\n"
    )


@pytest.mark.parametrize(
    ("mistake", "expected"),
    [
        (
            'text: "Bonjour\nrecipients: [{phone_number: "+33612345678"}]\n',
            '4:7: error: YAML syntax error: this " is never closed on its line\n  hint: end the '
            'text with " on the same line, or write several lines as a block (text: |)',
        ),
        (
            "text: Bonjour: -30%\n",
            "4:14: error: YAML syntax error: a value holding ': ' must be quoted\n  hint: quote "
            'the value: text: "Bonjour: -30%"',
        ),
        (
            "text: {{ contact.first_name }}, bonjour\n",
            "4:7: error: YAML syntax error: a Jinja text must be quoted: YAML reads a value "
            "starting with '{' as a mapping\n  hint: quote it: text: \"{{ contact.first_name }}, "
            'bonjour"',
        ),
        (
            "text: {{ contact.first_name }}\n",
            "4:7: error: YAML syntax error: a Jinja text must be quoted: YAML reads a value "
            "starting with '{' as a mapping\n  hint: quote it: text: \"{{ contact.first_name "
            '}}"',
        ),
        (
            "batch_size 100\n",
            "4:1: error: YAML syntax error: this line is not `key: value`: the ':' is missing\n"
            "  hint: write it as batch_size: 100",
        ),
        (
            "vars:\n    discount: 30\n  brand: X\n",
            "6:3: error: YAML syntax error: 'brand' is indented by 2 spaces, like no line above "
            "it\n  hint: indent it like the keys it belongs with (by 0 or 4 spaces)",
        ),
        (
            "- {phone_number: '+33612345678'}\n",
            "4:1: error: YAML syntax error: a list item ('- ') where a key was expected\n"
            "  hint: indent the list under the key it belongs to (recipients:, contacts:...)",
        ),
    ],
    ids=[
        "open-quote",
        "colon-in-value",
        "jinja-unquoted",
        "jinja-alone",
        "no-colon",
        "indent",
        "stray-item",
    ],
)
def test_yaml_syntax_errors_in_plain_words(
    make_project: MakeProject, mistake: str, expected: str
) -> None:
    campaign = "channel: sms\npurpose: alert\nid: promo\n" + mistake
    output = errors_of(make_project, campaign)
    assert output == f"campaigns/promo.yaml:{expected}\n1 error in 1 file\n"
    for jargon in ("<block end>", "<scalar>", "<stream end>", "while parsing", "while scanning"):
        assert jargon not in output


def test_an_empty_recipients_list_is_reported_at_its_line(make_project: MakeProject) -> None:
    campaign = SMS + "\n\nrecipients: []\n"
    assert errors_of(make_project, campaign) == (
        "campaigns/promo.yaml:6:1: error: campaign has no recipients\n"
        "  hint: add recipients: (inline) or contacts: [contacts/<file>.csv]\n"
        "1 error in 1 file\n"
    )


@pytest.mark.parametrize(
    ("send_at", "reason"),
    [
        ("2026-13-45T10:00:00+01:00", "there is no month 13"),
        ("2027-02-29T10:00:00+01:00", "February 2027 has 28 days, not 29"),
        ("2026-12-04T24:30:00+01:00", "there is no hour 24"),
    ],
)
def test_an_impossible_send_at_says_the_date_is_invalid(
    make_project: MakeProject, send_at: str, reason: str
) -> None:
    campaign = SMS + f"send_at: {send_at}\ncontacts: [contacts/customers.csv]\n"
    assert errors_of(make_project, campaign) == (
        f"campaigns/promo.yaml:4:10: error: send_at '{send_at}' is not a valid date: {reason}\n"
        "  hint: write it like 2026-12-04T10:00:00+01:00\n"
        "1 error in 1 file\n"
    )


@pytest.mark.parametrize(
    ("field", "value", "hint"),
    [
        (
            "purpose",
            "marketing",
            "did you mean 'wholesale'? (the Octopush API calls marketing messages wholesale)",
        ),
        (
            "purpose",
            "transactional",
            "did you mean 'alert'? (the Octopush API calls transactional messages alert)",
        ),
        ("channel", "voice", "did you mean 'voice_sms'? (the voice channel reads a text aloud)"),
    ],
)
def test_enumeration_values_get_a_did_you_mean(
    make_project: MakeProject, field: str, value: str, hint: str
) -> None:
    campaign = (
        f"{field}: {value}\n"
        + "".join(line + "\n" for line in SMS.splitlines() if not line.startswith(field))
        + "contacts: [contacts/customers.csv]\n"
    )
    output = errors_of(make_project, campaign)
    assert output.splitlines()[1] == f"  hint: {hint}"


def test_a_template_path_with_the_templates_prefix(make_project: MakeProject) -> None:
    campaign = (
        "channel: sms\npurpose: alert\ntemplate: templates/promo.sms.j2\n"
        "contacts: [contacts/customers.csv]\n"
    )
    assert errors_of(make_project, campaign) == (
        "campaigns/promo.yaml:3:11: error: template 'templates/promo.sms.j2' not found in "
        "templates/\n"
        "  hint: did you mean 'promo.sms.j2'? (template names are relative to templates/)\n"
        "1 error in 1 file\n"
    )


def test_contact_files_get_a_did_you_mean(make_project: MakeProject) -> None:
    campaign = SMS + "contacts: [customers.csv, contacts/custmers.csv, contacts/nope.csv]\n"
    assert errors_of(make_project, campaign) == (
        "campaigns/promo.yaml:4:12: error: contacts file 'customers.csv' not found\n"
        "  hint: did you mean 'contacts/customers.csv'? (paths are relative to the project)\n"
        "campaigns/promo.yaml:4:27: error: contacts file 'contacts/custmers.csv' not found\n"
        "  hint: did you mean 'contacts/customers.csv'? (paths are relative to the project)\n"
        "campaigns/promo.yaml:4:50: error: contacts file 'contacts/nope.csv' not found\n"
        "3 errors in 1 file\n"
    )


def campaign_with(text: str) -> str:
    return (
        f'channel: sms\npurpose: alert\ntext: "{text}"\nvars: {{discount: 30}}\n'
        "contacts: [contacts/customers.csv]\n"
    )


def test_a_misspelt_contact_field_gets_a_did_you_mean_from_the_columns(
    make_project: MakeProject,
) -> None:
    output = errors_of(make_project, campaign_with("Bonjour {{ contact.frist_name }} !"))
    assert output == (
        "campaigns/promo.yaml:3:19: error: campaign promo, recipient +33612345678 "
        "(contacts/customers.csv:2): contact.frist_name is undefined: there is no column "
        "'frist_name' in contacts/customers.csv (and 1 other recipient)\n"
        "  hint: did you mean contact.first_name?\n"
        "1 error in 1 file\n"
    )
    assert "default(" not in output


def test_the_did_you_mean_comes_from_the_columns_actually_present(
    make_project: MakeProject,
) -> None:
    output = errors_of(
        make_project,
        campaign_with("{{ contact.prenom }}"),
        {"contacts/customers.csv": "phone_number,prenom2,city\n+33612345678,Axelle,Paris\n"},
    )
    assert "  hint: did you mean contact.prenom2?\n" in output


def test_a_misspelt_var_gets_a_did_you_mean(make_project: MakeProject) -> None:
    assert errors_of(make_project, campaign_with("-{{ vars.discont }}%")) == (
        "campaigns/promo.yaml:3:12: error: campaign promo, recipient +33612345678 "
        "(contacts/customers.csv:2): vars.discont is undefined (and 1 other recipient)\n"
        "  hint: did you mean vars.discount?\n"
        "1 error in 1 file\n"
    )


def test_a_field_printed_without_contact(make_project: MakeProject) -> None:
    assert errors_of(make_project, campaign_with("Bonjour {{ first_name }}")) == (
        "campaigns/promo.yaml:3:19: error: campaign promo, recipient +33612345678 "
        "(contacts/customers.csv:2): 'first_name' is undefined (and 1 other recipient)\n"
        "  hint: did you mean contact.first_name?\n"
        "1 error in 1 file\n"
    )


def test_an_empty_cell_is_told_apart_from_a_missing_column(make_project: MakeProject) -> None:
    assert errors_of(make_project, campaign_with("A {{ contact.city }}")) == (
        "campaigns/promo.yaml:3:13: error: campaign promo, recipient +33612345679 "
        "(contacts/customers.csv:3): contact.city is empty: this row's city cell is empty\n"
        "  hint: test it ({% if contact.city %}...{% endif %}) or give it a default "
        "({{ contact.city | default('') }})\n"
        "1 error in 1 file\n"
    )
    assert errors_of(make_project, campaign_with("A {{ contact.town }}")) == (
        "campaigns/promo.yaml:3:13: error: campaign promo, recipient +33612345678 "
        "(contacts/customers.csv:2): contact.town is undefined: there is no column 'town' in "
        "contacts/customers.csv (and 1 other recipient)\n"
        "  hint: add a town column to contacts/customers.csv, test it ({% if contact.town %}..."
        "{% endif %}), or give it a default ({{ contact.town | default('') }})\n"
        "1 error in 1 file\n"
    )


def test_an_unknown_filter_is_positioned_with_a_did_you_mean(make_project: MakeProject) -> None:
    campaign = (
        "channel: sms\npurpose: alert\ntemplate: promo.sms.j2\ncontacts: [contacts/customers.csv]\n"
    )
    template = "Bonjour\n{{ contact.first_name | upperr }} !"
    assert errors_of(make_project, campaign, {"templates/promo.sms.j2": template}) == (
        "templates/promo.sms.j2:2:25: error: unknown filter 'upperr'\n"
        "  hint: did you mean 'upper'?\n"
        "1 error in 1 file\n"
    )


def test_a_header_without_the_identity_column_is_one_error_with_a_did_you_mean(
    make_project: MakeProject,
) -> None:
    rows = "".join(f"06123456{i:02d},Axelle\n" for i in range(30))
    campaign = SMS + "contacts: [contacts/customers.csv]\n"
    output = errors_of(
        make_project, campaign, {"contacts/customers.csv": "phone,first_name\n" + rows}
    )
    assert output == (
        "contacts/customers.csv:1:1: error: the header has no phone_number column (needed for "
        "channel sms)\n"
        "  hint: rename the column 'phone' to phone_number\n"
        "1 error in 1 file\n"
    )


def test_a_header_with_no_likely_identity_column_lists_the_columns(
    make_project: MakeProject,
) -> None:
    campaign = SMS.replace("channel: sms", "channel: email") + "contacts: [contacts/c.csv]\n"
    output = errors_of(make_project, campaign, {"contacts/c.csv": "name;city\nA;Paris\nB;Lyon\n"})
    assert output == (
        "contacts/c.csv:1: error: the header has no email column (needed for channel email)\n"
        "  hint: the columns are: name, city\n"
        "1 error in 1 file\n"
    )


BAD_ROWS = "phone_number,first_name\n" + "".join(
    f"{'06 12' if i % 2 else f'061234{i:04d}'},N{i}\n" for i in range(60)
)


def test_error_counts_stay_right_when_the_list_is_cut(make_project: MakeProject) -> None:
    campaign = SMS + "contacts: [contacts/customers.csv]\n"
    output = errors_of(make_project, campaign, {"contacts/customers.csv": BAD_ROWS})
    lines = output.splitlines()
    assert lines[0] == (
        "contacts/customers.csv:3:1: error: '06 12' is not a valid phone number for region FR"
    )
    assert lines[-2:] == [
        "contacts/customers.csv: error: 10 more errors in this file not shown",
        "30 errors in 1 file (10 not shown)",
    ]


def test_on_invalid_skip_leaves_invalid_contacts_out_with_a_count(
    make_project: MakeProject,
) -> None:
    campaign = SMS + "contacts: [contacts/customers.csv]\non_invalid: skip\n"
    root = make_project(
        {**FILES, "contacts/customers.csv": BAD_ROWS, "campaigns/promo.yaml": campaign}
    )
    result = run_cli("validate", cwd=root)
    assert result.returncode == 0, result.stderr
    assert result.stderr == (
        "contacts/customers.csv:3:1: warning: campaign promo: 30 invalid contacts skipped "
        "(on_invalid: skip), e.g. '06 12' is not a valid phone number for region FR\n"
        "  hint: lines 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, ...\n"
    )
    assert result.stdout == "1 campaign valid, 1 warning\n"
    plan = run_cli("plan", "--format", "json", cwd=root)
    assert plan.returncode == 0, plan.stderr
    assert json.loads(plan.stdout)["summary"]["messages_to_send"] == 30


def test_on_invalid_is_off_by_default_and_never_hides_a_file_error(
    make_project: MakeProject,
) -> None:
    campaign = SMS + "contacts: [contacts/customers.csv]\non_invalid: skip\n"
    output = errors_of(
        make_project, campaign, {"contacts/customers.csv": "phone,first_name\n0612345678,A\n"}
    )
    assert output.startswith(
        "contacts/customers.csv:1:1: error: the header has no phone_number column"
    )
