from __future__ import annotations

from pathlib import Path

from octoplan.desired import build_campaign
from octoplan.loader import load_project
from octoplan.placeholders import apply_placeholders
from octoplan.sms import auto_optimize
from tests.fixtures.project import MakeProject

CONFIG = (
    "region: FR\nvars: {brand: ShopX}\npricing: {currency: EUR, sms: {FR: 0.05, default: 0.1}}\n"
)


def build(root: Path, campaign: str = "promo"):  # type: ignore[no-untyped-def]
    project = load_project(root)
    source = project.campaign(campaign)
    assert source is not None
    return build_campaign(project, source)


def test_messages_are_rendered_personalized_counted_and_priced(make_project: MakeProject) -> None:
    root = make_project(
        {
            "campaigns/promo.yaml": (
                "channel: sms\npurpose: alert\n"
                "text: \"{{ contact.first_name | default('Bonjour') }}, {{ vars.brand }}"
                '{% if contact.city %} {{ contact.city }}{% endif %} {param1}"\n'
                "recipients:\n"
                "  - {phone_number: '06 12 34 56 78', first_name: Axelle, param1: VIP}\n"
                "  - {phone_number: '+447911123456', city: Londres}\n"
                "contacts: [contacts/c.csv]\n"
                "exclude: [contacts/optout.csv]\n"
            ),
            "contacts/c.csv": "phone_number,first_name\n0612345678,Again\n0698765432,Zoé\n",
            "contacts/optout.csv": "phone_number\n+33698765432\n",
        },
        config=CONFIG,
    )
    desired = build(root)
    assert desired.errors == []
    assert (desired.duplicates, desired.excluded) == (1, 1)
    assert [tuple(m) for m in desired.messages] == [
        (
            "+33612345678",
            {"phone_number": "+33612345678", "first_name": "Axelle", "param1": "VIP"},
            "Axelle, ShopX VIP",
            "{first_name}, ShopX {param1}",
            1,
            "GSM-7",
            0.05,
        ),
        (
            "+447911123456",
            {"phone_number": "+447911123456"},
            "Bonjour, ShopX Londres",
            "Bonjour, ShopX Londres ",  # the API's auto_optimize_text trims the space
            1,
            "GSM-7",
            0.1,
        ),
    ]
    assert desired.cost == 0.15000000000000002
    for m in desired.messages:
        assert auto_optimize(apply_placeholders(m.request_text, m.fields)) == m.text


def test_a_template_that_transforms_a_field_is_sent_final(make_project: MakeProject) -> None:
    root = make_project(
        {
            "campaigns/promo.yaml": (
                "channel: sms\npurpose: alert\ntext: 'Hi {{ contact.first_name | upper }}'\n"
                "recipients: [{phone_number: '0612345678', first_name: axelle}]\n"
            )
        }
    )
    [message] = build(root).messages
    assert (message.text, message.request_text) == ("Hi AXELLE", "Hi AXELLE")


def test_a_template_edited_between_two_loads_renders_its_new_text(
    make_project: MakeProject,
) -> None:
    """Compiled templates live as long as one load of the project, not as long as the process:
    a second load in the same process (the in-process CLI runner of the tests, a long-running
    caller) sees the file as it is now."""
    root = make_project(
        {
            "campaigns/promo.yaml": (
                "channel: sms\npurpose: alert\ntemplate: t.j2\n"
                "recipients: [{phone_number: '0612345678'}]\n"
            ),
            "templates/t.j2": "Old text\n",
        }
    )
    assert [m.text for m in build(root).messages] == ["Old text"]
    (root / "templates/t.j2").write_text("New text\n", encoding="utf-8")
    assert [m.text for m in build(root).messages] == ["New text"]


def test_auto_optimize_text_is_applied_unless_false(make_project: MakeProject) -> None:
    campaign = (
        "channel: sms\npurpose: alert\ntext: 'L’été  arrive…'\n{}"
        "recipients: [{{phone_number: '0612345678'}}]\n"
    )
    root = make_project(
        {
            "campaigns/promo.yaml": campaign.format(""),
            "campaigns/raw.yaml": campaign.format("auto_optimize_text: false\n"),
        }
    )
    optimized = build(root).messages[0]
    raw = build(root, "raw").messages[0]
    assert (optimized.text, optimized.encoding) == ("L'été arrive...", "GSM-7")
    assert (raw.text, raw.encoding) == ("L’été  arrive…", "UCS-2")


def test_render_errors_are_grouped_per_problem(make_project: MakeProject) -> None:
    rows = "".join(f"06123456{i:02d}\n" for i in range(10, 15))
    root = make_project(
        {
            "campaigns/promo.yaml": (
                "channel: sms\npurpose: alert\ntemplate: t.j2\ncontacts: [contacts/c.csv]\n"
            ),
            "templates/t.j2": "Bonjour\n{{ contact.first_name }}\n",
            "contacts/c.csv": "phone_number\n" + rows,
        }
    )
    desired = build(root)
    assert [d.format() for d in desired.errors] == [
        "templates/t.j2:2:4: error: campaign promo, recipient +33612345610 (contacts/c.csv:2): "
        "contact.first_name is undefined: there is no column 'first_name' in contacts/c.csv "
        "(and 4 other recipients)\n"
        "  hint: add a first_name column to contacts/c.csv, test it ({% if contact.first_name "
        "%}...{% endif %}), or give it a default ({{ contact.first_name | default('') }})"
    ]
    assert desired.messages == []


def test_inline_block_text_errors_point_at_the_campaign_line(make_project: MakeProject) -> None:
    root = make_project(
        {
            "campaigns/promo.yaml": (
                "channel: sms\npurpose: alert\ntext: |\n  Bonjour\n  {{ contact.city }}\n"
                "recipients: [{phone_number: '0612345678'}]\n"
            )
        }
    )
    assert [d.format().splitlines()[0] for d in build(root).errors] == [
        "campaigns/promo.yaml:5:6: error: campaign promo, recipient +33612345678 "
        "(campaigns/promo.yaml:6): contact.city is undefined: there is no recipient in "
        "campaigns/promo.yaml with 'city'"
    ]
