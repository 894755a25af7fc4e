"""Contact data never becomes a placeholder (SPEC section 6), through the real CLI and sandbox.

The SMS and voice list endpoints replace `{first_name}`, `{last_name}` and `{param1}`..`{param5}`
in the text with the recipient's fields. A first name `{param1}` beside a `param1` column holding
a one-time code must reach the recipient as `{param1}`, never as the code: whatever path the
message takes (inline recipients, merged groups, texts sent inline, voice list campaigns).
`render` shows exactly what the sandbox delivered.
"""

from __future__ import annotations

import json
from pathlib import Path

from octoplan.sandbox import SandboxServer
from tests.fixtures.project import MakeProject, run_cli

LONG = "{param1}" + "x" * 50  # over the API's 50 characters: travels inline, not in a slot


def _apply_and_deliveries(root: Path, sandbox: SandboxServer) -> dict[str, str]:
    result = run_cli("apply", "--auto-approve", cwd=root, env=sandbox.env())
    assert result.returncode == 0, result.stdout + result.stderr
    deliveries = sandbox.deliveries()
    assert len(deliveries) == len({d.recipient for d in deliveries})
    return {d.recipient: d.text for d in deliveries}


def _rendered(root: Path, campaign: str) -> dict[str, str]:
    result = run_cli("render", campaign, "--format", "json", cwd=root)
    assert result.returncode == 0, result.stderr
    return {r["recipient"]: r["text"] for r in json.loads(result.stdout)}


def test_values_holding_placeholders_are_delivered_as_written(
    make_project: MakeProject, sandbox: SandboxServer
) -> None:
    rows = ["phone_number,first_name,last_name,ref,param2,param3"]
    # Enough plain contacts for the merge to build groups, and braces among them.
    rows += [f"+336223{i:05d},Name{i},Doe,R{i},P{i},Q{i}" for i in range(40)]
    rows += [
        "+33622399001,Ann,Doe,{param2},CODE-222,Q",  # a column that is no slot
        "+33622399002,{param3},{param2},R,CODE-333,OTP-444",  # slots holding slots
        f"+33622399003,{LONG},Doe,R,P,Q",  # too long for a slot: inline
        "+33622399004,{param2,}param3},R,CODE,OTP",  # a placeholder made of two values
    ]
    root = make_project(
        {
            "campaigns/otp.yaml": (
                "channel: sms\npurpose: alert\n"
                'text: "Hi {{ contact.first_name }}'
                '{% if contact.last_name %} {{ contact.last_name }}{% endif %}"\n'
                "recipients:\n"
                "  - {phone_number: '0612345678', first_name: '{param1}', "
                "param1: SECRET-OTP-991}\n"
                "  - {phone_number: '0612345679', first_name: Bob, last_name: '{param1}', "
                "param1: SECRET-OTP-992}\n"
            ),
            "campaigns/merged.yaml": (
                "channel: sms\npurpose: alert\n"
                'text: "{{ contact.first_name }} {{ contact.last_name }}, ref {{ contact.ref }}'
                '{% if contact.param2 %} [{{ contact.param2 }}]{% endif %}"\n'
                "contacts: [contacts/c.csv]\n"
            ),
            # The template writes a slot itself: that one is the API's to fill.
            "campaigns/slot.yaml": (
                "channel: sms\npurpose: alert\n"
                'text: "{first_name}: {{ contact.last_name }}"\n'
                "recipients:\n"
                "  - {phone_number: '0612345670', first_name: Ann, last_name: '{first_name}'}\n"
                "  - {phone_number: '0612345671', first_name: '{param1}', last_name: Doe, "
                "param1: SECRET}\n"
            ),
            "contacts/c.csv": "\n".join(rows) + "\n",
        }
    )
    expected = {
        "+33612345678": "Hi {param1}",
        "+33612345679": "Hi Bob {param1}",
        "+33622399001": "Ann Doe, ref {param2} [CODE-222]",
        "+33622399002": "{param3} {param2}, ref R [CODE-333]",
        "+33622399003": f"{LONG} Doe, ref R [P]",
        "+33622399004": "{param2 }param3}, ref R [CODE]",
        "+33612345670": "Ann: {first_name}",
        "+33612345671": "{param1}: Doe",
    }
    expected.update({f"+336223{i:05d}": f"Name{i} Doe, ref R{i} [P{i}]" for i in range(40)})
    rendered = {**_rendered(root, "otp"), **_rendered(root, "merged"), **_rendered(root, "slot")}
    assert rendered == expected

    delivered = _apply_and_deliveries(root, sandbox)

    assert delivered == expected
    assert not any("SECRET" in text or "OTP" in text for text in delivered.values())


def test_a_voice_list_campaign_speaks_the_value_as_written(
    make_project: MakeProject, sandbox: SandboxServer
) -> None:
    root = make_project(
        {
            "campaigns/call.yaml": (
                "channel: voice_sms\npurpose: alert\non_list: true\nlist_name: rappel\n"
                "metadata: {voice_gender: female, voice_language: fr-FR}\n"
                'text: "Bonjour {{ contact.first_name }}, votre colis arrive demain."\n'
                "recipients:\n"
                "  - {phone_number: '0612345678', first_name: '{param1}', param1: '991 204'}\n"
                "  - {phone_number: '0612345679', first_name: Zoé}\n"
            )
        }
    )
    expected = {
        "+33612345678": "Bonjour {param1}, votre colis arrive demain.",
        "+33612345679": "Bonjour Zoé, votre colis arrive demain.",
    }
    assert _rendered(root, "call") == expected
    assert _apply_and_deliveries(root, sandbox) == expected


def test_a_template_that_bends_a_braced_value_is_refused_at_the_contact_line(
    make_project: MakeProject, sandbox: SandboxServer
) -> None:
    root = make_project(
        {
            "campaigns/vip.yaml": (
                "channel: sms\npurpose: alert\n"
                "text: \"{% if contact.first_name[:1] == '{' %}{param1}{% else %}Hi{% endif %}\"\n"
                "contacts: [contacts/c.csv]\n"
            ),
            "contacts/c.csv": "phone_number,first_name,param1\n0612345678,{x},SECRET\n",
        }
    )

    error = (
        "contacts/c.csv:2: error: campaign vip, recipient {} (contacts/c.csv:2): "
        "contact.first_name holds a '{{', which the API reads as the start of a "
        "placeholder, and the template changes it before printing it: octoplan cannot "
        "deliver it as written\n"
        "  hint: print the field as it is ({{{{ contact.first_name }}}}), or remove the "
        "braces from the contact value\n"
    )
    validated = run_cli("validate", cwd=root)
    assert (validated.returncode, validated.stderr) == (
        1,
        error.format("+33612345678") + "1 error in 1 file\n",
    )
    applied = run_cli("apply", "--auto-approve", cwd=root, env=sandbox.env())
    assert applied.returncode == 1
    assert applied.stderr == error.format("+33612345678") + (
        "error: the plan has errors: nothing was sent\n"
    )
    planned = run_cli("plan", cwd=root)
    assert planned.returncode == 1
    # A plan masks the number (it may end up in a pull request).
    assert (
        "\n".join("    " + line for line in error.format("+33 6•• •• •• 78").splitlines())
        in planned.stdout
    )
    assert sandbox.requests() == []
