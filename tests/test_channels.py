"""The channel table (octoplan/channels.py): one entry per channel name, the API's endpoints
and flows as the shared octopush-api/FACTS.md lists them, and what a channel's entry makes the
rest of octoplan do (per-part pricing, the marketing hours, where options go in a body)."""

from __future__ import annotations

from typing import get_args

from octoplan import channels, model, prices, rules
from octoplan.channels import CampaignType, ChannelName, Endpoints, SendFlow
from octoplan.desired import build_campaign
from octoplan.loader import load_project
from octoplan.model import Campaign, Pricing
from octoplan.payload import shape
from octoplan.policies import MessageChecks
from octoplan.sms import count
from tests.fixtures.project import MakeProject


def test_every_channel_name_has_one_entry_under_its_name() -> None:
    assert get_args(ChannelName) == channels.NAMES
    assert [channels.get(name).name for name in get_args(ChannelName)] == list(channels.NAMES)
    assert model.Channel is ChannelName  # re-exported where campaign files are modelled
    assert rules.CHANNELS == channels.NAMES
    assert sorted(t for c in channels.ALL for t in c.campaign_types) == sorted(
        get_args(CampaignType)
    )


def test_options_are_known_and_routes_send_only_options_of_their_channel() -> None:
    for channel in channels.ALL:
        assert set(channel.options) <= set(channels.OPTIONS), channel.name
        # in the one order messages and bodies use
        assert list(channel.options) == [o for o in channels.OPTIONS if o in channel.options]
        for route in (channel.route, channel.list_route):
            if route is not None:
                sent = route.top_level + route.metadata
                assert set(sent) <= set(channel.options), channel.name
    assert all(channels.channels_of_option(o) for o in channels.OPTIONS)


def test_flows_and_endpoints_are_those_of_facts_md() -> None:
    # FACTS.md, "Endpoints": sms-campaign/send and /cancel; multi-channel/send and /cancel
    # (body {channel, ticket_number}); voice-campaign-on-list/create, /status, /send, /cancel.
    assert {flow: flow.endpoints for flow in SendFlow} == {
        SendFlow.SMS_CAMPAIGN: Endpoints("sms-campaign/send", "sms-campaign/cancel"),
        SendFlow.VOICE_LIST: Endpoints(
            "voice-campaign-on-list/create",
            "voice-campaign-on-list/cancel",
            status="voice-campaign-on-list/status",
            confirm="voice-campaign-on-list/send",
        ),
        SendFlow.MULTI_CHANNEL: Endpoints("multi-channel/send", "multi-channel/cancel"),
    }
    # "request_id": top level on sms-campaign/send and the list campaigns, metadata.request_id
    # on multi-channel/send. "Personalization done by the API": SMS and voice list endpoints.
    assert {
        flow: (flow.personalizes, flow.request_id_in_metadata, flow.names_channel)
        for flow in SendFlow
    } == {
        SendFlow.SMS_CAMPAIGN: (True, False, False),
        SendFlow.VOICE_LIST: (True, False, False),
        SendFlow.MULTI_CHANNEL: (False, True, True),
    }


def test_what_each_channel_is() -> None:
    assert {
        c.name: (
            c.route.flow,
            c.route_for(on_list=True).flow,
            c.identity,
            c.bills_per_part,
            c.auto_optimizes,
            c.marketing_hours,
            c.stop_mention,
            c.messages,
        )
        for c in channels.ALL
    } == {
        "sms": (
            SendFlow.SMS_CAMPAIGN,
            SendFlow.SMS_CAMPAIGN,
            ("phone_number",),
            True,
            True,
            True,
            True,
            "SMS",
        ),
        "voice_sms": (
            SendFlow.MULTI_CHANNEL,
            SendFlow.VOICE_LIST,
            ("phone_number",),
            False,
            False,
            True,
            False,
            "voice SMS",
        ),
        "rcs": (
            SendFlow.MULTI_CHANNEL,
            SendFlow.MULTI_CHANNEL,
            ("phone_number",),
            False,
            False,
            True,
            False,
            "RCS messages",
        ),
        "email": (
            SendFlow.MULTI_CHANNEL,
            SendFlow.MULTI_CHANNEL,
            ("email",),
            False,
            False,
            False,
            False,
            "e-mails",
        ),
        "live_chat": (
            SendFlow.MULTI_CHANNEL,
            SendFlow.MULTI_CHANNEL,
            ("conversation_id", "phone_number", "email"),
            False,
            False,
            False,
            False,
            "live chat messages",
        ),
    }
    assert prices.product("sms", "sms_low_cost") == "sms_low_cost"
    assert prices.product("sms", "sms_premium") == "sms"
    assert prices.product("voice_sms", "voice_sms") == "voice_sms"


def _checks(channel: str) -> MessageChecks:
    return MessageChecks(
        campaign_id="promo",
        channel=channel,
        marketing=False,
        text_where=("campaigns/promo.yaml", 1, 1),
        template_source="x",
        template_first_line=1,
        template_path="campaigns/promo.yaml",
        max_segments=6,
        pricing=Pricing(sms={"FR": 0.05}, rcs={"FR": 0.05}, voice_sms={"FR": 0.05}),
    )


def test_a_channel_billed_per_part_pays_each_part() -> None:
    text = "x" * 200  # two GSM-7 parts
    costs = {c: _checks(c).check("+33612345678", text, count(text)) for c in channels.NAMES[:3]}
    assert costs == {"sms": 0.1, "voice_sms": 0.05, "rcs": 0.05}


def _sunday_send(make_project: MakeProject, channel: str, recipient: str) -> list[str]:
    root = make_project(
        {
            "campaigns/promo.yaml": (
                f"channel: {channel}\npurpose: wholesale\n"
                'text: "Promo STOP au 30101"\n'
                "send_at: 2027-11-28T10:00:00+01:00\n"
                f"recipients:\n  - {recipient}\n"
            )
        },
        config="region: FR\n",
    )
    project = load_project(root)
    source = project.campaign("promo")
    assert source is not None
    return [d.format() for d in build_campaign(project, source).errors]


def test_marketing_hours_bind_an_sms_and_not_an_email(make_project: MakeProject) -> None:
    assert _sunday_send(make_project, "sms", "{phone_number: '06 12 34 56 78'}") == [
        "campaigns/promo.yaml:4:10: error: campaign promo: send_at Sun 28 Nov 2027 10:00 "
        "Europe/Paris is outside marketing hours: sun is not a marketing day "
        "(mon, tue, wed, thu, fri, sat)\n"
        "  hint: move send_at, or change policies.marketing_hours in octoplan.yaml"
    ]
    assert _sunday_send(make_project, "email", "{email: a@example.com}") == []


def test_voice_options_go_where_the_route_of_the_campaign_puts_them() -> None:
    options = {"voice_gender": "female", "voice_language": "fr-FR", "type": "voice_sms"}
    base = {"id": "call", "channel": "voice_sms", "text": "Bonjour", "sender": "ShopX", **options}
    direct = shape(Campaign.model_validate(base))
    on_list = shape(Campaign.model_validate({**base, "on_list": True, "list_name": "rappel"}))
    assert (direct.endpoint, direct.personalizes, dict(direct.base)) == (
        "multi-channel/send",
        False,
        {"sender": "ShopX", "channel": "voice_sms", "metadata": options},
    )
    # in the table's order of options: the body, hence the request_id, does not depend on
    # the order the campaign file lists them in
    assert list(direct.base["metadata"]) == ["type", "voice_gender", "voice_language"]
    assert (on_list.endpoint, on_list.personalizes, dict(on_list.base)) == (
        "voice-campaign-on-list/create",
        True,
        {
            "sender": "ShopX",
            "list_name": "rappel",
            "voice_gender": "female",
            "voice_language": "fr-FR",
        },
    )
