"""OctopushClient's error mapping against answers a real API could give and should not: success
statuses with malformed bodies (a negative or fractional count, a ticket that is not a string or
is missing, a voice list status without its status, numbers sent as strings, an array, plain
text), and 429s with Retry-After. Every answer comes from the real sandbox over loopback, which
processes the request and then mangles its answer (octoplan/sandbox/server.py, `inject`): the
client must take each for a request that may have gone through, and never send it twice."""

from __future__ import annotations

import time
from typing import Any

import pytest

from octoplan.client import (
    AmbiguousResponseError,
    RequestIdAlreadyUsed,
    RetryEvent,
    TransientApiError,
)
from octoplan.sandbox import SandboxServer
from tests.fixtures.sandbox import ClientFactory

STOP = "STOP au 30101"
SUCCESS = "unexpected answer to a successful request"


def sms(request_id: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "text": f"Promo {STOP}",
        "recipients": [{"phone_number": "+33612345678"}],
        "purpose": "wholesale",
        "sender": "ShopX",
        "auto_optimize_text": False,
    }
    if request_id:
        body["request_id"] = request_id
    return body


def voice(request_id: str) -> dict[str, Any]:
    return {
        "recipients": [{"phone_number": "+442038828112", "first_name": "Alex"}],
        "text": "{first_name}, you have 1 Voice SMS",
        "voice_language": "en-GB",
        "request_id": request_id,
    }


# What the client says of each mangled answer to a processed sms-campaign/send.
MANGLED_SENDS = {
    "negative_count": "expected a count, got -1",
    "fractional_count": "expected a count, got 1.5",
    "number_ticket": "the ticket is not a string",
    "no_ticket": "the answer has no sms_ticket or ticket_number",
    "string_numbers": "expected a number, got '1'",
    "array": "the answer is not a JSON object",
    "not_json": "the answer is not a JSON object: 'OK'",
}


@pytest.mark.parametrize(("fault", "reason"), list(MANGLED_SENDS.items()))
def test_a_malformed_answer_to_a_send_without_request_id_is_ambiguous_and_never_resent(
    sandbox: SandboxServer, make_client: ClientFactory, fault: str, reason: str
) -> None:
    sandbox.inject(fault)  # type: ignore[arg-type]
    client = make_client(sandbox)
    with pytest.raises(AmbiguousResponseError) as caught:
        client.send_sms_campaign(sms())
    assert str(caught.value) == f"sms-campaign/send: {SUCCESS}: {reason} (HTTP 201)"
    error = caught.value
    assert (error.status, error.code, error.attempts) == (201, None, 1)
    assert error.may_have_arrived is True
    # Without a request_id a second attempt could be a second message: there is none.
    assert client.retries == 0
    assert [(r.status, r.outcome) for r in sandbox.requests()] == [(201, f"accepted+{fault}")]
    assert [d.recipient for d in sandbox.deliveries()] == ["+33612345678"]


@pytest.mark.parametrize(("fault", "reason"), list(MANGLED_SENDS.items()))
def test_a_malformed_answer_to_a_send_with_request_id_is_retried_and_confirmed_as_sent(
    sandbox: SandboxServer, make_client: ClientFactory, fault: str, reason: str
) -> None:
    events: list[RetryEvent] = []
    sandbox.inject(fault)  # type: ignore[arg-type]
    client = make_client(sandbox, on_retry=events.append)
    with pytest.raises(RequestIdAlreadyUsed) as caught:
        client.send_sms_campaign(sms("mangled1"))
    assert (caught.value.attempts, caught.value.may_have_arrived) == (2, True)
    assert [(e.endpoint, e.attempt, e.reason, e.request_id) for e in events] == [
        ("sms-campaign/send", 1, f"{SUCCESS}: {reason}", "mangled1")
    ]
    assert [(r.status, r.code, r.outcome) for r in sandbox.requests()] == [
        (201, None, f"accepted+{fault}"),
        (400, 120, "refused"),
    ]
    assert [d.recipient for d in sandbox.deliveries(request_id="mangled1")] == ["+33612345678"]


def test_a_voice_list_created_without_a_ticket_in_its_answer_is_ambiguous(
    sandbox: SandboxServer, make_client: ClientFactory
) -> None:
    sandbox.inject("no_ticket")
    with pytest.raises(AmbiguousResponseError) as caught:
        make_client(sandbox, max_retries=0).voice_list_create(voice("voice1"))
    assert str(caught.value) == (
        f"voice-campaign-on-list/create: {SUCCESS}: the answer has no ticket_number (HTTP 201)"
    )
    assert caught.value.request_id == "voice1"
    # Created all the same: a retry under the same request_id is refused as already used.
    with pytest.raises(RequestIdAlreadyUsed):
        make_client(sandbox).voice_list_create(voice("voice1"))


def test_a_voice_list_status_without_status_is_polled_again(
    sandbox: SandboxServer, make_client: ClientFactory
) -> None:
    events: list[RetryEvent] = []
    client = make_client(sandbox, on_retry=events.append)
    ticket = client.voice_list_create(voice("voice2"))
    sandbox.inject("no_status", on="any")
    status = client.voice_list_status(ticket)
    # The poll that lost its status counted as one: the second is the ready one.
    assert (status.status, status.number_of_contacts, status.cost) == ("ready_to_be_sent", 1, 0.08)
    assert [(e.endpoint, e.reason) for e in events] == [
        ("voice-campaign-on-list/status", f"{SUCCESS}: the answer has no status")
    ]
    sandbox.inject("no_status", on="any")
    with pytest.raises(AmbiguousResponseError) as caught:
        make_client(sandbox, max_retries=0).voice_list_status(ticket)
    assert str(caught.value) == (
        f"voice-campaign-on-list/status: {SUCCESS}: the answer has no status (HTTP 200)"
    )


def test_a_balance_in_the_wrong_types_is_an_error_not_a_zero(
    sandbox: SandboxServer, make_client: ClientFactory
) -> None:
    sandbox.inject("string_numbers", "array", on="any")
    client = make_client(sandbox, max_retries=0)
    with pytest.raises(AmbiguousResponseError) as caught:
        client.check_balance()
    assert str(caught.value) == (
        f"wallet/check-balance: {SUCCESS}: expected a number, got '22222' (HTTP 200)"
    )
    with pytest.raises(AmbiguousResponseError) as wrapped:
        client.check_balance()
    assert str(wrapped.value) == (
        f"wallet/check-balance: {SUCCESS}: the answer is not a JSON object (HTTP 200)"
    )
    assert client.check_balance().amount == 22222


def test_a_malformed_answer_to_a_cancel_is_still_a_cancel(
    sandbox: SandboxServer, make_client: ClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A cancel's answer carries nothing octoplan reads: any 2xx, even plain text, is success.
    monkeypatch.setenv("OCTOPLAN_NOW", "2026-11-27T08:00:00+01:00")
    client = make_client(sandbox)
    ticket = client.send_sms_campaign({**sms("later1"), "send_at": "2026-11-27T12:00:00+01:00"})
    assert ticket.ticket is not None
    sandbox.inject("not_json")
    client.cancel_sms_campaign(ticket.ticket)
    assert [d.status for d in sandbox.deliveries()] == ["cancelled"]
    assert client.retries == 0


# -- 429 and Retry-After ----------------------------------------------------------------------


def test_retry_after_is_honoured_before_the_next_attempt(
    sandbox: SandboxServer, make_client: ClientFactory
) -> None:
    events: list[RetryEvent] = []
    # Backoff alone would wait at most 1 ms: the second ask waits the second the API asked for.
    client = make_client(sandbox, backoff=0.001, max_backoff=5.0, on_retry=events.append)
    sandbox.inject("throttle")
    started = time.monotonic()
    result = client.send_sms_campaign(sms())
    assert time.monotonic() - started >= 1.0
    assert result.attempts == 2
    assert [(e.endpoint, e.attempt, e.delay, e.reason, e.request_id) for e in events] == [
        ("sms-campaign/send", 1, 1.0, "Too many requests.", None)
    ]
    # Turned away unread, so resent even without a request_id; delivered once.
    assert [(r.status, r.outcome) for r in sandbox.requests()] == [
        (429, "fault_429"),
        (201, "accepted"),
    ]
    assert len(sandbox.deliveries()) == 1


def test_retry_after_is_capped_by_the_longest_backoff(
    sandbox: SandboxServer, make_client: ClientFactory
) -> None:
    events: list[RetryEvent] = []
    client = make_client(sandbox, backoff=0.001, max_backoff=0.05, on_retry=events.append)
    sandbox.set_faults(retry_after="3600")
    sandbox.inject("throttle")
    client.send_sms_campaign(sms("capped1"))
    assert [e.delay for e in events] == [0.05]


def test_retry_after_as_a_date_is_not_read_as_seconds(
    sandbox: SandboxServer, make_client: ClientFactory
) -> None:
    events: list[RetryEvent] = []
    client = make_client(sandbox, backoff=0.001, max_backoff=5.0, on_retry=events.append)
    sandbox.set_faults(retry_after="Wed, 21 Oct 2026 07:28:00 GMT")
    sandbox.inject("throttle")
    client.send_sms_campaign(sms("dated1"))
    [event] = events
    assert event.delay <= 0.001  # the backoff's own jitter: the date is ignored


def test_429s_that_never_end_fail_as_never_arrived(
    sandbox: SandboxServer, make_client: ClientFactory
) -> None:
    sandbox.set_faults(retry_after="0")
    sandbox.inject("throttle", "throttle", "throttle")
    with pytest.raises(TransientApiError) as caught:
        make_client(sandbox, max_retries=2).send_sms_campaign(sms("busy1"))
    assert str(caught.value) == "sms-campaign/send: Too many requests. (HTTP 429, code 429)"
    assert (caught.value.attempts, caught.value.may_have_arrived) == (3, False)
    assert sandbox.deliveries() == []
