from __future__ import annotations

from pathlib import Path

from octoplan.desired import build_campaign
from octoplan.loader import load_project
from octoplan.placeholders import apply_placeholders
from octoplan.sms import auto_optimize, measure
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


def test_an_included_template_s_error_without_a_recipient_is_grouped_too(
    make_project: MakeProject,
) -> None:
    """An error found while rendering an included template (an unknown filter) names no
    recipient; it is still one diagnostic for every contact it hits."""
    root = make_project(
        {
            "campaigns/promo.yaml": (
                "channel: sms\npurpose: alert\ntemplate: t.j2\ncontacts: [contacts/c.csv]\n"
            ),
            "templates/t.j2": "Bonjour {% include 'footer.j2' %}\n",
            "templates/footer.j2": "{{ 'STOP' | shout }}\n",
            "contacts/c.csv": "phone_number\n0612345601\n0612345602\n",
        },
        config=CONFIG,
    )
    desired = build(root)
    assert [d.format() for d in desired.errors] == [
        "templates/footer.j2:1:13: error: unknown filter 'shout' (and 1 other recipient)\n"
        "  hint: did you mean 'sort'?"
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


def test_fast_path_parts_and_costs_are_the_one_by_one_renders(make_project: MakeProject) -> None:
    """A group's texts are composed (octoplan/fastpath.py); their SMS parts come from a table
    by length when every character is one GSM-7 septet, else from measuring each text. Both
    must give what the one-by-one render gives (`measure` of the text), at the edges of a part:
    160 and 161 characters, 306 and 307; and UCS-2 texts (70 and 71 characters)."""
    filler = "x" * 140
    codes = ["a" * 10, "b" * 11, "c" * 156, "d" * 157]
    ucs2 = ["日" * 50, "本" * 51]  # + 20 literal characters: 70 and 71
    root = make_project(
        {
            "campaigns/promo.yaml": (
                "channel: sms\npurpose: alert\n"
                f"text: 'Bonjour {{{{ contact.code }}}}, {filler}'\n"
                "contacts: [contacts/c.csv]\n"
            ),
            "campaigns/wide.yaml": (
                "channel: sms\npurpose: alert\n"
                "text: 'Bonjour {{ contact.code }}, yyyyyyyyyy'\n"
                "contacts: [contacts/u.csv]\n"
            ),
            "contacts/c.csv": "phone_number,code\n"
            + "".join(f"06123456{i:02d},{code}\n" for i, code in enumerate(codes)),
            "contacts/u.csv": "phone_number,code\n"
            + "".join(f"06123456{i:02d},{code}\n" for i, code in enumerate(ucs2)),
        },
        config=CONFIG,
    )
    promo, wide = build(root), build(root, "wide")
    assert promo.errors == wide.errors == []
    assert [(len(m.text), m.segments, m.encoding, m.cost) for m in promo.messages] == [
        (160, 1, "GSM-7", 0.05),
        (161, 2, "GSM-7", 0.1),
        (306, 2, "GSM-7", 0.1),
        (307, 3, "GSM-7", 0.15000000000000002),
    ]
    assert [(len(m.text), m.segments, m.encoding, m.cost) for m in wide.messages] == [
        (70, 1, "UCS-2", 0.05),
        (71, 2, "UCS-2", 0.1),
    ]
    for message in [*promo.messages, *wide.messages]:
        sms = measure(message.text)
        assert (message.segments, message.encoding) == (sms.segments, sms.encoding)
        assert message.cost == 0.05 * sms.segments


def test_a_field_the_template_compares_may_be_missing_from_a_contact_file(
    make_project: MakeProject,
) -> None:
    """The fast path groups contacts by the values of the fields a template compares; a file
    without that column groups as if every value were empty (not by some other column)."""
    root = make_project(
        {
            "campaigns/promo.yaml": (
                'channel: sms\npurpose: alert\ntext: "{% if contact.tier is defined and '
                "contact.tier == 'gold' %}Cher client{% else %}Bonjour{% endif %}\"\n"
                "contacts: [contacts/c.csv, contacts/t.csv]\n"
            ),
            "contacts/c.csv": "phone_number\n0612345601\n0612345602\n",
            "contacts/t.csv": "phone_number,tier\n0612345603,gold\n0612345604,\n",
        },
        config=CONFIG,
    )
    desired = build(root)
    assert desired.errors == []
    assert [(m.key, m.text, m.request_text, m.cost) for m in desired.messages] == [
        ("+33612345601", "Bonjour", "Bonjour", 0.05),
        ("+33612345602", "Bonjour", "Bonjour", 0.05),
        ("+33612345603", "Cher client", "Cher client", 0.05),
        ("+33612345604", "Bonjour", "Bonjour", 0.05),
    ]


def test_contacts_the_merge_declines_keep_their_order(make_project: MakeProject) -> None:
    """A text holding a `{` is not composed (the API could read it as a slot): the group's
    first contact keeps the full render made to check the merge, the others are rendered one
    by one, and the messages stay in the contacts' order, the file's after the campaign's own
    recipients."""
    root = make_project(
        {
            "campaigns/promo.yaml": (
                "channel: sms\npurpose: alert\ntext: 'Code {-20%} {{ contact.code }}'\n"
                "recipients: [{phone_number: '0612345604', code: D4}, "
                "{phone_number: '0612345605', code: E5}]\n"
                "contacts: [contacts/c.csv]\n"
            ),
            "contacts/c.csv": "phone_number,code\n0612345601,A1\n0612345602,B2\n0612345603,C3\n",
        },
        config=CONFIG,
    )
    desired = build(root)
    assert desired.errors == []
    assert [(m.key, m.text) for m in desired.messages] == [
        ("+33612345604", "Code {-20%} D4"),
        ("+33612345605", "Code {-20%} E5"),
        ("+33612345601", "Code {-20%} A1"),
        ("+33612345602", "Code {-20%} B2"),
        ("+33612345603", "Code {-20%} C3"),
    ]
    assert list(desired.columns.order) == [0, 1, 2, 3, 4]


def test_a_template_that_does_not_compile_still_reports_the_contact_lists(
    make_project: MakeProject,
) -> None:
    """No message is built, but every contact is still read: the lists' own errors, their
    duplicates and exclusions are reported with the template's error, and nothing is priced."""
    root = make_project(
        {
            "campaigns/promo.yaml": (
                "channel: sms\npurpose: alert\ntemplate: t.j2\n"
                "recipients: [{phone_number: '0612345601'}, {phone_number: '0612345601'}, "
                "{phone_number: '12'}]\n"
                "contacts: [contacts/c.csv]\nexclude: [contacts/x.csv]\n"
            ),
            "templates/t.j2": "Bonjour {{ contact.first_name \n",
            "contacts/c.csv": "phone_number\n0612345602\n0612345603\nabc\n",
            "contacts/x.csv": "phone_number\n0612345603\n",
        },
        config=CONFIG,
    )
    desired = build(root)
    assert [d.format() for d in desired.errors] == [
        "campaigns/promo.yaml:4:89: error: '12' is not a valid phone number for region FR",
        "contacts/c.csv:4:1: error: 'abc' is not a phone number: only digits, spaces, dots, "
        "dashes, parentheses and a leading + are allowed",
        "templates/t.j2:1: error: template syntax error: unexpected end of template, expected "
        "'end of print statement'.",
    ]
    assert (desired.duplicates, desired.excluded, desired.cost) == (1, 1, 0.0)
    assert (desired.messages, desired.warnings) == ([], [])


def test_a_ucs2_character_is_located_in_the_inline_text_or_the_template_file(
    make_project: MakeProject,
) -> None:
    """The policy warning points at the character: in the campaign file for an inline text
    (from the text's own first line), in the template file for a template (from its line 1)."""
    recipients = "recipients: [{phone_number: '0612345601'}]\n"
    root = make_project(
        {
            "campaigns/inline.yaml": (
                f"channel: sms\npurpose: alert\n{recipients}text: |\n  Bonjour\n  Prix 日本\n"
            ),
            "campaigns/file.yaml": f"channel: sms\npurpose: alert\n{recipients}template: u.j2\n",
            "templates/u.j2": "Bonjour\nPrix 日本\n",
        },
        config=CONFIG,
    )
    inline, file = build(root, "inline"), build(root, "file")
    assert inline.errors == file.errors == []
    assert [d.format() for d in inline.warnings] == [
        "campaigns/inline.yaml:4:7: warning: campaign inline: 日 (U+65E5) at "
        "campaigns/inline.yaml:6:6, 本 (U+672C) at campaigns/inline.yaml:6:7 make 1 message "
        "UCS-2 (70 characters per SMS instead of 160)"
    ]
    assert [d.format() for d in file.warnings] == [
        "campaigns/file.yaml:4:11: warning: campaign file: 日 (U+65E5) at templates/u.j2:2:6, "
        "本 (U+672C) at templates/u.j2:2:7 make 1 message UCS-2 (70 characters per SMS "
        "instead of 160)"
    ]
