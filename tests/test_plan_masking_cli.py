"""Personal data a template prints is masked in every plan output (SPEC section 6).

A template printing `{{ contact.phone_number }}`, a raw national number and an e-mail address:
the text plan, `--format json`, the Markdown PR comment, the saved plan file and the plan
`apply` shows carry none of them in clear. `render` is the author's local per-recipient
preview and keeps them (README, "Decisions where the SPEC is silent").
"""

from __future__ import annotations

from pathlib import Path

from octoplan.sandbox import SandboxServer
from tests.fixtures.project import MakeProject, run_cli

CLEAR = ("612345678", "6 12 34 56 78", "axelle.durand@example.com", "durand@example")
TEMPLATE = (
    "Bonjour {{ contact.first_name | default('client') }}, votre ligne {{ contact.phone_number }} "
    "(fixe {{ contact.landline }}) et {{ contact.mail }} sont à jour."
)


def _project(make_project: MakeProject) -> Path:
    return make_project(
        {
            "campaigns/notice.yaml": (
                f'channel: sms\npurpose: alert\ntext: "{TEMPLATE}"\ncontacts: [contacts/c.csv]\n'
            ),
            # The second contact has no first name: a render error, which names its number.
            "campaigns/broken.yaml": (
                "channel: sms\npurpose: alert\n"
                'text: "Bonjour {{ contact.first_name }}"\ncontacts: [contacts/c.csv]\n'
            ),
            "contacts/c.csv": (
                "phone_number,first_name,landline,mail\n"
                "+33612345678,Axelle,01 23 45 67 89,axelle.durand@example.com\n"
                "0612345679,,01 23 45 67 88,zoe@example.org\n"
            ),
        }
    )


def test_plans_in_every_format_mask_what_the_template_printed(
    make_project: MakeProject, sandbox: SandboxServer
) -> None:
    root = _project(make_project)
    outputs: dict[str, str] = {}
    for fmt in ("text", "json", "markdown"):
        result = run_cli("plan", "--format", fmt, "-o", f"plan-{fmt}.json", cwd=root)
        assert result.returncode == 1  # `broken` is blocked; the plan is still printed
        outputs[fmt] = result.stdout + result.stderr
    saved = run_cli("plan", "--campaign", "notice", "-o", "notice.json", cwd=root)
    assert saved.returncode == 0, saved.stderr
    outputs["saved plan"] = (root / "notice.json").read_text(encoding="utf-8")
    applied = run_cli(
        "apply", "--campaign", "notice", "--auto-approve", cwd=root, env=sandbox.env()
    )
    assert applied.returncode == 0, applied.stderr
    outputs["apply"] = applied.stdout + applied.stderr

    for where, output in outputs.items():
        assert [c for c in CLEAR if c in output] == [], where
        assert "01 23 45 67 8" not in output, where
    sample = (
        "Bonjour Axelle, votre ligne +33 6•• •• •• 78 (fixe 0• •• •• •• 89) et "
        "a•••@e•••.com sont à jour."
    )
    assert f"    e.g. +33 6•• •• •• 78: {sample!r}" in outputs["text"]
    assert f'"text": "{sample}"' in outputs["json"]
    assert f"| +33 6•• •• •• 78 | {sample} |" in outputs["markdown"]
    assert f'"text": "{sample}"' in outputs["saved plan"]
    assert f"    e.g. +33 6•• •• •• 78: {sample!r}" in outputs["apply"]
    # The render error of `broken` names its recipient: masked in plans too.
    assert (
        "campaigns/broken.yaml:3:19: error: campaign broken, recipient +33 6•• •• •• 79 "
        "(contacts/c.csv:3): contact.first_name is empty: this row's first_name cell is empty"
    ) in outputs["text"]
    # What was delivered is what the template printed.
    [delivered] = [d.text for d in sandbox.deliveries() if d.recipient == "+33612345678"]
    assert delivered == (
        "Bonjour Axelle, votre ligne +33612345678 (fixe 01 23 45 67 89) et "
        "axelle.durand@example.com sont à jour."
    )


def test_render_is_a_local_preview_in_clear(make_project: MakeProject) -> None:
    root = _project(make_project)
    result = run_cli("render", "notice", "--recipient", "+33612345678", cwd=root)
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        "# +33612345678 (1 SMS part, GSM-7)\n"
        "Bonjour Axelle, votre ligne +33612345678 (fixe 01 23 45 67 89) et "
        "axelle.durand@example.com sont à jour.\n"
    )
