"""The sandbox over real HTTP: the pages' examples, validation, dedup, credit, faults, restarts.

Requests go through plain httpx (not octoplan's client), so these tests hold the sandbox to the
API pages on their own.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from octoplan.sandbox import SandboxServer, read_deliveries, read_requests
from octoplan.sandbox.rules import Template
from tests.fixtures.sandbox import SandboxFactory

HEADERS = {"api-key": "************", "api-login": "someone@email.org"}
STOP = "STOP au 30101"


@pytest.fixture
def http(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.base_url + "/", headers=HEADERS) as client:
        yield client


def sms(text: str = f"Promo -30% {STOP}", *numbers: str, **extra: Any) -> dict[str, Any]:
    recipients = [{"phone_number": n} for n in numbers or ("+33612345678",)]
    return {"text": text, "recipients": recipients, **extra}


def delete(http: httpx.Client, path: str, body: dict[str, Any]) -> httpx.Response:
    return http.request("DELETE", path, json=body)


# -- the pages' examples ----------------------------------------------------------------------


def test_transactional_sms_page_curl_example(http: httpx.Client, sandbox: SandboxServer) -> None:
    body = {
        "recipients": [{"phone_number": "+336000123"}],
        "text": "This is a Premium SMS with STOP mention. STOP to 30101",
        "type": "sms_premium",
        "purpose": "alert",
        "sender": "Company X",
    }
    response = http.post("sms-campaign/send", json=body)
    assert response.status_code == 201
    answer = response.json()
    assert set(answer) == {
        "sms_ticket",
        "number_of_contacts",
        "total_cost",
        "number_of_sms_needed",
        "residual_credit",
    }
    assert answer["sms_ticket"].startswith("sms_")
    assert answer["number_of_contacts"] == 1
    assert answer["number_of_sms_needed"] == 1
    assert answer["total_cost"] == 0.045
    assert answer["residual_credit"] == 999.955
    [delivery] = sandbox.deliveries()
    assert (delivery.recipient, delivery.text, delivery.sender) == (
        "+336000123",
        body["text"],
        "Company X",
    )
    assert (delivery.ticket, delivery.purpose, delivery.status) == (
        answer["sms_ticket"],
        "alert",
        "delivered",
    )


def test_sms_campaign_page_bad_request_stop_missing(http: httpx.Client) -> None:
    body = sms("Soldes -30% ce week-end", purpose="wholesale")
    response = http.post("sms-campaign/send", json=body)
    assert response.status_code == 400
    assert response.json() == {"code": 121, "message": "Mention STOP is missing."}


def test_stop_mention_is_required_when_purpose_is_absent_and_ignores_case(
    http: httpx.Client,
) -> None:
    assert http.post("sms-campaign/send", json=sms("Soldes")).json()["code"] == 121
    assert http.post("sms-campaign/send", json=sms("Soldes stop AU 30101")).status_code == 201
    assert http.post("sms-campaign/send", json=sms("Code 1234", purpose="alert")).status_code == 201


MULTICHANNEL_EXAMPLES: dict[str, dict[str, Any]] = {
    "sms": {
        "channel": "sms",
        "text": "Hello, this is a test message.",
        "recipients": [{"phone_number": "+33111222333"}, {"phone_number": "+33111222334"}],
        "sender": "SenderName",
        "send_at": "2024-12-19T10:00:00-07:00",
        "purpose": "alert",
        "list_name": "sms_list",
        "simulation_mode": False,
        "recipient_tracking": True,
        "auto_optimize_text": True,
        "auto_delete_optout_contacts": True,
        "metadata": {"type": "sms_premium", "with_replies": True},
    },
    "voice_sms": {
        "channel": "voice_sms",
        "text": "Hello, this is a voice message test.",
        "recipients": [{"phone_number": "+33111222333"}, {"phone_number": "+33111222334"}],
        "sender": "SenderName",
        "send_at": "2024-12-19T10:00:00-07:00",
        "purpose": "alert",
        "list_name": "voice_sms_list",
        "simulation_mode": False,
        "auto_delete_optout_contacts": True,
        "metadata": {
            "type": "voice_sms",
            "voice_gender": "male",
            "voice_language": "en-US",
            "get_back_pressed_keys": True,
        },
    },
    "rcs": {
        "channel": "rcs",
        "text": "Hello, this is a test RCS message.",
        "recipients": [{"phone_number": "+33111222333"}, {"phone_number": "+33111222334"}],
        "sender": "***",
        "send_at": "2024-12-19T10:00:00-07:00",
        "purpose": "alert",
        "list_name": "rcs_list",
        "simulation_mode": False,
        "auto_delete_optout_contacts": True,
        "metadata": {"with_replies": True},
    },
    # The page's addresses are hidden by its web host ("[email protected]"): real ones here.
    "email": {
        "channel": "email",
        "text": "This is the content of your email.",
        "recipients": [{"email": "axelle@example.com"}, {"email": "john@example.com"}],
        "sender": "SenderName",
        "send_at": "2024-12-19T10:00:00-07:00",
        "purpose": "alert",
        "list_name": "email_list",
        "metadata": {
            "email_from": "shop@example.com",
            "name_from": "Sender Name",
            "subject": "Test Email",
            "emailing_service": "gateway",
            "template_name": "welcome_email_template",
        },
    },
    "live_chat": {
        "channel": "live_chat",
        "text": "Hello, this is a live chat message.",
        "recipients": [
            {"phone_number": "+33111222333"},
            {"email": "axelle@example.com"},
            {"conversation_id": "00000000-0000-0000-0000-000000000001"},
        ],
        "sender": "AgentName",
    },
}


def test_multichannel_sms_example(http: httpx.Client, sandbox: SandboxServer) -> None:
    response = http.post("multi-channel/send", json=MULTICHANNEL_EXAMPLES["sms"])
    assert response.status_code == 201
    answer = response.json()
    assert answer["sms_ticket"].startswith("sms_")
    assert answer["number_of_contacts"] == 2
    assert answer["number_of_sms_needed"] == 2
    assert [(d.recipient, d.status) for d in sandbox.deliveries()] == [
        ("+33111222333", "delivered"),
        ("+33111222334", "delivered"),
    ]


def test_multichannel_voice_example(http: httpx.Client) -> None:
    response = http.post("multi-channel/send", json=MULTICHANNEL_EXAMPLES["voice_sms"])
    assert response.status_code == 201
    answer = response.json()
    assert answer["ticket_number"].startswith("voice_")
    assert answer["number_of_contacts"] == 2
    assert answer["total_cost"] == 0.1
    assert answer["estimated_duration"] == 30
    assert answer["residual_credit"] == 999.9


@pytest.mark.parametrize(("channel", "prefix"), [("rcs", "rcs_"), ("email", "email_")])
def test_multichannel_rcs_and_email_examples(
    http: httpx.Client, sandbox: SandboxServer, channel: str, prefix: str
) -> None:
    response = http.post("multi-channel/send", json=MULTICHANNEL_EXAMPLES[channel])
    assert response.status_code == 201
    answer = response.json()
    assert set(answer) == {"ticket_number", "number_of_contacts", "total_cost", "residual_credit"}
    assert answer["ticket_number"].startswith(prefix)
    assert answer["number_of_contacts"] == 2
    assert {d.channel for d in sandbox.deliveries()} == {channel}


def test_multichannel_live_chat_example(http: httpx.Client, sandbox: SandboxServer) -> None:
    response = http.post("multi-channel/send", json=MULTICHANNEL_EXAMPLES["live_chat"])
    assert response.status_code == 201
    assert response.json() == {
        "ticket_number": None,
        "number_of_contacts": 3,
        "total_cost": 0.0,
        "residual_credit": 1000.0,
    }
    assert [d.recipient for d in sandbox.deliveries()] == [
        "+33111222333",
        "axelle@example.com",
        "00000000-0000-0000-0000-000000000001",
    ]


def test_multichannel_voice_language_not_supported(http: httpx.Client) -> None:
    body = {**MULTICHANNEL_EXAMPLES["voice_sms"], "metadata": {"voice_language": "xx-XX"}}
    response = http.post("multi-channel/send", json=body)
    assert response.status_code == 400
    assert response.json() == {
        "code": 400,
        "message": "Payload validation error.",
        "errors": {"voice_language": {"code": 442, "message": "Voice language not supported."}},
    }


def test_multichannel_invalid_email(http: httpx.Client, sandbox: SandboxServer) -> None:
    body = {**MULTICHANNEL_EXAMPLES["email"], "recipients": [{"email": "[email protected]"}]}
    response = http.post("multi-channel/send", json=body)
    assert response.status_code == 400
    assert response.json() == {
        "code": 2005,
        "message": "[destination email] field should be valid.",
    }
    assert sandbox.deliveries() == []


def test_live_chat_recipient_without_any_key(http: httpx.Client) -> None:
    body = {**MULTICHANNEL_EXAMPLES["live_chat"], "recipients": [{"first_name": "Axelle"}]}
    response = http.post("multi-channel/send", json=body)
    assert response.status_code == 400
    assert response.json() == {
        "code": 117,
        "message": "[recipients] field does not contain any valid recipient.",
    }


def test_unknown_channel(http: httpx.Client) -> None:
    response = http.post("multi-channel/send", json={**sms(), "channel": "fax"})
    assert response.json() == {
        "code": 400,
        "message": "Payload validation error.",
        "errors": {
            "channel": {
                "code": 400,
                "message": "[channel] field should be one of: "
                "sms, voice_sms, rcs, email, live_chat",
            }
        },
    }


def test_voice_list_page_example_flow(http: httpx.Client, sandbox: SandboxServer) -> None:
    body = {
        "recipients": [{"phone_number": "+442038828112", "first_name": "Alex"}],
        "text": "{first_name}, you have 1 Voice SMS",
        "sender": "12345",
        "voice_gender": "female",
        "voice_language": "en-GB",
    }
    created = http.post("voice-campaign-on-list/create", json=body)
    assert created.status_code == 201
    ticket = created.json()["ticket_number"]
    assert ticket.startswith("voice_")
    assert set(created.json()) == {"ticket_number"}

    not_ready = http.post("voice-campaign-on-list/send", json={"ticket_number": ticket})
    assert not_ready.status_code == 400
    assert not_ready.json() == {"code": 133, "message": "Campaign is not ready to be sent."}

    status = "voice-campaign-on-list/status"
    first = http.get(status, params={"ticket_number": ticket}).json()
    # A voice SMS to the UK: the price table's default for voice_sms (octoplan/prices.py).
    assert first == {"number_of_contacts": 1, "cost": 0.08, "status": "under_computation"}
    second = http.get(status, params={"ticket_number": ticket}).json()
    assert second["status"] == "ready_to_be_sent"
    assert sandbox.deliveries() == []

    sent = http.post("voice-campaign-on-list/send", json={"ticket_number": ticket})
    assert sent.status_code == 200
    assert sent.json()["residual_credit"] == 999.92
    [delivery] = sandbox.deliveries()
    assert (delivery.channel, delivery.recipient, delivery.text) == (
        "voice_sms",
        "+442038828112",
        "Alex, you have 1 Voice SMS",
    )
    again = http.post("voice-campaign-on-list/send", json={"ticket_number": ticket})
    assert again.json() == {"code": 133, "message": "Campaign was already sent."}
    too_late = delete(http, "voice-campaign-on-list/cancel", {"ticket_number": ticket})
    assert too_late.json() == {"code": 132, "message": "Campaign can no longer be cancelled."}


def test_voice_list_page_bad_language(http: httpx.Client) -> None:
    body = {"recipients": [{"phone_number": "+442038828112"}], "text": "Hi", "voice_language": "fr"}
    response = http.post("voice-campaign-on-list/create", json=body)
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "voice_language": {"code": 442, "message": "Voice language not supported."}
    }


def test_voice_list_cancel_before_send_and_failed_without_credit(
    http: httpx.Client, sandbox: SandboxServer
) -> None:
    body = {"recipients": [{"phone_number": "+442038828112"}], "text": "Hi"}
    ticket = http.post("voice-campaign-on-list/create", json=body).json()["ticket_number"]
    cancelled = delete(http, "voice-campaign-on-list/cancel", {"ticket_number": ticket})
    assert cancelled.json() == {"ticket_number": ticket, "status": "cancelled"}
    sent = http.post("voice-campaign-on-list/send", json={"ticket_number": ticket})
    assert sent.json() == {"code": 133, "message": "Campaign was cancelled."}

    sandbox.set_credit(0.01)
    poor = http.post("voice-campaign-on-list/create", json=body).json()["ticket_number"]
    for _ in range(2):
        status = http.get("voice-campaign-on-list/status", params={"ticket_number": poor}).json()
    assert status["status"] == "failed"
    unknown = http.get("voice-campaign-on-list/status", params={"ticket_number": "voice_nope"})
    assert unknown.json() == {"code": 131, "message": "Campaign not found."}


# -- authentication ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [{}, {"api-login": "someone@email.org"}, {"api-key": "k"}, {"api-login": "", "api-key": ""}],
)
def test_401_without_credentials(sandbox: SandboxServer, headers: dict[str, str]) -> None:
    response = httpx.post(sandbox.base_url + "/sms-campaign/send", json=sms(), headers=headers)
    assert response.status_code == 401
    assert response.json() == {
        "code": 101,
        "message": "Authentication failed: send valid api-login and api-key headers.",
    }
    assert sandbox.deliveries() == []


def test_required_login_and_key(sandbox_factory: SandboxFactory) -> None:
    server = sandbox_factory(api_login="me@example.com", api_key="s3cret")
    url = server.base_url + "/wallet/check-balance"
    wrong = httpx.get(url, headers={"api-login": "me@example.com", "api-key": "other"})
    assert wrong.status_code == 401
    right = httpx.get(url, headers={"api-login": "me@example.com", "api-key": "s3cret"})
    assert right.json() == {
        "amount": 22222,
        "unit": "sms_premium",
        "credit": 1000.0,
        "currency": "EUR",
    }


# -- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "answer"),
    [
        (sms(""), {"code": 107, "message": "[text] field is required."}),
        (
            sms("x" * 1225),
            {"code": 102, "message": "[text] field must contain from 1 to 1224 characters."},
        ),
        (
            sms(sender="AB"),
            {
                "code": 106,
                "message": "[sender] field should contain 3 to 11 alphanumeric characters.",
            },
        ),
        (
            sms(sender="Shop-X!"),
            {
                "code": 106,
                "message": "[sender] field should contain 3 to 11 alphanumeric characters.",
            },
        ),
        ({"text": f"Hi {STOP}"}, {"code": 103, "message": "[recipients] field is required."}),
        (
            sms(f"Hi {STOP}", "+33612345678", "0612345678"),
            {
                "code": 117,
                "message": "[recipients.1.phone_number] field should be a valid phone number.",
            },
        ),
        (
            sms(f"Hi {STOP}", *[f"+336{n:08d}" for n in range(501)]),
            {
                "code": 400,
                "message": "Payload validation error.",
                "errors": {
                    "recipients": {
                        "code": 400,
                        "message": "[recipients] field must not contain more than 500 contacts.",
                    }
                },
            },
        ),
        (
            sms(send_at="next friday", purpose="alert"),
            {
                "code": 400,
                "message": "Payload validation error.",
                "errors": {
                    "send_at": {
                        "code": 400,
                        "message": "[send_at] field should be an ISO 8601 date-time.",
                    }
                },
            },
        ),
    ],
    ids=[
        "empty-text",
        "long-text",
        "short-sender",
        "bad-sender",
        "no-recipients",
        "national-number",
        "501-recipients",
        "bad-send-at",
    ],
)
def test_refusals(
    http: httpx.Client, sandbox: SandboxServer, body: dict[str, Any], answer: dict[str, Any]
) -> None:
    response = http.post("sms-campaign/send", json=body)
    assert (response.status_code, response.json()) == (400, answer)
    assert sandbox.deliveries() == []
    assert sandbox.credit() == 1000.0


def test_limits_are_inclusive(http: httpx.Client, sandbox: SandboxServer) -> None:
    numbers = [f"+336{n:08d}" for n in range(500)]
    text = ("x" * 1210) + " " + STOP
    assert len(text) == 1224
    response = http.post("sms-campaign/send", json=sms(text, *numbers, sender="ShopX 12345"))
    assert response.status_code == 201
    assert response.json()["number_of_sms_needed"] == 500 * 8
    assert len(sandbox.deliveries()) == 500


def test_malformed_json(http: httpx.Client) -> None:
    response = http.post("sms-campaign/send", content=b"{not json")
    assert response.json() == {"code": 400, "message": "Malformed JSON payload."}
    assert http.get("nowhere").status_code == 404
    assert http.get("sms-campaign/send").status_code == 405


# -- personalization, optimization, counting --------------------------------------------------


def test_server_side_personalization(http: httpx.Client, sandbox: SandboxServer) -> None:
    body = {
        "text": "{first_name} {last_name}: {param1}/{param5} {unknown} " + STOP,
        "recipients": [
            {
                "phone_number": "+33612345678",
                "first_name": "Axelle",
                "last_name": "Durand",
                "param1": "VIP",
                "param5": 42,
            },
            {"phone_number": "+33612345679", "first_name": "{param1}", "param1": None},
        ],
    }
    response = http.post("sms-campaign/send", json=body)
    assert response.status_code == 201
    assert [d.text for d in sandbox.deliveries()] == [
        "Axelle Durand: VIP/42 {unknown} STOP au 30101",
        "{param1} : / {unknown} STOP au 30101",
    ]


def test_multichannel_text_is_not_personalized(http: httpx.Client, sandbox: SandboxServer) -> None:
    body = {
        "channel": "sms",
        "purpose": "alert",
        "text": "Hi {first_name}",
        "recipients": [{"phone_number": "+33612345678", "first_name": "Axelle"}],
    }
    assert http.post("multi-channel/send", json=body).status_code == 201
    assert [d.text for d in sandbox.deliveries()] == ["Hi {first_name}"]


def test_personalization_value_over_50_characters(http: httpx.Client) -> None:
    body = sms(f"{{param2}} {STOP}")
    body["recipients"][0]["param2"] = "x" * 51
    response = http.post("sms-campaign/send", json=body)
    assert response.json() == {
        "code": 400,
        "message": "Payload validation error.",
        "errors": {
            "recipients.0.param2": {
                "code": 400,
                "message": "[recipients.0.param2] field must not exceed 50 characters.",
            }
        },
    }


def test_auto_optimize_text_is_on_unless_turned_off(
    http: httpx.Client, sandbox: SandboxServer
) -> None:
    text = "Ça  arrive\u00a0: leçon d\u2019été… STOP au 30101 "
    http.post("sms-campaign/send", json=sms(text))
    optimized = http.post("sms-campaign/send", json=sms(text, "+33612345679")).json()
    kept = http.post("sms-campaign/send", json=sms(text, "+33612345670", auto_optimize_text=False))
    assert [d.text for d in sandbox.deliveries()] == [
        "Ça arrive : lecon d'été... STOP au 30101",
        "Ça arrive : lecon d'été... STOP au 30101",
        text,
    ]
    assert optimized["number_of_sms_needed"] == 1
    assert kept.json()["number_of_sms_needed"] == 1  # UCS-2: 44 characters still fit in one


def test_sms_parts_and_cost(http: httpx.Client) -> None:
    two_parts = "x" * 147 + " " + STOP  # 161 GSM-7 characters
    unicode = "\u00e7" * 60 + " " + STOP  # UCS-2 over 70 characters: two parts of 67
    answer = http.post(
        "sms-campaign/send",
        json=sms(two_parts, "+33612345678", "+33612345679", type="sms_low_cost"),
    ).json()
    assert (answer["number_of_sms_needed"], answer["total_cost"]) == (4, 0.12)
    answer = http.post("sms-campaign/send", json=sms(unicode, auto_optimize_text=False)).json()
    assert (answer["number_of_sms_needed"], answer["total_cost"]) == (2, 0.09)


def test_simulation_mode_records_nothing(http: httpx.Client, sandbox: SandboxServer) -> None:
    body = sms(simulation_mode=True, request_id="sim-1")
    answer = http.post("sms-campaign/send", json=body).json()
    assert answer["number_of_sms_needed"] == 1
    assert answer["residual_credit"] == 1000.0
    assert sandbox.deliveries() == []
    assert http.post("sms-campaign/send", json=body).status_code == 201


# -- request_id, credit, scheduling -----------------------------------------------------------


def test_request_id_is_refused_for_24_hours(
    http: httpx.Client, sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = sms(request_id="batch-0001")
    assert http.post("sms-campaign/send", json=body).status_code == 201
    again = http.post("sms-campaign/send", json=body)
    assert (again.status_code, again.json()) == (
        400,
        {"code": 120, "message": "request_id already used."},
    )
    multichannel = {"channel": "sms", **body, "metadata": {"request_id": "batch-0001"}}
    assert http.post("multi-channel/send", json=multichannel).json()["code"] == 120
    monkeypatch.setenv("OCTOPLAN_CLOCK_OFFSET", str(24 * 3600 - 60))
    assert http.post("sms-campaign/send", json=body).json()["code"] == 120
    monkeypatch.setenv("OCTOPLAN_CLOCK_OFFSET", str(24 * 3600 + 60))
    assert http.post("sms-campaign/send", json=body).status_code == 201
    assert len(sandbox.deliveries(request_id="batch-0001")) == 2


def test_refused_requests_do_not_consume_their_request_id(http: httpx.Client) -> None:
    refused = http.post("sms-campaign/send", json=sms("no mention", request_id="r-1"))
    assert refused.json()["code"] == 121
    assert http.post("sms-campaign/send", json=sms(request_id="r-1")).status_code == 201


def test_concurrent_copies_of_one_request_id_are_accepted_once(
    sandbox: SandboxServer,
) -> None:
    statuses: list[int] = []
    body = sms(request_id="race")

    def post() -> None:
        with httpx.Client(headers=HEADERS) as client:
            statuses.append(
                client.post(sandbox.base_url + "/sms-campaign/send", json=body).status_code
            )

    threads = [threading.Thread(target=post) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [201] + [400] * 7
    assert len(sandbox.deliveries()) == 1


def test_not_enough_credit(http: httpx.Client, sandbox: SandboxServer) -> None:
    sandbox.set_credit(0.05)
    response = http.post("sms-campaign/send", json=sms(f"{STOP}", "+33612345678", "+33612345679"))
    assert (response.status_code, response.json()) == (
        400,
        {"code": 104, "message": "Not enough credit."},
    )
    assert http.post("sms-campaign/send", json=sms()).json()["residual_credit"] == 0.005
    assert http.get("wallet/check-balance").json()["amount"] == 0


def test_scheduled_send_and_cancel(
    http: httpx.Client, sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OCTOPLAN_NOW", "2026-11-27T08:00:00+01:00")
    later = sms(send_at="2026-11-27T09:00:00+01:00")
    ticket = http.post("sms-campaign/send", json=later).json()["sms_ticket"]
    assert [d.status for d in sandbox.deliveries()] == ["scheduled"]
    assert sandbox.credit() == 999.955
    cancelled = delete(http, "sms-campaign/cancel", {"ticket_number": ticket})
    assert cancelled.json() == {"ticket_number": ticket, "status": "cancelled"}
    assert [d.status for d in sandbox.deliveries()] == ["cancelled"]
    assert sandbox.credit() == 1000.0
    again = delete(http, "sms-campaign/cancel", {"ticket_number": ticket})
    assert again.json() == {"code": 132, "message": "Campaign can no longer be cancelled."}

    soon = http.post("sms-campaign/send", json=sms(send_at="2026-11-27T08:05:00+01:00")).json()
    too_late = delete(http, "sms-campaign/cancel", {"ticket_number": soon["sms_ticket"]})
    assert too_late.json()["code"] == 132
    monkeypatch.setenv("OCTOPLAN_NOW", "2026-11-27T08:06:00+01:00")
    assert [d.status for d in sandbox.deliveries()] == ["cancelled", "delivered"]

    unknown = delete(http, "sms-campaign/cancel", {"ticket_number": "sms_nope"})
    assert unknown.json() == {"code": 131, "message": "Campaign not found."}


def test_multichannel_cancel_checks_the_channel(
    http: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OCTOPLAN_NOW", "2026-11-27T08:00:00+01:00")
    body = {**MULTICHANNEL_EXAMPLES["email"], "send_at": "2026-11-28T08:00:00+01:00"}
    ticket = http.post("multi-channel/send", json=body).json()["ticket_number"]
    wrong = delete(http, "multi-channel/cancel", {"channel": "sms", "ticket_number": ticket})
    assert wrong.json()["code"] == 131
    right = delete(http, "multi-channel/cancel", {"channel": "email", "ticket_number": ticket})
    assert right.json()["status"] == "cancelled"


# -- faults, persistence, inspection ----------------------------------------------------------


def test_fail_fault_answers_500_and_records_nothing(
    http: httpx.Client, sandbox: SandboxServer
) -> None:
    sandbox.inject("fail")
    response = http.post("sms-campaign/send", json=sms(request_id="f-1"))
    assert (response.status_code, response.json()) == (
        500,
        {"code": 500, "message": "Internal server error."},
    )
    assert sandbox.deliveries() == []
    assert http.post("sms-campaign/send", json=sms(request_id="f-1")).status_code == 201


def test_drop_fault_accepts_then_closes_the_connection(
    http: httpx.Client, sandbox: SandboxServer
) -> None:
    sandbox.inject("drop")
    with pytest.raises(httpx.RemoteProtocolError):
        http.post("sms-campaign/send", json=sms(request_id="d-1"))
    assert [d.request_id for d in sandbox.deliveries()] == ["d-1"]
    assert http.post("sms-campaign/send", json=sms(request_id="d-1")).json()["code"] == 120
    assert [(r.status, r.code, r.outcome) for r in sandbox.requests()] == [
        (201, None, "accepted+drop"),
        (400, 120, "refused"),
    ]


def test_scripted_faults_wait_for_a_send_unless_aimed_at_any_request(
    http: httpx.Client, sandbox: SandboxServer
) -> None:
    sandbox.inject("fail")
    assert http.get("wallet/check-balance").status_code == 200  # not a send: let through
    assert http.post("sms-campaign/send", json=sms(request_id="w-1")).status_code == 500
    sandbox.inject("fail", on="any")
    assert http.get("wallet/check-balance").status_code == 500
    assert http.post("sms-campaign/send", json=sms(request_id="w-1")).status_code == 201


def test_html_and_garble_faults(http: httpx.Client, sandbox: SandboxServer) -> None:
    sandbox.inject("html", "garble")
    html = http.post("sms-campaign/send", json=sms(request_id="g-1"))
    assert (html.status_code, html.headers["content-type"]) == (502, "text/html")
    garbled = http.post("sms-campaign/send", json=sms(request_id="g-1"))
    assert garbled.status_code == 201
    with pytest.raises(ValueError):
        garbled.json()
    assert len(sandbox.deliveries()) == 1


def test_seeded_fault_rates_are_reproducible(sandbox_factory: SandboxFactory) -> None:
    def statuses(seed: int) -> list[int]:
        server = sandbox_factory(fail_rate=0.5, seed=seed)
        with httpx.Client(base_url=server.base_url + "/", headers=HEADERS) as client:
            return [client.get("wallet/check-balance").status_code for _ in range(20)]

    first = statuses(7)
    assert first == statuses(7)
    assert set(first) == {200, 500}


def test_state_survives_a_restart(tmp_path: Path) -> None:
    data = tmp_path / "sandbox.db"
    with SandboxServer(data) as server:
        httpx.post(
            server.base_url + "/sms-campaign/send", json=sms(request_id="p-1"), headers=HEADERS
        )
    with SandboxServer(data, credit=5.0) as server:
        again = httpx.post(
            server.base_url + "/sms-campaign/send", json=sms(request_id="p-1"), headers=HEADERS
        )
        assert again.json()["code"] == 120
        assert server.credit() == 999.955
    [delivery] = read_deliveries(data)
    assert delivery.request_id == "p-1"
    assert [r.outcome for r in read_requests(data)] == ["accepted", "refused"]


def test_inspection_endpoints(http: httpx.Client, sandbox: SandboxServer) -> None:
    ticket = http.post("sms-campaign/send", json=sms(request_id="i-1")).json()["sms_ticket"]
    http.post("sms-campaign/send", json=sms(request_id="i-2"))
    listed = httpx.get(sandbox.url + "/_sandbox/deliveries", params={"request_id": "i-1"}).json()
    [delivery] = listed["deliveries"]
    assert delivery == {
        "channel": "sms",
        "recipient": "+33612345678",
        "text": f"Promo -30% {STOP}",
        "sender": None,
        "request_id": "i-1",
        "ticket": ticket,
        "purpose": "wholesale",
        "send_at": None,
        "created_at": delivery["created_at"],
        "status": "delivered",
    }
    requests = httpx.get(sandbox.url + "/_sandbox/requests").json()["requests"]
    assert [r["request_id"] for r in requests] == ["i-1", "i-2"]
    assert httpx.post(sandbox.url + "/_sandbox/credit", json={"credit": 3}).json() == {
        "credit": 3.0
    }
    assert httpx.get(sandbox.url + "/_sandbox/credit").json() == {"credit": 3.0}


def test_read_deliveries_of_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_deliveries(tmp_path / "none.db")


# -- personalization against a plain reference ------------------------------------------------

FIELDS = ["first_name", "last_name", "param1", "param2", "param3", "param4", "param5"]
pieces = st.one_of(
    st.text(alphabet="ab{}_ 1é", max_size=6),
    st.sampled_from([f"{{{name}}}" for name in [*FIELDS, "param6", "First_name"]]),
)


@given(
    text=st.lists(pieces, max_size=8).map("".join),
    values=st.dictionaries(
        st.sampled_from(FIELDS),
        st.one_of(st.none(), st.integers(), st.text(alphabet="xy{}param1", max_size=8)),
    ),
)
def test_template_fill_matches_a_one_pass_substitution(text: str, values: dict[str, Any]) -> None:
    def reference(match: re.Match[str]) -> str:
        value = values.get(match.group(1))
        return "" if value is None else str(value)

    expected = re.sub(r"\{(first_name|last_name|param[1-5])\}", reference, text)
    assert Template(text).fill(values) == expected
