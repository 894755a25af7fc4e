"""The API's rules as constants and small predicates, shared by validation and rendering.

Values come from the Octopush pages in the shared `octopush-api/` folder; keep them in one place
so the loader, the renderer's checks and the docs cannot drift apart.
"""

from __future__ import annotations

import re
from typing import Final, Literal, get_args

from octoplan import channels

API_URL: Final = "https://api.octopush.com/v1/public"  # Octopush's production API
CHANNELS: Final = channels.NAMES
PURPOSES: Final = ("alert", "wholesale")
MARKETING_PURPOSE: Final = "wholesale"  # the API's default when purpose is omitted
SMS_TYPES: Final = channels.SMS.campaign_types
CAMPAIGN_TYPES: Final = tuple(t for c in channels.ALL for t in c.campaign_types)
VOICE_GENDERS: Final = ("male", "female")
VoiceLanguage = Literal[
    "en-US",
    "en-GB",
    "el-GR",
    "pl-PL",
    "hu-HU",
    "sv-SE",
    "de-DE",
    "es-ES",
    "es-LA",
    "fr-FR",
    "it-IT",
    "pt-BR",
    "ru-RU",
]
VOICE_LANGUAGES: Final = get_args(VoiceLanguage)
EMAILING_SERVICES: Final = ("mailbox", "gateway")
BODY_FORMATS: Final = ("plain_text", "html")
RCS_MESSAGE_TYPES: Final = ("simple_text", "rich_card")
WEEKDAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

TEXT_MAX: Final = 1224  # 8 concatenated GSM-7 parts
SUBJECT_MAX: Final = 1000
BATCH_MAX: Final = 500  # recipients per request
PERSONALIZATION_MAX: Final = 50  # characters per {first_name}/{paramN} value at the API

SENDER_PATTERN: Final = r"^[A-Za-z0-9]{3,11}$"
ID_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
UUID4_PATTERN: Final = (
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-4[0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}$"
)
EMAIL_PATTERN: Final = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"

SENDER_RE: Final = re.compile(SENDER_PATTERN)
ID_RE: Final = re.compile(ID_PATTERN)
UUID4_RE: Final = re.compile(UUID4_PATTERN)
EMAIL_RE: Final = re.compile(EMAIL_PATTERN)

STOP_MENTION: Final = "STOP au 30101"
# Flexible whitespace (including no-break spaces) because people type it by hand.
_STOP_RE: Final = re.compile(r"stop\s+au\s+30101", re.IGNORECASE)
_JINJA_RE: Final = re.compile(r"\{\{|\{%|\{#")

# Which channels each channel-specific option applies to (top-level or under metadata).
OPTION_CHANNELS: Final[dict[str, tuple[str, ...]]] = {
    option: channels.channels_of_option(option) for option in channels.OPTIONS
}


def has_stop_mention(text: str) -> bool:
    """True when `text` holds the marketing opt-out mention, case and spacing aside."""
    return _STOP_RE.search(text) is not None


def has_jinja(text: str) -> bool:
    """True when `text` is a Jinja template rather than a literal message."""
    return _JINJA_RE.search(text) is not None


def is_marketing(purpose: str | None) -> bool:
    return (purpose or MARKETING_PURPOSE) == MARKETING_PURPOSE


def channels_phrase(channels: tuple[str, ...]) -> str:
    """'the email channel' / 'the sms and voice_sms channels', for messages."""
    if len(channels) == 1:
        return f"the {channels[0]} channel"
    return f"the {', '.join(channels[:-1])} and {channels[-1]} channels"
