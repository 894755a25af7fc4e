"""YAML syntax errors told in plain words (octoplan/yamlerrors.py), through `octoplan validate`:
a key indented like no line above it (blank and comment lines skipped), an unknown escape in a
double-quoted text, and a bracket that closes nothing."""

from __future__ import annotations

import pytest

from tests.fixtures.project import MakeProject, run_cli

CONFIG = "region: FR\ndefaults: {sender: ShopX}\n"


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (
            'channel: sms\n\n# the text\n      text: "Hi"\n',
            "campaigns/c.yaml:4:7: error: YAML syntax error: 'text' is indented by 6 spaces, "
            "like no line above it\n"
            "  hint: indent it like the keys it belongs with (by 0 spaces)\n",
        ),
        (
            'channel: sms\ntext: "Hi \\q there"\n',
            "campaigns/c.yaml:2:12: error: YAML syntax error: unknown escape \\q in a "
            "double-quoted text\n"
            "  hint: write \\\\ for a backslash, or quote the text with ' instead of \"\n",
        ),
        (
            "channel: sms\ntext: Hi\n]\n",
            "campaigns/c.yaml:3:1: error: YAML syntax error: this ']' closes nothing\n"
            "  hint: remove it\n",
        ),
        (
            'channel: sms\nrecipients: [{phone_number: "0612345678"}]]\n',
            "campaigns/c.yaml:2:43: error: YAML syntax error: this ']' closes nothing\n"
            "  hint: remove it\n",
        ),
    ],
    ids=["indent", "escape", "bracket-alone", "bracket-after-list"],
)
def test_a_yaml_syntax_error_is_told_in_plain_words(
    make_project: MakeProject, text: str, error: str
) -> None:
    root = make_project({"campaigns/c.yaml": text}, CONFIG)
    result = run_cli("validate", cwd=root)
    assert (result.returncode, result.stdout, result.stderr) == (
        1,
        "",
        error + "1 error in 1 file\n",
    )
