"""The one table of the API's five channels: what each needs, how it is sent, billed and checked.

Every other module asks this table (`channels.get(name).bills_per_part`, `.marketing_hours`,
`.identity`...) instead of comparing channel names, so that a fact about a channel (which
endpoint sends it, whether the API personalizes its text, whether French marketing rules apply)
is written once. Facts come from the Octopush pages in the shared `octopush-api/` folder
(FACTS.md for the endpoints); octoplan's own choices are marked as such. Pure data: no I/O and
no third-party import, so that anything may import it cheaply.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from types import MappingProxyType
from typing import Final, Literal

ChannelName = Literal["sms", "voice_sms", "rcs", "email", "live_chat"]
# The API's `type` values: SMS routes (premium, low cost) and the voice channel's own.
CampaignType = Literal["sms_premium", "sms_low_cost", "voice_sms"]

# The contact fields that name a recipient.
PHONE_FIELD: Final = "phone_number"
EMAIL_FIELD: Final = "email"
CONVERSATION_FIELD: Final = "conversation_id"
IDENTITY_FIELDS: Final = (PHONE_FIELD, EMAIL_FIELD, CONVERSATION_FIELD)

# Every channel option, in the order messages list them and request bodies carry them.
OPTIONS: Final = (
    "type",
    "with_replies",
    "voice_gender",
    "voice_language",
    "get_back_pressed_keys",
    "emailing_service",
    "email_from",
    "name_from",
    "subject",
    "template_name",
    "body_format",
    "language",
    "message_type",
    "cards",
    "actions",
    "on_list",
)


@dataclass(frozen=True)
class Endpoints:
    """Paths under the API's base URL."""

    send: str
    cancel: str  # DELETE, body {ticket_number} (+ channel on multi-channel/cancel)
    status: str | None = None  # list flows: polled until the campaign is ready
    confirm: str | None = None  # list flows: confirms the send once ready


class SendFlow(Enum):
    """How a send reaches the API (FACTS.md, "Endpoints")."""

    SMS_CAMPAIGN = "sms_campaign"  # one POST; recipients carry first_name, param1...
    VOICE_LIST = "voice_list"  # create, wait for ready_to_be_sent, confirm
    MULTI_CHANNEL = "multi_channel"  # one POST naming its channel, options under metadata

    @property
    def endpoints(self) -> Endpoints:
        return _ENDPOINTS[self]

    @property
    def personalizes(self) -> bool:
        """Does the API replace {first_name}, {param1}... per recipient? FACTS.md says so of
        the SMS and voice list endpoints only; octoplan assumes multi-channel/send does not,
        and sends its texts final."""
        return self is not SendFlow.MULTI_CHANNEL

    @property
    def request_id_in_metadata(self) -> bool:
        """`metadata.request_id` on multi-channel/send, top-level `request_id` elsewhere."""
        return self is SendFlow.MULTI_CHANNEL

    @property
    def names_channel(self) -> bool:
        """The body (and the cancel body) says which channel: one endpoint serves them all."""
        return self is SendFlow.MULTI_CHANNEL

    @property
    def cancels_scheduled(self) -> bool:
        """Can a send accepted for a later send_at still be cancelled? Not a voice campaign
        on a list: the API deletes one only before it is confirmed (FACTS.md), and apply
        confirms it in the same request that creates it."""
        return self is not SendFlow.VOICE_LIST

    @classmethod
    def of_endpoint(cls, endpoint: str) -> SendFlow | None:
        """The flow whose sends go to `endpoint` (as state records them), if any."""
        return next((flow for flow in cls if flow.endpoints.send == endpoint), None)


_ENDPOINTS: Final = {
    SendFlow.SMS_CAMPAIGN: Endpoints("sms-campaign/send", "sms-campaign/cancel"),
    SendFlow.VOICE_LIST: Endpoints(
        "voice-campaign-on-list/create",
        "voice-campaign-on-list/cancel",
        status="voice-campaign-on-list/status",
        confirm="voice-campaign-on-list/send",
    ),
    SendFlow.MULTI_CHANNEL: Endpoints("multi-channel/send", "multi-channel/cancel"),
}


@dataclass(frozen=True)
class Route:
    """One way a channel's sends go out: the flow, and where its options go in the body.
    Options of the channel in neither tuple are not sent on this route."""

    flow: SendFlow
    top_level: tuple[str, ...] = ()
    metadata: tuple[str, ...] = ()


@dataclass(frozen=True, eq=False)  # one entry per channel: identity is equality
class Channel:
    name: ChannelName
    identity: tuple[str, ...]  # the fields naming a recipient, in order of preference
    options: tuple[str, ...]  # the channel options that apply (in OPTIONS order)
    route: Route
    list_route: Route | None  # `on_list: true` (None: the same route as without)
    bills_per_part: bool  # priced per SMS part (segments), not per message
    auto_optimizes: bool  # the API's auto_optimize_text transliterates its text
    marketing_hours: bool  # French marketing sends only in the configured hours
    stop_mention: bool  # marketing texts must hold "STOP au 30101" (API code 121)
    mobile_only: bool  # a phone number must be a mobile (an SMS or RCS)
    callable_only: bool  # a phone number must be one a call can reach at no extra cost
    agent_sender: bool  # the sender is an agent's name, not 3-11 letters or digits
    campaign_types: tuple[str, ...]  # the values `type` may take
    own_price_types: tuple[str, ...]  # `type`s priced from their own table, not the channel's
    default_prices: Mapping[str, float]  # by destination region, `default` for the others
    messages: str  # what its messages are called: "it cannot receive {messages}"
    addresses: str  # what its identity is called: "sends to {addresses}"
    aliases: tuple[str, ...]  # other words people write for it in `channel:`
    described: str  # why an alias means it, for that suggestion
    callback_spellings: tuple[str, ...]  # `channel` values in callbacks (lower case)
    message_id_prefix: str | None  # a callback's message_id starts with it and "_"

    @property
    def identity_field(self) -> str:
        """The field that names a recipient first."""
        return self.identity[0]

    @property
    def phone(self) -> bool:
        """Recipients are phone numbers only (opt-out replies, numbering checks apply)."""
        return self.identity == (PHONE_FIELD,)

    @property
    def several_identities(self) -> bool:
        """A recipient may be named by one of several fields (live chat's fallbacks)."""
        return len(self.identity) > 1

    def route_for(self, on_list: bool) -> Route:
        return self.list_route if on_list and self.list_route is not None else self.route

    def product(self, campaign_type: str | None) -> str:
        """The price table of a message: the channel's, or its `type`'s own."""
        return campaign_type if campaign_type in self.own_price_types else self.name


def _prices(**table: float) -> Mapping[str, float]:
    return MappingProxyType(table)


SMS: Final = Channel(
    name="sms",
    identity=(PHONE_FIELD,),
    options=("type", "with_replies", "on_list"),
    route=Route(SendFlow.SMS_CAMPAIGN, top_level=("type", "with_replies")),
    list_route=None,
    bills_per_part=True,
    auto_optimizes=True,
    marketing_hours=True,
    stop_mention=True,
    mobile_only=True,
    callable_only=False,
    agent_sender=False,
    campaign_types=("sms_premium", "sms_low_cost"),
    own_price_types=("sms_low_cost",),
    default_prices=_prices(FR=0.045, default=0.06),  # sms_premium, per part
    messages="SMS",
    addresses="phone numbers",
    aliases=("text",),
    described="the SMS channel",
    callback_spellings=("sms",),
    message_id_prefix="sms",
)
VOICE_SMS: Final = Channel(
    name="voice_sms",
    identity=(PHONE_FIELD,),
    options=(
        "type",
        "voice_gender",
        "voice_language",
        "get_back_pressed_keys",
        "on_list",
    ),
    route=Route(
        SendFlow.MULTI_CHANNEL,
        metadata=("type", "voice_gender", "voice_language", "get_back_pressed_keys"),
    ),
    # The four-step list flow: voice options at the top level; it takes no `type` or
    # `get_back_pressed_keys`.
    list_route=Route(SendFlow.VOICE_LIST, top_level=("voice_gender", "voice_language")),
    bills_per_part=False,
    auto_optimizes=False,
    marketing_hours=True,
    stop_mention=False,
    mobile_only=False,
    callable_only=True,
    agent_sender=False,
    campaign_types=("voice_sms",),
    own_price_types=(),
    default_prices=_prices(FR=0.05, default=0.08),
    messages="voice SMS",
    addresses="phone numbers",
    aliases=("voice",),
    described="the voice channel reads a text aloud",
    callback_spellings=("voice", "voice_sms", "vocal"),
    message_id_prefix="voice",
)
RCS: Final = Channel(
    name="rcs",
    identity=(PHONE_FIELD,),
    options=("with_replies", "message_type", "cards", "actions"),
    route=Route(
        SendFlow.MULTI_CHANNEL, metadata=("with_replies", "message_type", "cards", "actions")
    ),
    list_route=None,
    bills_per_part=False,
    auto_optimizes=False,
    marketing_hours=True,
    stop_mention=False,
    mobile_only=True,
    callable_only=False,
    agent_sender=True,
    campaign_types=(),
    own_price_types=(),
    default_prices=_prices(FR=0.04, default=0.05),
    messages="RCS messages",
    addresses="phone numbers",
    aliases=(),
    described="the RCS channel",
    callback_spellings=("rcs",),
    message_id_prefix="rcs",
)
_EMAIL_OPTIONS: Final = (
    "emailing_service",
    "email_from",
    "name_from",
    "subject",
    "template_name",
    "body_format",
    "language",
)
EMAIL: Final = Channel(
    name="email",
    identity=(EMAIL_FIELD,),
    options=_EMAIL_OPTIONS,
    route=Route(SendFlow.MULTI_CHANNEL, metadata=_EMAIL_OPTIONS),
    list_route=None,
    bills_per_part=False,
    auto_optimizes=False,
    marketing_hours=False,
    stop_mention=False,
    mobile_only=False,
    callable_only=False,
    agent_sender=False,
    campaign_types=(),
    own_price_types=(),
    default_prices=_prices(default=0.001),
    messages="e-mails",
    addresses="e-mail addresses",
    aliases=("mail", "e-mail"),
    described="the e-mail channel",
    callback_spellings=("email", "mail", "e-mail"),
    message_id_prefix="email",
)
LIVE_CHAT: Final = Channel(
    name="live_chat",
    # An open conversation, else the phone number or e-mail address it falls back to.
    identity=(CONVERSATION_FIELD, PHONE_FIELD, EMAIL_FIELD),
    options=(),
    route=Route(SendFlow.MULTI_CHANNEL),
    list_route=None,
    bills_per_part=False,
    auto_optimizes=False,
    marketing_hours=False,
    stop_mention=False,
    mobile_only=False,
    callable_only=False,
    agent_sender=False,
    campaign_types=(),
    own_price_types=(),
    default_prices=_prices(default=0.0),
    messages="live chat messages",
    addresses="conversations, phone numbers or e-mail addresses",
    aliases=("chat", "livechat"),
    described="the live chat channel",
    callback_spellings=("live_chat",),
    message_id_prefix=None,
)

ALL: Final[tuple[Channel, ...]] = (SMS, VOICE_SMS, RCS, EMAIL, LIVE_CHAT)
NAMES: Final[tuple[ChannelName, ...]] = tuple(c.name for c in ALL)
_BY_NAME: Final[Mapping[str, Channel]] = {c.name: c for c in ALL}


def get(name: str) -> Channel:
    """The entry of channel `name`; KeyError for a name that is no channel."""
    return _BY_NAME[name]


def names_where(predicate: Callable[[Channel], bool]) -> frozenset[str]:
    """The names of the channels `predicate` holds for: a set to test names against where a
    loop runs per contact (`channel in PHONE_CHANNELS`)."""
    return frozenset(c.name for c in ALL if predicate(c))


def channels_of_option(option: str) -> tuple[str, ...]:
    """The channels an option applies to, in the table's order."""
    return tuple(c.name for c in ALL if option in c.options)
