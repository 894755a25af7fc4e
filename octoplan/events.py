"""What an Octopush callback says: raw bytes in, facts out. No I/O here.

Octopush posts JSON (newer API) or form fields (older pages) to the callback URL, and the type
of a callback is told by which fields are present (`../shared/octopush-api/FACTS.md`, Webhooks):

- a delivery report has `status` (with `number` or `message_id`), or, for e-mail, a
  `deliveries` list whose entries carry their own `status`/`status_history`;
- an opt-out has `stop_date`; an inbound reply has `reception_date` (or `text` and `number`).
  An inbound reply whose first word is STOP is an opt-out too: someone who typed STOP asked
  to be left alone, whichever callback carried it.

Anything else is kept as received and reported as unmatched (`Kind.UNKNOWN`/`MALFORMED`).

Dates come without a time zone (`Y-m-d H:i:s`): they are Europe/Paris wall-clock times. An hour
that happens twice (the last Sunday of October) is read as its first occurrence; ISO 8601 with an
offset is read as written. A callback without a readable date is dated when it was received.

Phone numbers are normalized to E.164 with the project's region, as contacts are, so a report
names the same recipient key as state; e-mails are lower-cased.

`dedup_key` decides when two callbacks are "the same callback" (see its docstring).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

import phonenumbers

from octoplan import channels
from octoplan.channels import EMAIL_FIELD
from octoplan.phones import normalize_phones

CALLBACK_TIMEZONE = ZoneInfo("Europe/Paris")
PHONE_CHANNELS = tuple(c.name for c in channels.ALL if c.phone)


class Kind(StrEnum):
    DELIVERY = "delivery"
    STOP = "stop"
    REPLY = "reply"
    UNKNOWN = "unknown"  # fields of no known callback type
    MALFORMED = "malformed"  # not JSON or form data, or a known type with an unreadable field
    OVERSIZED = "oversized"  # refused at the door (over the size limit): kept as a trace


# Delivery statuses: final ones settle a recipient; the others are on the way.
DELIVERED = frozenset({"DELIVERED", "READ", "OPENED", "CLICKED"})
NOT_DELIVERED = frozenset(
    {
        "NOT_DELIVERED",
        "NOT_ALLOWED",
        "UNKNOWN_DELIVERY",
        "BAD_DESTINATION",
        "BLACKLISTED_NUMBER",
        "UNDEFINED",
        "BUSY",
        "REFUSED",
        "NOT_DELIVERABLE",
        "BOUNCED",
    }
)
# ACK, TRANSMITTED, ISP_SEND, PROCESSED and any status not listed above: not final.

# How callbacks spell each channel (octoplan/channels.py), in `channel` and in message ids.
_CHANNEL_NAMES = {word: c.name for c in channels.ALL for word in c.callback_spellings}
_MESSAGE_ID_CHANNEL = {c.message_id_prefix: c.name for c in channels.ALL if c.message_id_prefix}
# A report that names no channel (older SMS pages) is an SMS one.
_DEFAULT_CHANNEL = channels.SMS.name
_STOP_WORD = re.compile(r"\s*stop\b", re.IGNORECASE)
_LOCAL_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?")
_DATE_FIELDS = {
    Kind.DELIVERY: "delivery_date",
    Kind.STOP: "stop_date",
    Kind.REPLY: "reception_date",
}


@dataclass(frozen=True, slots=True)
class Fact:
    """One thing a callback says about one recipient (a callback may say several)."""

    kind: Kind
    channel: str | None = None  # sms, voice_sms, rcs, email, live_chat; None: not told
    recipient: str | None = None  # the recipient key (E.164, lower-cased e-mail), if readable
    status: str | None = None  # delivery status, upper-case
    message_id: str | None = None
    occurred_at: datetime | None = None  # UTC; None: no date given (see `dated`)
    problem: str | None = None  # why it cannot be used (kept, reported as unmatched)

    @property
    def final(self) -> bool:
        return self.status in DELIVERED or self.status in NOT_DELIVERED


def is_stop(text: str) -> bool:
    """A reply meaning "no more marketing": its first word is STOP (any case)."""
    return bool(_STOP_WORD.match(text))


# -- reading the body ------------------------------------------------------------------------


def parse_body(content_type: str, body: bytes) -> Any:
    """The payload as JSON values (form fields become a dict of strings), or None."""
    kind = content_type.partition(";")[0].strip().lower()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if kind == "application/x-www-form-urlencoded":
        return _form(text)
    if kind.endswith("json") or text.lstrip()[:1] in ("{", "["):
        try:
            return json.loads(text)
        except ValueError:
            return None
    return _form(text)


def _form(text: str) -> dict[str, str] | None:
    try:
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        return None
    return dict(pairs) if pairs else None


# -- identity of a callback ------------------------------------------------------------------


def dedup_key(content_type: str, body: bytes) -> str:
    """What makes two callbacks one event, as a hash (no number in clear in the index).

    - delivery report: its message_id and status (the same message may be reported ACK, then
      DELIVERED: two events); without a message_id, channel, number, status and date;
    - opt-out: number, stop_date and message_id; inbound reply: number, reception_date,
      message_id and text;
    - e-mail `deliveries` lists, and anything unreadable: the exact bytes of the body.

    So a callback posted twice, even with fields added or reordered, is stored once."""
    payload = parse_body(content_type, body)
    identity: list[str] | None = None
    if isinstance(payload, dict) and "deliveries" not in payload:
        kind = _kind_of(payload)
        if kind is Kind.DELIVERY:
            message_id = _text(payload.get("message_id"))
            if message_id:
                identity = ["delivery", message_id, _text(payload.get("status")).upper()]
            else:
                identity = [
                    "delivery",
                    _text(payload.get("channel")).lower(),
                    _text(payload.get("number")),
                    _text(payload.get("status")).upper(),
                    _text(payload.get("delivery_date")),
                ]
        elif kind is Kind.STOP:
            identity = [
                "stop",
                _text(payload.get("number")),
                _text(payload.get("stop_date")),
                _text(payload.get("message_id")),
            ]
        elif kind is Kind.REPLY:
            identity = [
                "reply",
                _text(payload.get("number")),
                _text(payload.get("reception_date")),
                _text(payload.get("message_id")),
                _text(payload.get("text")),
            ]
    if identity is None:
        return "body:" + hashlib.sha256(body).hexdigest()
    # Fields never hold US (0x1F) in a way that matters: a join is canonical enough, and cheap.
    canonical = "\x1f".join(identity)
    return identity[0] + ":" + hashlib.sha256(canonical.encode()).hexdigest()


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool | int | float):
        return str(value)
    return str(json.dumps(value, sort_keys=True))


def _kind_of(payload: Mapping[str, Any]) -> Kind:
    if "stop_date" in payload:
        return Kind.STOP
    if "status" in payload and ("number" in payload or "message_id" in payload):
        return Kind.DELIVERY
    if "reception_date" in payload or ("text" in payload and "number" in payload):
        return Kind.REPLY
    return Kind.UNKNOWN


# -- interpreting ----------------------------------------------------------------------------


def interpret(content_type: str, body: bytes, received_at: datetime, region: str) -> list[Fact]:
    """The facts of one stored callback. Never raises: what cannot be read is a fact with a
    problem, so that it is reported rather than lost."""
    payload = parse_body(content_type, body)
    if payload is None:
        return [Fact(Kind.MALFORMED, problem="the body is neither JSON nor form data")]
    if not isinstance(payload, dict):
        return [Fact(Kind.MALFORMED, problem="the body is not a JSON object")]
    deliveries = payload.get("deliveries")
    if deliveries is not None:
        return _email_deliveries(deliveries, received_at)
    kind = _kind_of(payload)
    if kind is Kind.UNKNOWN:
        return [Fact(Kind.UNKNOWN, problem="no known callback type has these fields")]
    return [_one(kind, payload, received_at, region)]


def _one(kind: Kind, payload: Mapping[str, Any], received_at: datetime, region: str) -> Fact:
    message_id = _text(payload.get("message_id")) or None
    when = _date(payload.get(_DATE_FIELDS[kind]), received_at)
    raw_number = _text(payload.get("number"))
    channel = _channel(payload.get("channel"), message_id)
    if kind is Kind.REPLY and is_stop(_text(payload.get("text"))):
        kind = Kind.STOP
    if kind is Kind.DELIVERY:
        status = _text(payload.get("status")).upper()
        if channel == channels.EMAIL.name or "@" in raw_number:
            recipient = _email(raw_number)
            channel = channels.EMAIL.name
        else:
            recipient = normalize_number(raw_number, region)
        problem = None
        if not status:
            problem = "the delivery report has an empty status"
        elif recipient is None:
            problem = f"the recipient {_shown(raw_number)} is not a valid number or e-mail"
        return Fact(
            kind,
            channel=channel or _DEFAULT_CHANNEL,
            recipient=recipient,
            status=status or None,
            message_id=message_id,
            occurred_at=when,
            problem=problem,
        )
    recipient = normalize_number(raw_number, region)
    problem = None
    if recipient is None:
        problem = f"the number {_shown(raw_number)} is not a valid phone number"
    return Fact(
        kind,
        channel=channel,
        recipient=recipient,
        message_id=message_id,
        occurred_at=when,
        problem=problem,
    )


def _email_deliveries(deliveries: Any, received_at: datetime) -> list[Fact]:
    if not isinstance(deliveries, list) or not deliveries:
        return [Fact(Kind.MALFORMED, problem="`deliveries` is not a non-empty list")]
    facts: list[Fact] = []
    for entry in deliveries:
        if not isinstance(entry, dict):
            facts.append(Fact(Kind.MALFORMED, problem="a `deliveries` entry is not an object"))
            continue
        # The address under the API's own field name (a send's recipients[].email), or others.
        raw = _text(entry.get(EMAIL_FIELD) or entry.get("recipient") or entry.get("to"))
        status = _text(entry.get("status")).upper()
        date_value = entry.get("date") or entry.get("delivery_date")
        history = entry.get("status_history")
        if isinstance(history, list) and history and isinstance(history[-1], dict):
            last = history[-1]
            status = status or _text(last.get("status")).upper()
            date_value = date_value or last.get("date")
        when = _date(date_value, received_at)
        recipient = _email(raw)
        problem = None
        if not status:
            problem = "the delivery report has an empty status"
        elif recipient is None:
            problem = f"the recipient {_shown(raw)} is not a valid e-mail address"
        facts.append(
            Fact(
                Kind.DELIVERY,
                channel=channels.EMAIL.name,
                recipient=recipient,
                status=status or None,
                message_id=_text(entry.get("message_id")) or None,
                occurred_at=when,
                problem=problem,
            )
        )
    return facts


def _channel(value: Any, message_id: str | None) -> str | None:
    name = _CHANNEL_NAMES.get(_text(value).lower())
    if name is not None:
        return name
    if message_id:  # e.g. sms_5fa..., voice_...
        return _MESSAGE_ID_CHANNEL.get(message_id.partition("_")[0].lower())
    return None


def _shown(raw: str) -> str:
    """A value for a problem message: personal data stays out of it."""
    return "(empty)" if not raw else f"({len(raw)} characters)"


def _date(value: Any, received_at: datetime) -> datetime:
    """The UTC date of a callback; a missing or unreadable date is the reception time (the
    event happened before its callback arrived)."""
    parsed = parse_callback_date(_text(value))
    return received_at if parsed is None else parsed


def parse_callback_date(text: str) -> datetime | None:
    """`Y-m-d H:i:s` in Europe/Paris (no zone given), or ISO 8601 with an offset, in UTC."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        if not _LOCAL_TIME.fullmatch(text.strip()):
            return None
        moment = moment.replace(tzinfo=CALLBACK_TIMEZONE, fold=0)
    return moment.astimezone(UTC)


def normalize_number(raw: str, region: str) -> str | None:
    """E.164 of a number as callbacks (or a person) write it: `+33612345678`,
    `0033612345678`, `33612345678` (international digits without +) or `06 12 34 56 78`
    (national, in `region`); None if it is none of these."""
    text = raw.strip()
    if not text or len(text) > 40:
        return None
    candidates = [text]
    digits = re.sub(r"[\s.()-]", "", text)
    if digits.isdigit() and not digits.startswith("0"):
        candidates.insert(0, "+" + digits)  # a callback's international number without +
    for candidate in candidates:
        # The contacts' fast path first (a regex, not a full parse: reports come by thousands).
        # As a call would: any number that can ring, mobile or not.
        (fast,) = normalize_phones([candidate], region, channels.VOICE_SMS.name)
        if fast is not None:
            return fast
        try:
            number = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
    return None


def _email(raw: str) -> str | None:
    address = raw.strip().lower()
    local, at, domain = address.partition("@")
    if not at or not local or "." not in domain or any(c.isspace() for c in address):
        return None
    return address
