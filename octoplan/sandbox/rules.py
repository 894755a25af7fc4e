"""What the sandbox checks, written from the Octopush pages and FACTS.md, not from octoplan's own
validation: a separate reading of the API catches octoplan's mistakes instead of repeating them.

Refusals and their answers (HTTP 400 unless said otherwise; codes marked * are the sandbox's
choice where no source gives one)::

    101  401  api-login / api-key missing or wrong
    102       text longer than 1224 characters
    103       recipients missing or empty
    104       not enough credit
    106       sender not 3-11 letters, digits or spaces (any name for RCS)
    107       text missing or empty
    117       a recipient without a valid address (E.164 number, e-mail, live-chat key)
    120       request_id already accepted in the last 24 h
    121       marketing SMS without "STOP au 30101"
    131       ticket unknown (cancel, status, send)
    132*      campaign can no longer be cancelled (sent, or starts within 10 minutes)
    133*      list campaign not ready to be sent (still under computation, or failed)
    442       voice language not supported        (nested under "errors", as documented)
    2005      invalid e-mail address
    400       other payload errors: {"code": 400, "message": "Payload validation error.",
              "errors": {"<field>": {"code": N, "message": "..."}}} e.g. more than 500
              recipients, a personalization value over 50 characters, a bad send_at

Like the real API, unknown fields are ignored and a wrong `purpose` or `type` falls back to the
default (`wholesale`, `sms_premium`), which is stricter, never looser.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

MAX_TEXT = 1224
MAX_EMAIL_TEXT = 100_000
MAX_RECIPIENTS = 500
MAX_FIELD = 50
MAX_SUBJECT = 1000
CHANNELS = ("sms", "voice_sms", "rcs", "email", "live_chat")
VOICE_LANGUAGES = frozenset(
    {"en-US", "en-GB", "el-GR", "pl-PL", "hu-HU", "sv-SE", "de-DE"}
    | {"es-ES", "es-LA", "fr-FR", "it-IT", "pt-BR", "ru-RU"}
)
PERSONAL_FIELDS = ("first_name", "last_name", "param1", "param2", "param3", "param4", "param5")
_PERSONAL_SET = frozenset(PERSONAL_FIELDS)

MSG_AUTH = "Authentication failed: send valid api-login and api-key headers."
MSG_REQUEST_ID_USED = "request_id already used."
MSG_STOP = "Mention STOP is missing."
MSG_CREDIT = "Not enough credit."
MSG_NOT_FOUND = "Campaign not found."
MSG_TOO_LATE = "Campaign can no longer be cancelled."
MSG_NOT_READY = "Campaign is not ready to be sent."
MSG_BAD_EMAIL = "[destination email] field should be valid."
MSG_NO_VALID_RECIPIENT = "[recipients] field does not contain any valid recipient."
MSG_PAYLOAD = "Payload validation error."

_PHONE = re.compile(r"\+[1-9][0-9]{6,14}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_SENDER = re.compile(r"[A-Za-z0-9 ]{3,11}")
_STOP = re.compile(r"STOP au 30101", re.IGNORECASE)
_PLACEHOLDER = re.compile(r"\{(first_name|last_name|param[1-5])\}")


class Refusal(Exception):
    """An answer other than success; `body` is the JSON the API sends back."""

    def __init__(
        self,
        code: int,
        message: str,
        *,
        status: int = 400,
        errors: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.body: dict[str, Any] = {"code": code, "message": message}
        if errors:
            self.body["errors"] = errors

    @property
    def reported_code(self) -> int:
        """The most specific code: a nested field error's, else the top-level one."""
        errors = self.body.get("errors")
        if errors:
            first = next(iter(errors.values()))
            return int(first["code"])
        return self.code


def field_error(field: str, code: int, message: str) -> Refusal:
    return Refusal(400, MSG_PAYLOAD, errors={field: {"code": code, "message": message}})


def _optional_str(value: Any) -> str | None:
    # The API casts what it can: numbers become strings, null stays absent.
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    return None


def truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def check_text(body: Mapping[str, Any], *, limit: int = MAX_TEXT) -> str:
    text = _optional_str(body.get("text"))
    if not text:
        raise Refusal(107, "[text] field is required.")
    if len(text) > limit:
        raise Refusal(102, f"[text] field must contain from 1 to {limit} characters.")
    return text


def check_sender(body: Mapping[str, Any], *, channel: str) -> str | None:
    sender = _optional_str(body.get("sender"))
    if sender is None or sender == "":
        return None
    if channel != "rcs" and not _SENDER.fullmatch(sender):
        raise Refusal(106, "[sender] field should contain 3 to 11 alphanumeric characters.")
    return sender


def check_purpose(body: Mapping[str, Any]) -> str:
    return "alert" if body.get("purpose") == "alert" else "wholesale"


def check_stop(text: str, purpose: str) -> None:
    if purpose == "wholesale" and not _STOP.search(text):
        raise Refusal(121, MSG_STOP)


def check_send_at(body: Mapping[str, Any]) -> datetime | None:
    value = body.get("send_at")
    if value is None or value == "":
        return None
    try:
        when = datetime.fromisoformat(str(value))
    except ValueError:
        raise field_error(
            "send_at", 400, "[send_at] field should be an ISO 8601 date-time."
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def check_voice_language(value: Any) -> str:
    if value is None:
        return "fr-FR"
    language = str(value)
    if language not in VOICE_LANGUAGES:
        raise field_error("voice_language", 442, "Voice language not supported.")
    return language


def check_recipients(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    recipients = body.get("recipients")
    if not isinstance(recipients, list) or not recipients:
        raise Refusal(103, "[recipients] field is required.")
    if len(recipients) > MAX_RECIPIENTS:
        raise field_error(
            "recipients",
            400,
            f"[recipients] field must not contain more than {MAX_RECIPIENTS} contacts.",
        )
    for index, recipient in enumerate(recipients):
        if not isinstance(recipient, dict):
            raise Refusal(117, f"[recipients.{index}] field should be a contact object.")
    return recipients


def phone_of(recipient: Mapping[str, Any], index: int) -> str:
    number = recipient.get("phone_number")
    if type(number) is not str:
        number = _optional_str(number)
    if number is None or not _PHONE.fullmatch(number):
        raise Refusal(
            117, f"[recipients.{index}.phone_number] field should be a valid phone number."
        )
    return number


def email_of(recipient: Mapping[str, Any]) -> str:
    address = _optional_str(recipient.get("email"))
    if address is None or not _EMAIL.fullmatch(address):
        raise Refusal(2005, MSG_BAD_EMAIL)
    return address


def live_chat_key_of(recipient: Mapping[str, Any]) -> str:
    """The conversation is tried first, then the phone number, then the e-mail."""
    conversation = _optional_str(recipient.get("conversation_id"))
    if conversation and _UUID.fullmatch(conversation):
        return conversation
    number = _optional_str(recipient.get("phone_number"))
    if number and _PHONE.fullmatch(number):
        return number
    address = _optional_str(recipient.get("email"))
    if address and _EMAIL.fullmatch(address):
        return address
    raise Refusal(117, MSG_NO_VALID_RECIPIENT)


def check_email_address(value: Any, field: str) -> None:
    if value is not None and not _EMAIL.fullmatch(str(value)):
        raise Refusal(2005, f"[{field}] field should be valid.")


def check_personal_fields(recipient: Mapping[str, Any], index: int) -> None:
    """Each personalization value is at most 50 characters (FACTS.md)."""
    for name in _PERSONAL_SET.intersection(recipient):
        value = recipient[name]
        if value is not None and len(str(value)) > MAX_FIELD:
            field = f"recipients.{index}.{name}"
            raise field_error(
                field, 400, f"[{field}] field must not exceed {MAX_FIELD} characters."
            )


class Template:
    """A text split once at its placeholders, then filled per recipient.

    `{first_name}`, `{last_name}`, `{param1}`..`{param5}` take the recipient's value; a missing
    or null one is empty. One pass: a value that itself holds `{param2}` is delivered as written.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        pieces = _PLACEHOLDER.split(text)
        literals = [p.replace("{", "{{").replace("}", "}}") for p in pieces[0::2]]
        self.names: tuple[str, ...] = tuple(pieces[1::2])
        # str.format with positional fields: the fastest fill CPython offers.
        fields = [f"{{{i}}}" for i in range(len(self.names))]
        self._format = literals[0] + "".join(
            f + lit for f, lit in zip(fields, literals[1:], strict=True)
        )

    def fill(self, recipient: Mapping[str, Any]) -> str:
        if not self.names:
            return self.text
        values = []
        for name in self.names:
            value = recipient.get(name)
            values.append(value if type(value) is str else _optional_str(value) or "")
        return self._format.format(*values)


def phone_messages(
    recipients: list[dict[str, Any]], text: str, *, personalize: bool
) -> list[tuple[str, str]]:
    """(number, text) per recipient, personalized or not; the hot loop of the sandbox."""
    template = Template(text) if personalize else None
    valid_number = _PHONE.fullmatch
    personal = _PERSONAL_SET
    messages: list[tuple[str, str]] = []
    append = messages.append
    for index, recipient in enumerate(recipients):
        number = recipient.get("phone_number")
        if type(number) is not str:
            number = _optional_str(number)
        if number is None or valid_number(number) is None:
            number = phone_of(recipient, index)  # raises the refusal naming this recipient
        if template is None:
            append((number, text))
            continue
        for name in personal.intersection(recipient):
            value = recipient[name]
            if value is not None and len(value if type(value) is str else str(value)) > MAX_FIELD:
                check_personal_fields(recipient, index)  # raises the refusal naming the field
        append((number, template.fill(recipient)))
    return messages


# What `auto_optimize_text` (on unless sent as false) does to SMS text, after FACTS.md:
# transliterate to GSM-7 and trim spaces; `œ` and emoji are left alone.
_OPTIMIZE = str.maketrans(
    {
        "ç": "c",
        "â": "a",
        "ê": "e",
        "î": "i",
        "ô": "o",
        "û": "u",
        "ë": "e",
        "ï": "i",
        "\u2019": "'",
        "\u2018": "'",
        "\u201c": '"',
        "\u201d": '"',
        "«": '"',
        "»": '"',
        "\u00a0": " ",
        "\u202f": " ",
        "\u2026": "...",
        "\u2013": "-",
        "\u2014": "-",
    }
)
_SPACES = re.compile(r" {2,}")


def optimize_text(text: str) -> str:
    if text.isascii():
        if "  " not in text and text == text.strip(" "):
            return text
        return _SPACES.sub(" ", text).strip(" ")
    return _SPACES.sub(" ", text.translate(_OPTIMIZE)).strip(" ")
