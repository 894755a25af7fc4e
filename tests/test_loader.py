"""load_project(): discovery, defaults, positions of values, and errors gathered across files."""

from __future__ import annotations

from pathlib import Path

import pytest

from octoplan.errors import ValidationFailed
from octoplan.loader import load_project
from tests.fixtures.project import MakeProject

# Line 1 channel, 2 text, 3-4 recipients, 5 purpose.
SMS = (
    'channel: sms\ntext: Bonjour\nrecipients:\n  - {phone_number: "+33612345678"}\npurpose: alert\n'
)
CONFIG = """\
region: BE
defaults:
  sender: ShopX
  purpose: wholesale
  metadata:
    voice_language: fr-FR
    subject: Nouveautés
"""


def test_the_example_project_loads(example_project: Path) -> None:
    project = load_project(example_project)
    assert project.config_path == "octoplan.yaml"
    assert [c.path for c in project.campaigns] == [
        "campaigns/black-friday.yaml",
        "campaigns/delivery-call.yaml",
        "campaigns/newsletter.yaml",
        "campaigns/order-shipped.yaml",
        "campaigns/rcs-welcome.yaml",
        "campaigns/support-chat.yaml",
    ]
    promo = project.campaign("black-friday-2026")
    assert promo is not None
    assert promo.campaign.marketing
    assert promo.campaign.sender == "ShopX"  # from defaults
    assert promo.where("sender") == ("octoplan.yaml", 6, 11)
    assert promo.where("contacts", 0) == ("campaigns/black-friday.yaml", 9, 12)
    assert project.config.pricing.price("sms", "FR") == 0.045
    assert project.config.policies.max_cost == 500


def test_without_octoplan_yaml_the_spec_defaults_apply(make_project: MakeProject) -> None:
    project = load_project(make_project({"campaigns/a.yaml": SMS}, config=None))
    assert project.config_path is None
    config = project.config
    assert (config.region, config.state) == ("FR", ".octoplan/state.db")
    assert config.api.base_url == "https://api.octopush.com/v1/public"
    assert config.policies.marketing_hours.days == ["mon", "tue", "wed", "thu", "fri", "sat"]
    assert config.policies.max_segments == 6
    assert config.pricing.price("sms", "DE") == 0.06


def test_id_defaults_to_the_file_stem(make_project: MakeProject) -> None:
    root = make_project({"campaigns/2026/soldes-hiver.yml": SMS.replace("Bonjour", "Bonjour")})
    source = load_project(root).campaigns[0]
    assert (source.id, source.path) == ("soldes-hiver", "campaigns/2026/soldes-hiver.yml")
    assert source.where("id") == ("campaigns/2026/soldes-hiver.yml", 1, 1)


def test_positions_of_inline_recipients(make_project: MakeProject) -> None:
    text = SMS.replace(
        "purpose: alert\n", '  - phone_number: "+33612345679"\n    first_name: Bruno\n'
    )
    text += "purpose: alert\n"
    source = load_project(make_project({"campaigns/a.yaml": text})).campaigns[0]
    assert source.where("recipients", 0) == ("campaigns/a.yaml", 4, 5)
    assert source.where("recipients", 1) == ("campaigns/a.yaml", 5, 5)
    assert source.where("recipients", 1, "first_name") == ("campaigns/a.yaml", 6, 17)
    assert source.key_where("recipients", 1, "first_name") == ("campaigns/a.yaml", 6, 5)
    assert source.where("recipients", 1, "param1") == ("campaigns/a.yaml", 5, 5)
    assert source.declared("recipients", 1, "first_name")
    assert not source.declared("recipients", 1, "param1")


def test_defaults_merge_and_point_into_octoplan_yaml(make_project: MakeProject) -> None:
    voice = SMS.replace("channel: sms", "channel: voice_sms") + "metadata:\n  voice_gender: male\n"
    root = make_project({"campaigns/voice.yaml": voice, "campaigns/sms.yaml": SMS}, config=CONFIG)
    project = load_project(root)
    sms, voice_source = project.campaign("sms"), project.campaign("voice")
    assert sms is not None and voice_source is not None
    # Channel options only reach campaigns they apply to.
    assert sms.campaign.metadata.voice_language is None
    assert sms.campaign.metadata.subject is None
    assert voice_source.campaign.metadata.voice_language == "fr-FR"
    assert voice_source.campaign.metadata.voice_gender == "male"
    assert voice_source.where("metadata", "voice_language") == ("octoplan.yaml", 6, 21)
    assert voice_source.where("metadata", "voice_gender") == ("campaigns/voice.yaml", 7, 17)
    assert sms.where("sender") == ("octoplan.yaml", 3, 11)
    assert project.config.region == "BE"


def test_a_campaign_value_wins_over_defaults(make_project: MakeProject) -> None:
    text = SMS.replace("alert", "wholesale").replace("Bonjour", "Promo STOP au 30101")
    text += "sender: Other\n"
    source = load_project(make_project({"campaigns/a.yaml": text}, config=CONFIG)).campaigns[0]
    assert (source.campaign.sender, source.campaign.purpose) == ("Other", "wholesale")
    assert source.where("sender") == ("campaigns/a.yaml", 6, 9)


def test_an_error_in_defaults_is_reported_once_in_octoplan_yaml(
    make_project: MakeProject,
) -> None:
    config = "defaults:\n  sender: Shop-X\n  purpos: alert\n"
    root = make_project({"campaigns/a.yaml": SMS, "campaigns/b.yaml": SMS}, config=config)
    with pytest.raises(ValidationFailed) as info:
        load_project(root)
    assert str(info.value) == (
        "octoplan.yaml:2:11: error: sender must be 3 to 11 letters or digits (got 'Shop-X')\n"
        "  hint: operators refuse or rewrite other senders: no spaces, accents or punctuation\n"
        "octoplan.yaml:3:3: error: unknown key 'purpos' in defaults\n"
        "  hint: did you mean 'purpose'?"
    )


def test_id_cannot_be_a_default(make_project: MakeProject) -> None:
    root = make_project({"campaigns/a.yaml": SMS}, config="defaults:\n  id: x\n")
    with pytest.raises(ValidationFailed) as info:
        load_project(root)
    assert str(info.value) == (
        "octoplan.yaml:2:3: error: id cannot have a default: each campaign has its own\n"
        "  hint: remove id from defaults"
    )


def test_errors_of_every_file_are_gathered(make_project: MakeProject) -> None:
    root = make_project(
        {
            "campaigns/a.yaml": SMS + "sendr: ShopX\n",
            "campaigns/b.yaml": "channel: fax\n",
            "campaigns/c.yaml": SMS,
        }
    )
    with pytest.raises(ValidationFailed) as info:
        load_project(root)
    assert [d.location() for d in info.value.diagnostics] == [
        "campaigns/a.yaml:6:1",
        "campaigns/b.yaml:1:10",
    ]


def test_duplicate_ids(make_project: MakeProject) -> None:
    root = make_project({"campaigns/a/promo.yaml": SMS, "campaigns/b.yaml": "id: promo\n" + SMS})
    with pytest.raises(ValidationFailed) as info:
        load_project(root)
    assert str(info.value) == (
        "campaigns/b.yaml:1:5: error: duplicate campaign id 'promo' (also used by "
        "campaigns/a/promo.yaml)\n"
        "  hint: ids are identities in state: give each campaign its own id:"
    )


def test_paths_select_files_and_directories(make_project: MakeProject) -> None:
    root = make_project(
        {"campaigns/a.yaml": SMS, "campaigns/x/b.yaml": SMS, "campaigns/x/c.yml": SMS}
    )
    assert [c.id for c in load_project(root, [Path("campaigns/x")]).campaigns] == ["b", "c"]
    selected = load_project(root, [root / "campaigns/a.yaml", Path("campaigns/a.yaml")])
    assert [c.id for c in selected.campaigns] == ["a"]


def test_files_that_are_not_campaigns_are_ignored(make_project: MakeProject) -> None:
    root = make_project({"campaigns/a.yaml": SMS, "campaigns/README.md": "# notes\n"})
    assert [c.id for c in load_project(root).campaigns] == ["a"]


def test_a_project_without_campaigns(make_project: MakeProject) -> None:
    assert load_project(make_project()).campaigns == []


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ("- a\n", "octoplan.yaml:1:1: error: octoplan.yaml must be a mapping of keys (got a list)"),
        (
            "policies:\n  marketing_hours: {start: '8h', days: [mon, sunday]}\n",
            "octoplan.yaml:2:28: error: policies.marketing_hours.start must be a time written "
            "HH:MM (got '8h')\n"
            "octoplan.yaml:2:46: error: policies.marketing_hours.days[1] must be one of mon, tue, "
            "wed, thu, fri, sat, sun (got 'sunday')\n  hint: did you mean 'sun'?",
        ),
        (
            "policies:\n  marketing_hours: {timezone: Europe/Pariss}\n",
            "octoplan.yaml:2:31: error: timezone must be an IANA time zone, e.g. Europe/Paris "
            "(got 'Europe/Pariss')",
        ),
        (
            "pricing: {sms: {FR: -1}}\n",
            "octoplan.yaml:1:21: error: pricing.sms.FR must be at least 0 (got -1)",
        ),
        (
            "api: {base_url: ftp://x}\n",
            "octoplan.yaml:1:17: error: api.base_url must be an http:// or https:// URL "
            "(got 'ftp://x')",
        ),
    ],
)
def test_config_errors(make_project: MakeProject, config: str, expected: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        load_project(make_project(config=config))
    assert str(info.value) == expected
