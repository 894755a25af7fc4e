"""Campaign rules per channel, with the exact message and position of each error."""

from __future__ import annotations

import pytest

from octoplan import rules
from octoplan.errors import ValidationFailed
from octoplan.loader import Project, load_project
from tests.fixtures.project import MakeProject

UUID4 = "3f1c2a9e-8b7d-4c5e-9f0a-1b2c3d4e5f60"
RECIPIENT = {
    "sms": '{phone_number: "+33612345678"}',
    "voice_sms": '{phone_number: "+33612345678"}',
    "rcs": '{phone_number: "+33612345678"}',
    "email": "{email: a@example.com}",
    "live_chat": f"{{conversation_id: {UUID4}}}",
}
CHANNELS = list(rules.CHANNELS)


def campaign(channel: str, text: str = "Bonjour", extra: str = "") -> str:
    # Line 1 channel, 2 purpose, 3 text, 4-5 recipients, 6+ extra.
    return (
        f"channel: {channel}\npurpose: alert\ntext: {text}\n"
        f"recipients:\n  - {RECIPIENT[channel]}\n{extra}"
    )


def load(make_project: MakeProject, text: str) -> Project:
    return load_project(make_project({"campaigns/c.yaml": text}))


def errors(make_project: MakeProject, text: str) -> list[str]:
    with pytest.raises(ValidationFailed) as info:
        load(make_project, text)
    return [d.format() for d in info.value.diagnostics]


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_minimal_campaign_is_valid(make_project: MakeProject, channel: str) -> None:
    project = load(make_project, campaign(channel))
    assert [c.campaign.channel for c in project.campaigns] == [channel]


@pytest.mark.parametrize("channel", CHANNELS)
def test_text_must_not_be_empty(make_project: MakeProject, channel: str) -> None:
    assert errors(make_project, campaign(channel, '""')) == [
        "campaigns/c.yaml:3:7: error: text must not be empty"
    ]


@pytest.mark.parametrize("channel", CHANNELS)
def test_text_at_most_1224_characters(make_project: MakeProject, channel: str) -> None:
    assert load(make_project, campaign(channel, "a" * 1224)).campaigns
    assert errors(make_project, campaign(channel, "a" * 1225)) == [
        "campaigns/c.yaml:3:7: error: text is 1225 characters; the API accepts at most 1224\n"
        "  hint: shorten it: 1224 characters is already 8 SMS parts"
    ]


@pytest.mark.parametrize("channel", CHANNELS)
def test_templated_text_is_measured_after_rendering(
    make_project: MakeProject, channel: str
) -> None:
    text = "{{ contact.first_name }}" + "a" * 1300
    assert load(make_project, campaign(channel, f'"{text}"')).campaigns


@pytest.mark.parametrize("channel", [c for c in CHANNELS if c != "rcs"])
def test_sender_is_3_to_11_letters_or_digits(make_project: MakeProject, channel: str) -> None:
    for good in ("ShopX", "abc", "A2345678901"):
        assert load(make_project, campaign(channel, extra=f"sender: {good}\n")).campaigns
    for bad in ("AB", "A23456789012", "Shop X", "Café"):
        assert errors(make_project, campaign(channel, extra=f"sender: {bad}\n")) == [
            f"campaigns/c.yaml:6:9: error: sender must be 3 to 11 letters or digits (got '{bad}')\n"
            "  hint: operators refuse or rewrite other senders: no spaces, accents or punctuation"
        ]


def test_the_rcs_sender_is_the_agent_name(make_project: MakeProject) -> None:
    assert load(make_project, campaign("rcs", extra="sender: ShopX Officiel\n")).campaigns
    assert errors(make_project, campaign("rcs", extra='sender: " "\n')) == [
        "campaigns/c.yaml:6:9: error: sender (the RCS agent name) must not be empty"
    ]


@pytest.mark.parametrize("channel", CHANNELS)
def test_send_at_needs_an_offset(make_project: MakeProject, channel: str) -> None:
    good = load(make_project, campaign(channel, extra="send_at: 2026-12-04T10:00:00+01:00\n"))
    assert good.campaigns[0].campaign.send_at is not None
    assert good.campaigns[0].campaign.send_at.utcoffset() is not None
    assert errors(make_project, campaign(channel, extra="send_at: 2026-12-04T10:00:00\n")) == [
        "campaigns/c.yaml:6:10: error: send_at needs a UTC offset (got '2026-12-04T10:00:00')\n"
        "  hint: write it with an offset, e.g. 2026-12-04T10:00:00+01:00"
    ]


def test_send_at_quoted_or_with_z(make_project: MakeProject) -> None:
    project = load(make_project, campaign("sms", extra='send_at: "2026-12-04T09:00:00Z"\n'))
    assert project.campaigns[0].campaign.send_at is not None
    assert project.campaigns[0].campaign.send_at.isoformat() == "2026-12-04T09:00:00+00:00"


@pytest.mark.parametrize("channel", CHANNELS)
def test_wholesale_needs_stop_on_sms_only(make_project: MakeProject, channel: str) -> None:
    text = campaign(channel).replace("purpose: alert", "purpose: wholesale")
    if channel != "sms":
        assert load(make_project, text).campaigns
        return
    assert errors(make_project, text) == [
        "campaigns/c.yaml:3:7: error: marketing SMS (purpose: wholesale) must contain the "
        'opt-out mention "STOP au 30101"\n'
        '  hint: add "STOP au 30101" to the text, or set purpose: alert for a transactional '
        "message"
    ]


def test_purpose_defaults_to_marketing(make_project: MakeProject) -> None:
    text = campaign("sms").replace("purpose: alert\n", "")
    assert errors(make_project, text)[0].startswith("campaigns/c.yaml:2:7: error: marketing SMS")


@pytest.mark.parametrize(
    "text", ["Promo STOP au 30101", "Promo stop AU 30101", "Promo STOP  au\u00a030101"]
)
def test_the_stop_mention_is_matched_loosely(make_project: MakeProject, text: str) -> None:
    source = campaign("sms", f'"{text}"').replace("alert", "wholesale")
    assert load(make_project, source).campaigns


def test_a_templated_marketing_text_is_checked_after_rendering(make_project: MakeProject) -> None:
    source = campaign("sms", '"{{ contact.first_name }}, promo"').replace("alert", "wholesale")
    assert load(make_project, source).campaigns


@pytest.mark.parametrize(
    ("channel", "message"),
    [
        ("sms", "recipients[1] has no phone_number (the sms channel sends to phone numbers)"),
        (
            "voice_sms",
            "recipients[1] has no phone_number (the voice_sms channel sends to phone numbers)",
        ),
        ("rcs", "recipients[1] has no phone_number (the rcs channel sends to phone numbers)"),
        ("email", "recipients[1] has no email (the email channel sends to e-mail addresses)"),
        (
            "live_chat",
            "recipients[1] needs at least one of phone_number, email, conversation_id",
        ),
    ],
)
def test_recipients_per_channel(make_project: MakeProject, channel: str, message: str) -> None:
    text = campaign(channel) + "  - {first_name: Axelle, param1: 12}\n"
    assert errors(make_project, text) == [f"campaigns/c.yaml:6:5: error: {message}"]


@pytest.mark.parametrize("key", ["phone_number", "email", "conversation_id"])
def test_live_chat_accepts_any_address(make_project: MakeProject, key: str) -> None:
    value = {"phone_number": '"+33612345678"', "email": "a@example.com", "conversation_id": UUID4}
    text = campaign("live_chat") + f"  - {{{key}: {value[key]}}}\n"
    assert len(load(make_project, text).campaigns[0].campaign.recipients) == 2


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_campaign_needs_recipients(make_project: MakeProject, channel: str) -> None:
    text = f"channel: {channel}\npurpose: alert\ntext: Bonjour\n"
    assert errors(make_project, text) == [
        "campaigns/c.yaml:1:1: error: campaign has no recipients\n"
        "  hint: add recipients: (inline) or contacts: [contacts/<file>.csv]"
    ]


# A valid value for each channel option, and the channel it is valid on.
OPTIONS = {
    "type": ("sms_premium", "sms"),
    "with_replies": ("true", "sms"),
    "voice_gender": ("female", "voice_sms"),
    "voice_language": ("fr-FR", "voice_sms"),
    "get_back_pressed_keys": ("true", "voice_sms"),
    "emailing_service": ("gateway", "email"),
    "email_from": ("news@shopx.example", "email"),
    "name_from": ("ShopX", "email"),
    "subject": ("Hello", "email"),
    "template_name": ("welcome", "email"),
    "body_format": ("html", "email"),
    "language": ("fr", "email"),
    "message_type": ("simple_text", "rcs"),
    "cards": ("[{title: Hi}]", "rcs"),
    "actions": ("[{type: reply, title: Oui}]", "rcs"),
}


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize("option", sorted(OPTIONS))
def test_metadata_options_apply_to_their_channels(
    make_project: MakeProject, option: str, channel: str
) -> None:
    value, _ = OPTIONS[option]
    extra = f"metadata:\n  {option}: {value}\n"
    if option == "cards":
        extra += "  message_type: rich_card\n"
    if option == "type" and channel == "voice_sms":
        extra = extra.replace("sms_premium", "voice_sms")
    allowed = rules.OPTION_CHANNELS[option]
    text = campaign(channel, extra=extra)
    if channel in allowed:
        assert load(make_project, text).campaigns
        return
    message = f"metadata.{option} applies to {rules.channels_phrase(allowed)} only"
    found = errors(make_project, text)
    assert found[0] == (
        f"campaigns/c.yaml:7:3: error: {message}\n"
        f"  hint: remove it: this campaign's channel is {channel}"
    )


@pytest.mark.parametrize("option", ["type", "with_replies", "voice_gender", "voice_language"])
def test_top_level_options_of_the_sms_and_voice_pages(
    make_project: MakeProject, option: str
) -> None:
    value, channel = OPTIONS[option]
    project = load(make_project, campaign(channel, extra=f"{option}: {value}\n"))
    assert project.campaigns[0].campaign.option(option) is not None
    assert errors(make_project, campaign("email", extra=f"{option}: {value}\n")) == [
        f"campaigns/c.yaml:6:1: error: {option} applies to "
        f"{rules.channels_phrase(rules.OPTION_CHANNELS[option])} only\n"
        "  hint: remove it: this campaign's channel is email"
    ]


@pytest.mark.parametrize(
    ("channel", "value", "expected"),
    [
        ("sms", "voice_sms", "sms_premium or sms_low_cost for the sms channel (got 'voice_sms')"),
        ("voice_sms", "sms_low_cost", "voice_sms for the voice_sms channel (got 'sms_low_cost')"),
    ],
)
def test_type_matches_the_channel(
    make_project: MakeProject, channel: str, value: str, expected: str
) -> None:
    text = campaign(channel, extra=f"metadata:\n  type: {value}\n")
    assert errors(make_project, text) == [
        f"campaigns/c.yaml:7:9: error: metadata.type must be {expected}"
    ]


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("voice_language", "fr-CA", "fr-FR"),
        ("voice_gender", "Female", "female"),
        ("emailing_service", "gatway", "gateway"),
        ("body_format", "plain", "plain_text"),
        ("message_type", "rich-card", "rich_card"),
        ("type", "sms_premuim", "sms_premium"),
    ],
)
def test_enumerations_suggest_the_close_value(
    make_project: MakeProject, field: str, value: str, expected: str
) -> None:
    channel = OPTIONS[field][1]
    found = errors(make_project, campaign(channel, extra=f"metadata:\n  {field}: {value}\n"))
    assert len(found) == 1
    assert found[0].startswith(f"campaigns/c.yaml:7:{len(field) + 5}: error: metadata.{field} ")
    assert found[0].endswith(f"(got '{value}')\n  hint: did you mean '{expected}'?")


def test_the_13_voice_languages(make_project: MakeProject) -> None:
    assert len(rules.VOICE_LANGUAGES) == 13
    for language in rules.VOICE_LANGUAGES:
        text = campaign("voice_sms", extra=f"metadata:\n  voice_language: {language}\n")
        assert load(make_project, text).campaigns


def test_subject_at_most_1000_characters(make_project: MakeProject) -> None:
    assert load(make_project, campaign("email", extra=f"metadata:\n  subject: {'s' * 1000}\n"))
    assert errors(
        make_project, campaign("email", extra=f"metadata:\n  subject: {'s' * 1001}\n")
    ) == [
        "campaigns/c.yaml:7:12: error: metadata.subject is 1001 characters; "
        "at most 1000 are allowed"
    ]


def test_rcs_cards_and_actions_follow_the_message_type(make_project: MakeProject) -> None:
    cards = campaign("rcs", extra="metadata:\n  cards: [{title: Hi}]\n")
    assert errors(make_project, cards) == [
        "campaigns/c.yaml:7:3: error: metadata.cards needs metadata.message_type: rich_card"
    ]
    rich = campaign(
        "rcs", extra="metadata:\n  message_type: rich_card\n  actions: [{type: reply}]\n"
    )
    assert errors(make_project, rich) == [
        "campaigns/c.yaml:7:17: error: metadata.message_type rich_card needs metadata.cards",
        "campaigns/c.yaml:8:3: error: metadata.actions applies to message_type simple_text only\n"
        "  hint: with rich_card, put buttons in the cards",
    ]


@pytest.mark.parametrize("channel", ["sms", "voice_sms"])
def test_on_list_needs_list_name(make_project: MakeProject, channel: str) -> None:
    good = campaign(channel, extra="on_list: true\nlist_name: bf-2026\n")
    assert load(make_project, good).campaigns[0].campaign.on_list
    assert errors(make_project, campaign(channel, extra="on_list: true\n")) == [
        "campaigns/c.yaml:6:10: error: on_list: true needs list_name\n"
        "  hint: name the contact list the API will create, e.g. list_name: black-friday"
    ]


@pytest.mark.parametrize("where", ["request_id: x\n", "metadata:\n  request_id: x\n"])
def test_request_id_is_never_declared(make_project: MakeProject, where: str) -> None:
    found = errors(make_project, campaign("sms", extra=where))
    assert [f.split(": error: ")[1] for f in found] == [
        "request_id is generated by octoplan; remove it\n"
        "  hint: each batch gets a request_id derived from its content, so retries are "
        "deduplicated by the API"
    ]


def test_text_or_template(make_project: MakeProject) -> None:
    root = make_project(
        {
            "templates/t.j2": "Bonjour",
            "campaigns/c.yaml": campaign("sms").replace("text: Bonjour", "template: t.j2"),
        }
    )
    assert load_project(root).campaigns[0].campaign.template == "t.j2"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("nope.j2", "template 'nope.j2' not found in templates/"),
        ("../octoplan.yaml", "template '../octoplan.yaml' is outside templates/"),
        ("/etc/passwd", "template '/etc/passwd' must be a path relative to the project"),
    ],
)
def test_template_containment(make_project: MakeProject, name: str, message: str) -> None:
    text = campaign("sms").replace("text: Bonjour", f"template: {name}")
    assert errors(make_project, text) == [f"campaigns/c.yaml:3:11: error: {message}"]


def test_template_links_out_and_oversized_templates(make_project: MakeProject) -> None:
    root = make_project(
        {
            "campaigns/a.yaml": campaign("sms").replace("text: Bonjour", "template: link.j2"),
            "campaigns/b.yaml": campaign("sms").replace("text: Bonjour", "template: big.j2"),
            "templates/big.j2": "x" * (3 * 1024 * 1024),
        }
    )
    (root / "templates" / "link.j2").symlink_to("/etc/passwd")
    with pytest.raises(ValidationFailed) as info:
        load_project(root)
    assert [d.format() for d in info.value.diagnostics] == [
        "campaigns/a.yaml:3:11: error: template 'link.j2' is outside templates/",
        "campaigns/b.yaml:3:11: error: template 'big.j2' is 3.0 MB; templates are limited to 1 MB",
    ]


def test_contacts_and_exclude_stay_inside_the_project(make_project: MakeProject) -> None:
    extra = "contacts: [contacts/ok.csv, ../x.csv, contacts/link.csv]\nexclude: [/tmp/x.csv]\n"
    root = make_project(
        {"contacts/ok.csv": "phone_number\n", "campaigns/c.yaml": campaign("sms", extra=extra)}
    )
    (root / "contacts" / "link.csv").symlink_to("/etc/hostname")
    with pytest.raises(ValidationFailed) as info:
        load_project(root)
    assert [d.format() for d in info.value.diagnostics] == [
        "campaigns/c.yaml:6:29: error: contacts file '../x.csv' is outside the project",
        "campaigns/c.yaml:6:39: error: contacts file 'contacts/link.csv' is outside the project",
        "campaigns/c.yaml:7:11: error: exclude file '/tmp/x.csv' must be a path relative to the "
        "project",
    ]


def test_optout_filtering_off_only_for_transactional(make_project: MakeProject) -> None:
    assert load(make_project, campaign("sms", extra="optout_filtering: false\n")).campaigns
    text = campaign("sms", "Promo STOP au 30101", "optout_filtering: false\n")
    assert errors(make_project, text.replace("alert", "wholesale")) == [
        "campaigns/c.yaml:6:19: error: optout_filtering: false is only allowed for "
        "transactional campaigns (purpose: alert)\n"
        "  hint: marketing messages must never reach contacts who opted out"
    ]


def test_contact_fields_are_single_values(make_project: MakeProject) -> None:
    text = campaign("sms") + '  - {phone_number: "+33612345679", city: {name: Lyon}}\n'
    assert errors(make_project, text) == [
        "campaigns/c.yaml:6:42: error: recipients[1].city must be a single value (string, "
        "number or boolean), not a mapping\n  hint: contact fields hold one value each"
    ]
