"""A campaign as Octopush request bodies: which endpoint, which shape, where the request_id goes.

SMS go through `sms-campaign/send`, whose recipients carry first_name/last_name/param1..5 and
whose text the API personalizes (`{first_name}`...), with top-level `type`, `with_replies` and
`request_id`. Every other channel goes through `multi-channel/send`, with channel options and the
request_id under `metadata`; octoplan assumes that endpoint does not personalize (FACTS.md only
says the SMS and voice list endpoints do), so its texts are sent final.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from octoplan.model import Campaign

SMS_SEND = "sms-campaign/send"
MULTI_SEND = "multi-channel/send"
VOICE_LIST_CREATE = "voice-campaign-on-list/create"

IDENTITY_FIELDS = ("phone_number", "email", "conversation_id")
PERSONAL_FIELDS = ("first_name", "last_name", "param1", "param2", "param3", "param4", "param5")

# Top-level options shared by both endpoints, passed through when declared.
_COMMON = (
    "sender",
    "purpose",
    "list_name",
    "simulation_mode",
    "recipient_tracking",
    "auto_optimize_text",
    "auto_delete_optout_contacts",
    "optout_filtering",
)
# Options the SMS endpoint takes at the top level and multi-channel/send under metadata.
_SMS_TOP = ("type", "with_replies")
_METADATA = (
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
)


@dataclass(frozen=True)
class RequestShape:
    endpoint: str
    personalizes: bool  # the API substitutes {first_name}... per recipient
    request_id_in_metadata: bool
    base: Mapping[str, Any]  # every option of the body except text, recipients, request_id
    recipient_fields: tuple[str, ...]  # which contact fields travel in `recipients`

    def body(self, text: str, recipients: list[Mapping[str, str]]) -> dict[str, Any]:
        body = dict(self.base)
        if "metadata" in body:
            body["metadata"] = dict(body["metadata"])
        body["text"] = text
        body["recipients"] = [
            {k: r[k] for k in self.recipient_fields if k in r} for r in recipients
        ]
        return body


def options_of(request: RequestShape) -> dict[str, Any]:
    """What, besides the text, makes two sends different (see ids.options_digest)."""
    return {"endpoint": request.endpoint, **request.base}


def _copy_options(campaign: Campaign, names: tuple[str, ...], into: dict[str, Any]) -> None:
    """Declared options (top level or metadata form) into a request body part."""
    for name in names:
        value = campaign.option(name)
        if value is not None:
            into[name] = value


def shape(campaign: Campaign) -> RequestShape:
    base: dict[str, Any] = {}
    for name in _COMMON:
        value = getattr(campaign, name)
        if value is not None:
            base[name] = value
    if campaign.send_at is not None:
        base["send_at"] = campaign.send_at.isoformat()
    if campaign.channel == "sms":
        _copy_options(campaign, _SMS_TOP, base)
        return RequestShape(
            endpoint=SMS_SEND,
            personalizes=True,
            request_id_in_metadata=False,
            base=base,
            recipient_fields=("phone_number", *PERSONAL_FIELDS),
        )
    if campaign.channel == "voice_sms" and campaign.on_list:
        # The four-step list flow (create, status, send): voice options at the top level,
        # and the API personalizes {first_name}... as on the SMS endpoint.
        _copy_options(campaign, ("voice_gender", "voice_language"), base)
        return RequestShape(
            endpoint=VOICE_LIST_CREATE,
            personalizes=True,
            request_id_in_metadata=False,
            base=base,
            recipient_fields=("phone_number", *PERSONAL_FIELDS),
        )
    metadata: dict[str, Any] = {}
    _copy_options(campaign, _METADATA, metadata)
    base["channel"] = campaign.channel
    if metadata:
        base["metadata"] = metadata
    return RequestShape(
        endpoint=MULTI_SEND,
        personalizes=False,
        request_id_in_metadata=True,
        base=base,
        recipient_fields=IDENTITY_FIELDS,
    )


def options_of_body(endpoint: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """`options_of` read back from a journaled body: the body without its text, recipients and
    request_id (batches journaled before the options were recorded with them)."""
    base = {k: v for k, v in body.items() if k not in ("text", "recipients", "request_id")}
    metadata = base.get("metadata")
    if isinstance(metadata, dict):
        kept = {k: v for k, v in metadata.items() if k != "request_id"}
        if kept:
            base["metadata"] = kept
        else:
            del base["metadata"]  # it held the request_id only
    return {"endpoint": endpoint, **base}
