"""`octoplan validate` on rarer mistakes: a send_at whose hour or minute does not exist, and a
bare name in a template that is no column of any recipient."""

from __future__ import annotations

import pytest

from tests.fixtures.project import MakeProject, run_cli

HINT = "  hint: write it like 2026-12-04T10:00:00+01:00\n"


@pytest.mark.parametrize(
    ("send_at", "why"),
    [
        ("2026-12-01T25:00:00+01:00", "there is no hour 25"),
        ("2026-12-01T10:61:00+01:00", "there is no minute 61"),
    ],
)
def test_a_send_at_whose_time_does_not_exist_is_named(
    make_project: MakeProject, send_at: str, why: str
) -> None:
    campaign = (
        f'channel: sms\npurpose: alert\ntext: "Hi"\nsend_at: {send_at}\n'
        'recipients: [{phone_number: "0612345678"}]\n'
    )
    root = make_project({"campaigns/c.yaml": campaign}, "region: FR\n")
    result = run_cli("validate", cwd=root)
    assert (result.returncode, result.stdout, result.stderr) == (
        1,
        "",
        f"campaigns/c.yaml:4:10: error: send_at '{send_at}' is not a valid date: {why}\n"
        + HINT
        + "1 error in 1 file\n",
    )


def test_a_bare_name_that_is_no_column_gets_no_contact_hint(make_project: MakeProject) -> None:
    campaign = (
        'channel: sms\npurpose: alert\ntext: "Hi {{ first_name }}"\n'
        'recipients: [{phone_number: "0612345678"}]\n'
    )
    root = make_project({"campaigns/c.yaml": campaign}, "region: FR\n")
    result = run_cli("validate", cwd=root)
    # Not "did you mean contact.first_name?": no recipient has that field.
    assert (result.returncode, result.stdout, result.stderr) == (
        1,
        "",
        "campaigns/c.yaml:3:14: error: campaign c, recipient +33612345678 (campaigns/c.yaml:4): "
        "'first_name' is undefined\n"
        "  hint: test it ({% if first_name %}...{% endif %}) or give it a default "
        "({{ first_name | default('') }})\n"
        "1 error in 1 file\n",
    )
