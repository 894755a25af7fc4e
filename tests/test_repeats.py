"""The 30-day guard's pieces (octoplan.repeats); end to end in tests/test_renames_cli.py."""

from __future__ import annotations

import json
from typing import Any

import pytest

from octoplan.ids import canonical_json
from octoplan.model import Campaign
from octoplan.payload import options_of, options_of_body, shape

CAMPAIGNS: list[dict[str, Any]] = [
    {"channel": "sms", "purpose": "alert", "sender": "ShopX", "type": "sms_low_cost"},
    {"channel": "sms", "send_at": "2026-11-27T09:00:00+01:00", "with_replies": True},
    {"channel": "voice_sms", "on_list": True, "list_name": "rappel", "voice_language": "fr-FR"},
    {"channel": "voice_sms", "metadata": {"voice_gender": "female"}},
    {"channel": "email", "metadata": {"subject": "Soldes", "email_from": "a@b.fr"}},
    {"channel": "rcs", "sender": "ShopX"},
    {"channel": "live_chat"},
]


@pytest.mark.parametrize("fields", CAMPAIGNS, ids=lambda f: str(f["channel"]))
def test_a_journaled_body_gives_back_the_options_its_hashes_were_keyed_with(
    fields: dict[str, Any],
) -> None:
    """Batches journaled before schema 3 have no key recorded: read back from their body,
    it must be the very options the content hashes were made with."""
    request = shape(Campaign.model_validate({"id": "c", "text": "Hi", **fields}))
    body = request.body("Bonjour", [{"phone_number": "+33612345678"}])
    if request.request_id_in_metadata:
        body["metadata"] = {**body.get("metadata", {}), "request_id": "op-1"}
    else:
        body["request_id"] = "op-1"
    journaled = json.loads(canonical_json(body))
    assert options_of_body(request.endpoint, journaled) == options_of(request)
