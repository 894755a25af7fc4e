"""`octoplan init`: the files of a new project, written only where nothing exists yet."""

from __future__ import annotations

from pathlib import Path

FILES: dict[str, str] = {
    "octoplan.yaml": """\
# octoplan project configuration: https://github.com/octoplan/octoplan#configuration
region: FR                      # default region for national-format phone numbers
state: .octoplan/state.db       # or postgresql://... (env OCTOPLAN_STATE wins)
defaults:
  sender: MyShop
  purpose: alert
vars:
  brand: MyShop
pricing:
  currency: EUR
  sms: {FR: 0.045, default: 0.06}
policies:
  max_cost: 100
""",
    "campaigns/welcome.yaml": """\
# yaml-language-server: $schema=https://octoplan.dev/schema/campaign.json
id: welcome
channel: sms
purpose: alert
template: welcome.sms.j2
recipients:
  - {phone_number: "06 12 34 56 78", first_name: Camille}
contacts: [contacts/customers.csv]
""",
    "templates/welcome.sms.j2": (
        "{{ contact.first_name | default('Bonjour') }}, bienvenue chez {{ vars.brand }} !"
    ),
    "contacts/customers.csv": "phone_number,first_name\n+33 7 56 12 34 56,Lou\n",
    ".gitignore": ".octoplan/\n",
}


def scaffold(directory: Path) -> tuple[list[str], list[str]]:
    """Write the missing files; returns (written, kept) project-relative paths."""
    written, kept = [], []
    for name, content in FILES.items():
        target = directory / name
        if target.exists():
            kept.append(name)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
        written.append(name)
    return written, kept
