"""The sandbox's refusals of bodies octoplan never sends (octoplan/sandbox/rules.py, api.py),
over real HTTP with plain httpx: the sandbox must hold other clients to the API pages too."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from octoplan.sandbox import SandboxServer

HEADERS = {"api-key": "k", "api-login": "me@example.com"}
INVALID_NUMBER = "field should be a valid phone number."


def sms(*recipients: Any) -> dict[str, Any]:
    return {"text": "Promo STOP au 30101", "recipients": list(recipients), "purpose": "alert"}


def call(sandbox: SandboxServer, method: str, path: str, body: Any) -> tuple[int, Any]:
    answer = httpx.request(method, f"{sandbox.base_url}/{path}", json=body, headers=HEADERS)
    return answer.status_code, answer.json()


@pytest.mark.parametrize(
    ("recipients", "message"),
    [
        (["+33612345678"], "[recipients.0] field should be a contact object."),
        ([{"phone_number": 33612345678}], f"[recipients.0.phone_number] {INVALID_NUMBER}"),
        ([{"phone_number": True}], f"[recipients.0.phone_number] {INVALID_NUMBER}"),
        ([{"phone_number": ["+33612345678"]}], f"[recipients.0.phone_number] {INVALID_NUMBER}"),
        (
            [{"phone_number": "+33612345678"}, {"phone_number": 336}],
            f"[recipients.1.phone_number] {INVALID_NUMBER}",
        ),
    ],
)
def test_recipients_that_are_not_contacts_with_a_number_are_refused(
    sandbox: SandboxServer, recipients: list[Any], message: str
) -> None:
    assert call(sandbox, "POST", "sms-campaign/send", sms(*recipients)) == (
        400,
        {"code": 117, "message": message},
    )
    assert sandbox.deliveries() == []


def test_a_cancel_without_a_ticket_or_on_an_unknown_channel_finds_nothing(
    sandbox: SandboxServer,
) -> None:
    not_found = (400, {"code": 131, "message": "Campaign not found."})
    assert call(sandbox, "DELETE", "sms-campaign/cancel", {}) == not_found
    assert call(sandbox, "DELETE", "sms-campaign/cancel", {"ticket_number": ""}) == not_found
    fax = {"channel": "fax", "ticket_number": "sms_123"}
    assert call(sandbox, "DELETE", "multi-channel/cancel", fax) == not_found


def test_a_voice_list_in_simulation_mode_answers_a_ticket_and_sends_nothing(
    sandbox: SandboxServer,
) -> None:
    body = {
        "text": "Hello",
        "recipients": [{"phone_number": "+33612345678"}],
        "voice_language": "fr-FR",
        "purpose": "alert",
        "simulation_mode": "yes",  # the sandbox reads "true", "1" and "yes" as true
    }
    status, answer = call(sandbox, "POST", "voice-campaign-on-list/create", body)
    assert status == 201
    assert list(answer) == ["ticket_number"]
    assert answer["ticket_number"].startswith("voice_")
    assert sandbox.deliveries() == []


def test_the_sandbox_helpers_refuse_a_credit_without_a_number_and_unknown_paths(
    sandbox: SandboxServer,
) -> None:
    before = sandbox.credit()
    for content in (b"{}", b"not json", b'{"credit": "lots"}'):
        answer = httpx.post(f"{sandbox.url}/_sandbox/credit", content=content)
        assert (answer.status_code, answer.json()) == (
            400,
            {"code": 400, "message": 'Send {"credit": N}.'},
        )
    assert sandbox.credit() == before
    unknown = httpx.get(f"{sandbox.url}/_sandbox/nothing")
    assert (unknown.status_code, unknown.json()) == (404, {"code": 404, "message": "Not found."})
