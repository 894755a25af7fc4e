"""The text a recipient got, rebuilt from a request body as state keeps it
(octoplan/sentdiff.py, `delivered`): personalized where the endpoint personalizes,
transliterated as the API does unless the request said not to, None when it cannot tell."""

from __future__ import annotations

from typing import Any

import pytest

from octoplan.payload import SMS_SEND, VOICE_LIST_CREATE
from octoplan.sentdiff import delivered

ZOE = "+33612345678"
BODY: dict[str, Any] = {
    "text": "Bonjour {first_name} – l’été",
    "recipients": [
        {"phone_number": "+33600000001", "first_name": "Ana"},
        {"phone_number": ZOE, "first_name": "Zoé"},
    ],
}


def test_an_sms_is_personalized_and_transliterated_as_the_api_does() -> None:
    assert delivered(SMS_SEND, BODY, ZOE) == "Bonjour Zoé - l'été"
    assert delivered(SMS_SEND, {**BODY, "auto_optimize_text": False}, ZOE) == (
        "Bonjour Zoé – l’été"
    )


def test_a_voice_list_is_personalized_and_never_transliterated() -> None:
    assert delivered(VOICE_LIST_CREATE, BODY, ZOE) == "Bonjour Zoé – l’été"


def test_a_multi_channel_text_is_sent_as_written() -> None:
    # That endpoint's texts are final: octoplan writes each recipient's text whole.
    assert delivered("multi-channel/send", BODY, ZOE) == BODY["text"]


@pytest.mark.parametrize(
    "body",
    [
        BODY,  # the recipient is not in this request
        {**BODY, "recipients": "not a list"},
        {"recipients": BODY["recipients"]},  # no text
        {**BODY, "text": 42},
    ],
)
def test_a_body_that_does_not_say_what_the_recipient_got_gives_none(body: dict[str, Any]) -> None:
    recipient = "+33699999999" if body is BODY else ZOE
    assert delivered(SMS_SEND, body, recipient) is None
