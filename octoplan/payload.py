"""A campaign as Octopush request bodies: which endpoint, which shape, where the request_id goes.

The channel table (octoplan/channels.py) says which flow a channel's sends take and where each
option goes. SMS go through `sms-campaign/send`, whose recipients carry
first_name/last_name/param1..5 and whose text the API personalizes (`{first_name}`...), with
top-level `type`, `with_replies` and `request_id`. Every other channel goes through
`multi-channel/send` (voice on a list excepted), with channel options and the request_id under
`metadata`; octoplan assumes that endpoint does not personalize (FACTS.md only says the SMS and
voice list endpoints do), so its texts are sent final.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from octoplan import channels
from octoplan.channels import PHONE_FIELD, SendFlow
from octoplan.model import Campaign

SMS_SEND = SendFlow.SMS_CAMPAIGN.endpoints.send
MULTI_SEND = SendFlow.MULTI_CHANNEL.endpoints.send
VOICE_LIST_CREATE = SendFlow.VOICE_LIST.endpoints.send

IDENTITY_FIELDS = channels.IDENTITY_FIELDS
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
    route = channels.get(campaign.channel).route_for(campaign.on_list)
    flow = route.flow
    _copy_options(campaign, route.top_level, base)
    metadata: dict[str, Any] = {}
    _copy_options(campaign, route.metadata, metadata)
    if flow.names_channel:
        base["channel"] = campaign.channel
    if metadata:
        base["metadata"] = metadata
    return RequestShape(
        endpoint=flow.endpoints.send,
        personalizes=flow.personalizes,
        request_id_in_metadata=flow.request_id_in_metadata,
        base=base,
        # Where the API personalizes, recipients carry the fields it substitutes.
        recipient_fields=(PHONE_FIELD, *PERSONAL_FIELDS) if flow.personalizes else IDENTITY_FIELDS,
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
