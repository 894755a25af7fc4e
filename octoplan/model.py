"""The shape of `octoplan.yaml` and of a campaign file, as pydantic models; no I/O.

Field names are the Octopush API's own (see the shared `octopush-api/` pages), so a campaign file
reads like the request body it becomes. Models check shape, types, enumerations and single-field
formats; rules that involve several fields or the channel live in `octoplan.checks`. Models are
strict: YAML's `"yes"` is not a boolean and `0612345678` is not a phone number.
"""

from __future__ import annotations

import re
from datetime import datetime, time
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema
from pydantic_core import PydanticCustomError

from octoplan import channels, prices, rules
from octoplan.channels import CampaignType, ChannelName

Channel = ChannelName  # the table's names (octoplan/channels.py), re-exported
Purpose = Literal["alert", "wholesale"]
VoiceGender = Literal["male", "female"]
VoiceLanguage = rules.VoiceLanguage  # the 13 languages of the voice pages
EmailingService = Literal["mailbox", "gateway"]
BodyFormat = Literal["plain_text", "html"]
RcsMessageType = Literal["simple_text", "rich_card"]
OnInvalid = Literal["error", "skip"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def octoplan_error(message: str, hint: str | None = None) -> PydanticCustomError:
    """A validation error whose message is shown as is (the loader adds the position)."""
    return PydanticCustomError("octoplan", message, {"hint": hint} if hint else None)


def _scalar(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    kind = "a list" if isinstance(value, list) else "a mapping"
    raise octoplan_error(
        f"must be a single value (string, number or boolean), not {kind}",
        "contact fields hold one value each",
    )


Scalar = Annotated[
    Any,
    AfterValidator(_scalar),
    WithJsonSchema({"type": ["string", "number", "boolean", "null"]}),
]


def _send_at(value: Any) -> Any:
    if isinstance(value, datetime) or not isinstance(value, str):
        return value  # datetimes pass; other types get the standard type error
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        from octoplan.dates import impossible_date  # only for a value that did not parse

        impossible = impossible_date(value)
        if impossible is not None:
            raise octoplan_error(
                f"send_at '{value}' is not a valid date: {impossible}",
                "write it like 2026-12-04T10:00:00+01:00",
            ) from None
        raise octoplan_error(
            f"send_at must be an ISO 8601 date-time with an offset (got '{value}')",
            "write it like 2026-12-04T10:00:00+01:00",
        ) from None
    if "T" not in value.upper() and " " not in value:
        raise octoplan_error(
            f"send_at must be a date-time, not a date (got '{value}')",
            f"add a time and an offset, e.g. {value}T10:00:00+01:00",
        )
    if parsed.tzinfo is None:
        raise octoplan_error(
            f"send_at needs a UTC offset (got '{value}')",
            f"write it with an offset, e.g. {parsed.isoformat()}+01:00",
        )
    return parsed


SendAt = Annotated[
    datetime,
    BeforeValidator(_send_at),
    WithJsonSchema(
        {
            "type": "string",
            "format": "date-time",
            "description": "ISO 8601 with an offset, e.g. 2026-12-04T10:00:00+01:00",
        }
    ),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, defer_build=True)


class Recipient(BaseModel):
    """An inline contact. Any other key is contact data, reachable as `contact.<key>`."""

    model_config = ConfigDict(extra="allow", strict=True, frozen=True, defer_build=True)
    __pydantic_extra__: dict[str, Scalar]

    phone_number: str | None = Field(None, description="E.164 or national format (sms, voice)")
    email: str | None = Field(None, description="E-mail address (email channel)")
    conversation_id: str | None = Field(
        None, pattern=rules.UUID4_PATTERN, description="Live chat conversation (UUID v4)"
    )
    first_name: str | None = None
    last_name: str | None = None
    param1: Scalar = None
    param2: Scalar = None
    param3: Scalar = None
    param4: Scalar = None
    param5: Scalar = None

    def fields(self) -> dict[str, Any]:
        """Every field set, extra contact data included."""
        data = {k: v for k, v in self.__dict__.items() if v is not None}
        data.update(self.__pydantic_extra__ or {})
        return data


class Metadata(_Strict):
    """`metadata.*` of multi-channel/send. Which keys apply to which channel: rules.py."""

    type: CampaignType | None = Field(None, description="sms: sms_premium|sms_low_cost; voice")
    with_replies: bool | None = Field(None, description="Get recipients' replies (sms, rcs)")
    voice_gender: VoiceGender | None = None
    voice_language: VoiceLanguage | None = None
    get_back_pressed_keys: bool | None = None
    emailing_service: EmailingService | None = None
    email_from: str | None = Field(None, description="Sender address (email)")
    name_from: str | None = Field(None, description="Sender name (email)")
    subject: str | None = Field(None, max_length=rules.SUBJECT_MAX, description="E-mail subject")
    template_name: str | None = Field(None, description="Octopush e-mail template name")
    body_format: BodyFormat | None = None
    language: str | None = Field(None, description="Language of the unsubscribe mention (email)")
    message_type: RcsMessageType | None = None
    cards: list[dict[str, Any]] | None = Field(None, description="RCS rich cards")
    actions: list[dict[str, Any]] | None = Field(None, description="RCS buttons")


_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_DURATION_UNITS = (86400, 3600, 60, 1)


def duration_seconds(value: str) -> int:
    """'1d12h', '30m', '90s' -> seconds (the value is valid: see _duration)."""
    match = _DURATION.fullmatch(value)
    assert match is not None
    return sum(int(n) * unit for n, unit in zip(match.groups(), _DURATION_UNITS, strict=True) if n)


def _duration(value: Any) -> Any:
    if not isinstance(value, str):
        return value  # the standard type error
    match = _DURATION.fullmatch(value)
    if not value or match is None or not any(match.groups()):
        raise octoplan_error(
            f"must be a duration such as 24h, 30m or 1d12h (got '{value}')",
            "units: d (days), h (hours), m (minutes), s (seconds), largest first",
        )
    return value


Duration = Annotated[
    str,
    AfterValidator(_duration),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^(\d+d)?(\d+h)?(\d+m)?(\d+s)?$",
            "description": "A duration: 24h, 30m, 1d12h...",
        }
    ),
]


def _percent(value: Any) -> Any:
    if isinstance(value, str) and value.strip().endswith("%"):
        number = value.strip()[:-1].strip()
        raise octoplan_error(
            f"must be a whole number from 1 to 100 (got string '{value}')",
            f"write the number alone: percent: {number}",
        )
    return value


class Gate(_Strict):
    """What the delivery reports of the stage before must say for a stage to start."""

    min_delivered_rate: float | None = Field(
        None, ge=0, le=1, description="Delivered / sent of the stage before, at least (0..1)"
    )
    max_undelivered_rate: float | None = Field(
        None, ge=0, le=1, description="Not delivered / sent of the stage before, at most (0..1)"
    )
    max_stop_rate: float | None = Field(
        None, ge=0, le=1, description="STOP replies / sent of the stage before, at most (0..1)"
    )


class RolloutStage(_Strict):
    """One stage of `rollout:`: a seed list, or a percentage of the audience (a cohort chosen
    by a hash of each recipient), started once the stage before is `wait` old and its `gate`
    holds."""

    seed: str | None = Field(
        None, min_length=1, description="A contact file sent first; not part of the audience"
    )
    percent: Annotated[int | None, BeforeValidator(_percent)] = Field(
        None, ge=1, le=100, description="Share of the audience reached by the end of this stage"
    )
    wait: Duration | None = Field(
        None, description="Minimum age of the stage before (since its first request), e.g. 24h"
    )
    gate: Gate | None = Field(
        None, description="Delivery figures of the stage before that this stage needs"
    )


class CampaignFields(_Strict):
    """Every campaign field, all optional: the shape of `defaults` in octoplan.yaml."""

    channel: Channel | None = None
    purpose: Purpose | None = Field(
        None, description="alert (transactional) or wholesale (marketing, the API's default)"
    )
    sender: str | None = Field(None, description="3-11 letters or digits; RCS: the agent name")
    send_at: SendAt | None = None
    text: str | None = Field(None, min_length=1, description="Jinja2 text, 1-1224 characters")
    template: str | None = Field(None, min_length=1, description="A file under templates/")
    vars: dict[str, Any] = Field(default_factory=dict, description="Template vars (vars.*)")
    recipients: list[Recipient] = Field(default_factory=list)
    contacts: list[str] = Field(default_factory=list, description="Contact files (CSV/YAML/JSON)")
    exclude: list[str] = Field(default_factory=list, description="Opt-out lists, never sent to")
    batch_size: int = Field(rules.BATCH_MAX, ge=1, le=rules.BATCH_MAX)
    on_invalid: OnInvalid = Field(
        "error",
        description="A contact whose row is invalid: error (refuse the campaign, the default) "
        "or skip (leave it out, counted in a warning)",
    )
    list_name: str | None = Field(None, min_length=1)
    on_list: bool = Field(False, description="Use the campaign-on-list flow (sms, voice_sms)")
    simulation_mode: bool | None = None
    recipient_tracking: bool | None = None
    auto_optimize_text: bool | None = None
    auto_delete_optout_contacts: bool | None = None
    optout_filtering: bool | None = None
    # The sms-campaign/send and voice list pages take these at the top level.
    type: CampaignType | None = None
    with_replies: bool | None = None
    voice_gender: VoiceGender | None = None
    voice_language: VoiceLanguage | None = None
    metadata: Metadata = Field(default_factory=Metadata)
    enabled: bool = Field(
        True, description="false: cancel what is still scheduled and send nothing new"
    )


class Campaign(CampaignFields):
    """One campaign file, with the project's defaults merged in."""

    id: str = Field(
        pattern=rules.ID_PATTERN,
        description="Stable identity in state; default: the file's path stem",
    )
    channel: Channel
    renamed_from: list[Annotated[str, Field(pattern=rules.ID_PATTERN)]] = Field(
        default_factory=list,
        description="Earlier ids of this campaign: what state holds under them is its history",
    )
    allow_repeat: bool = Field(
        False,
        description="Send even a text a recipient received in the last 30 days (any campaign)",
    )
    rollout: list[RolloutStage] | None = Field(
        None,
        description="Stages: a seed list, then growing percentages of the audience, one stage "
        "per apply",
    )

    @property
    def marketing(self) -> bool:
        return rules.is_marketing(self.purpose)

    def option(self, name: str) -> Any:
        """A channel option declared at the top level or under metadata (None if neither)."""
        top = getattr(self, name, None) if name in CampaignFields.model_fields else None
        return top if top is not None else getattr(self.metadata, name, None)


def _region(value: str) -> str:
    import phonenumbers  # only needed when a config is validated

    if value not in phonenumbers.SUPPORTED_REGIONS:
        raise octoplan_error(
            f"region must be a two-letter country code, e.g. FR (got '{value}')",
            "it is the default region for phone numbers written without +country code",
        )
    return value


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise octoplan_error(
            f"timezone must be an IANA time zone, e.g. Europe/Paris (got '{value}')"
        ) from None
    return value


_WORKING_DAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat")
_HHMM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"


def _region_code(value: str) -> str:
    import phonenumbers

    if value not in phonenumbers.SUPPORTED_REGIONS:
        raise octoplan_error(
            f"'{value}' is not a region: write a two-letter country code, e.g. RE",
            "region_timezones maps the region of a number to the time zone of its recipients",
        )
    return value


Zone = Annotated[str, AfterValidator(_timezone)]
RegionCode = Annotated[str, AfterValidator(_region_code)]


class MarketingHours(_Strict):
    """When marketing messages may reach a recipient (octoplan/hours.py)."""

    timezone: Zone = Field("Europe/Paris", description="The project region's time zone")
    days: list[Weekday] = Field(default_factory=lambda: list(_WORKING_DAYS))
    start: str = Field("08:00", pattern=_HHMM)
    end: str = Field("20:00", pattern=_HHMM)
    skip_public_holidays: bool = True
    region_timezones: dict[RegionCode, Zone] = Field(
        default_factory=dict,
        description="Time zone of the numbers of a region, e.g. {RE: Indian/Reunion}; "
        "default: the French overseas zones, else the number's own",
    )

    @property
    def start_time(self) -> time:
        return time.fromisoformat(self.start)

    @property
    def end_time(self) -> time:
        return time.fromisoformat(self.end)


class FrequencyCap(_Strict):
    """At most `max` marketing messages per recipient in any `days` days, all campaigns."""

    max: int = Field(ge=1, description="Marketing messages a recipient may get in the window")
    days: int = Field(ge=1, le=366, description="The rolling window, in days")


class Policies(_Strict):
    marketing_hours: MarketingHours = Field(default_factory=MarketingHours)
    max_cost: float | None = Field(None, ge=0, description="Refuse an apply estimated above this")
    max_cost_per_campaign: float | None = Field(
        None, ge=0, description="Refuse a campaign estimated above this"
    )
    frequency_cap: FrequencyCap | None = Field(
        None, description="At most max marketing messages per recipient over days days"
    )
    max_segments: int = Field(6, ge=1, description="Warn above this many SMS parts per message")


PriceTable = dict[str, Annotated[float, Field(ge=0)]]


def _table(name: str) -> Any:
    return Field(
        default_factory=lambda: dict(prices.DEFAULT_TABLES[name]),
        description=f"Price per {'SMS part' if prices.per_part(name) else 'message'} "
        "by destination region (`default` for the others)",
    )


class Pricing(_Strict):
    """Prices per destination region (`default` for the others): the one table estimates and
    the sandbox use (octoplan/prices.py). A table given here replaces its default whole."""

    currency: str = Field(prices.DEFAULT_CURRENCY, pattern=r"^[A-Z]{3}$")
    # One table per channel (named as the channel) and one for low-cost SMS.
    sms: PriceTable = _table(channels.SMS.name)
    sms_low_cost: PriceTable = _table(prices.SMS_LOW_COST)
    voice_sms: PriceTable = _table(channels.VOICE_SMS.name)
    rcs: PriceTable = _table(channels.RCS.name)
    email: PriceTable = _table(channels.EMAIL.name)
    live_chat: PriceTable = _table(channels.LIVE_CHAT.name)

    def price(self, product: str, region: str | None) -> float | None:
        """One SMS part (sms, sms_low_cost) or message (other channels) to `region`."""
        table: dict[str, float] = getattr(self, product, {})
        return prices.price_in(table, region)


class Api(_Strict):
    base_url: str = Field(rules.API_URL, pattern=r"^https?://\S+$")


ENVIRONMENT_NAME = r"^[a-z0-9][a-z0-9_-]{0,31}$"
_VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _variable_name(value: str) -> str:
    # Never echo the value: a key pasted here by mistake must not reach a terminal or a log.
    if not _VARIABLE_NAME.fullmatch(value):
        raise octoplan_error(
            "must be the name of an environment variable (letters, digits and _), "
            "not a credential: credentials never live in files",
            "e.g. STAGING_OCTOPUSH_API_KEY, then export that variable where octoplan runs",
        )
    return value


VariableName = Annotated[str, AfterValidator(_variable_name)]


class Credentials(_Strict):
    """The names of the variables holding an environment's credentials (never the values)."""

    login: VariableName = Field(
        "OCTOPUSH_API_LOGIN", description="Variable holding the api-login (an e-mail)"
    )
    key: VariableName = Field("OCTOPUSH_API_KEY", description="Variable holding the api-key")


class EnvironmentApi(_Strict):
    base_url: str | None = Field(None, pattern=r"^https?://\S+$")


class Environment(_Strict):
    """One entry of `environments:`: where its messages go and what it changes."""

    state: str | None = Field(
        None,
        min_length=1,
        description="Its own state (a path or postgresql://...); default .octoplan/<name>-state.db",
    )
    api: EnvironmentApi = Field(default_factory=EnvironmentApi)
    sandbox: bool = Field(False, description="Send to the embedded local sandbox")
    credentials: Credentials | None = Field(
        None, description="Names of the variables holding its api-login and api-key"
    )
    vars: dict[str, Any] = Field(
        default_factory=dict, description="Template vars over the project's (vars.*)"
    )
    recipients: list[Recipient] | None = Field(
        None, description="Inline contacts replacing every campaign's audience"
    )
    contacts: list[str] | None = Field(
        None, description="Contact files replacing every campaign's audience"
    )

    @property
    def replaces_audience(self) -> bool:
        return self.recipients is not None or self.contacts is not None


class ProjectConfig(_Strict):
    """octoplan.yaml. Every key is optional."""

    region: Annotated[str, AfterValidator(_region)] = "FR"
    state: str = Field(".octoplan/state.db", min_length=1)
    defaults: dict[str, Any] = Field(
        default_factory=dict, description="Default for any campaign field"
    )
    vars: dict[str, Any] = Field(default_factory=dict)
    api: Api = Field(default_factory=Api)
    pricing: Pricing = Field(default_factory=Pricing)
    policies: Policies = Field(default_factory=Policies)
    environments: dict[str, Environment] = Field(
        default_factory=dict,
        description="Named targets (staging, production...), chosen with --env or OCTOPLAN_ENV",
    )
    default_environment: str | None = Field(
        None, description="The environment used when neither --env nor OCTOPLAN_ENV names one"
    )


SCHEMA_BASE = "https://octoplan.dev/schema"


def json_schema(kind: Literal["campaign", "config"]) -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of a campaign file or of octoplan.yaml, for editors."""
    if kind == "config":
        schema = ProjectConfig.model_json_schema()
        defaults = CampaignFields.model_json_schema()
        schema.setdefault("$defs", {}).update(defaults.pop("$defs", {}))
        schema["$defs"]["CampaignFields"] = defaults
        schema["properties"]["defaults"] = {"$ref": "#/$defs/CampaignFields"}
        title = "octoplan project configuration (octoplan.yaml)"
    else:
        schema = Campaign.model_json_schema()
        # The loader fills `id` from the file name, so files need not declare it.
        schema["required"] = [name for name in schema.get("required", []) if name != "id"]
        title = "octoplan campaign file"
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{SCHEMA_BASE}/{kind}.json",
        **schema,
        "title": title,
    }
