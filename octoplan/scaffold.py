"""`octoplan init`: the files of a new project, written only where nothing exists yet.

Editors get completion and checks from the JSON Schemas written next to octoplan.yaml (the
output of `octoplan schema`), which the files name in a `yaml-language-server` modeline.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from octoplan.model import json_schema

CONFIG = "octoplan.yaml"
CAMPAIGNS = "campaigns"
CAMPAIGN_SCHEMA = "campaign.schema.json"
CONFIG_SCHEMA = "octoplan.schema.json"

FILES: dict[str, str] = {
    "octoplan.yaml": f"# yaml-language-server: $schema={CONFIG_SCHEMA}\n"
    + """\
region: FR                      # default region for national-format phone numbers
state: .octoplan/state.db       # or postgresql://... (env OCTOPLAN_STATE wins)
defaults:                       # a default for any campaign field but purpose: an omitted
  sender: MyShop                #   purpose is wholesale (marketing), as at the API
vars:
  brand: MyShop
pricing:
  currency: EUR
  sms: {FR: 0.045, default: 0.06}
policies:
  max_cost: 100
""",
    # The modeline's path is relative to the campaign file.
    "campaigns/welcome.yaml": f"# yaml-language-server: $schema=../{CAMPAIGN_SCHEMA}\n"
    + """\
id: welcome
channel: sms
purpose: alert                  # transactional: any hour, no STOP mention; marketing is
template: welcome.sms.j2        #   wholesale (the default), with "STOP au 30101" in the text
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


def _schema(kind: Literal["campaign", "config"]) -> str:
    # The same text as `octoplan schema --kind KIND`.
    return json.dumps(json_schema(kind), indent=2, ensure_ascii=False) + "\n"


def existing_project(directory: Path) -> Path | None:
    """The root of the octoplan project `directory` is or lies in: a folder holding
    octoplan.yaml (it or a parent), or `directory` itself if it holds campaigns/."""
    if (directory / CAMPAIGNS).is_dir():
        return directory
    for candidate in (directory, *directory.parents):
        if (candidate / CONFIG).is_file():
            return candidate
    return None


def write_schemas(directory: Path) -> list[str]:
    """(Re)write the two JSON Schemas: generated files, replaced whole."""
    (directory / CAMPAIGN_SCHEMA).write_text(_schema("campaign"), encoding="utf-8")
    (directory / CONFIG_SCHEMA).write_text(_schema("config"), encoding="utf-8")
    return [CAMPAIGN_SCHEMA, CONFIG_SCHEMA]


def scaffold(directory: Path) -> tuple[list[str], list[str]]:
    """Write the missing files; returns (written, kept) project-relative paths."""
    written, kept = [], []
    files = {**FILES, CAMPAIGN_SCHEMA: _schema("campaign"), CONFIG_SCHEMA: _schema("config")}
    for name, content in files.items():
        target = directory / name
        if target.exists():
            kept.append(name)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
        written.append(name)
    return written, kept
