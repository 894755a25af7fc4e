"""OctopushClient against the real sandbox on loopback, faults included."""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import httpx
import pytest

from octoplan.client import (
    AmbiguousResponseError,
    ApiError,
    AuthenticationError,
    Balance,
    InvalidCredentials,
    MissingCredentials,
    OctopushClient,
    RefusedError,
    RequestIdAlreadyUsed,
    RetryEvent,
    SendResult,
    TransientApiError,
)
from octoplan.errors import OctoplanError
from octoplan.sandbox import SandboxServer
from tests.fixtures.sandbox import SANDBOX_KEY, ClientFactory, SandboxFactory

STOP = "STOP au 30101"


def sms(
    request_id: str | None = None, *numbers: str, text: str = f"Promo {STOP}"
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "text": text,
        "recipients": [{"phone_number": n} for n in numbers or ("+33612345678",)],
        "purpose": "wholesale",
        "sender": "ShopX",
        "auto_optimize_text": False,
    }
    if request_id:
        body["request_id"] = request_id
    return body


def delivered(server: SandboxServer, request_id: str) -> list[str]:
    return [d.recipient for d in server.deliveries(request_id=request_id)]


# -- calls ------------------------------------------------------------------------------------


def test_send_sms_campaign(sandbox: SandboxServer, sandbox_client: OctopushClient) -> None:
    result = sandbox_client.send_sms_campaign(sms("c-1", "+33612345678", "+33612345679"))
    assert isinstance(result, SendResult)
    assert result.ticket is not None and result.ticket.startswith("sms_")
    assert (result.number_of_contacts, result.number_of_sms_needed) == (2, 2)
    assert (result.total_cost, result.residual_credit, result.attempts) == (0.09, 999.91, 1)
    assert delivered(sandbox, "c-1") == ["+33612345678", "+33612345679"]


@pytest.mark.parametrize(
    ("channel", "recipient", "metadata"),
    [
        ("sms", {"phone_number": "+33612345678"}, {"type": "sms_premium"}),
        ("voice_sms", {"phone_number": "+33612345678"}, {"voice_language": "fr-FR"}),
        ("rcs", {"phone_number": "+33612345678"}, {}),
        ("email", {"email": "axelle@example.com"}, {"subject": "Hello"}),
        ("live_chat", {"conversation_id": "00000000-0000-0000-0000-000000000001"}, {}),
    ],
)
def test_send_multichannel_every_channel(
    sandbox: SandboxServer,
    sandbox_client: OctopushClient,
    channel: str,
    recipient: dict[str, str],
    metadata: dict[str, str],
) -> None:
    body = {
        "channel": channel,
        "text": "Votre colis arrive demain.",
        "recipients": [recipient],
        "purpose": "alert",
        "metadata": {**metadata, "request_id": f"mc-{channel}"},
    }
    result = sandbox_client.send_multichannel(body)
    assert result.number_of_contacts == 1
    assert (result.ticket is None) == (channel == "live_chat")
    [delivery] = sandbox.deliveries(request_id=f"mc-{channel}")
    assert (delivery.channel, delivery.recipient) == (channel, next(iter(recipient.values())))


def test_voice_list_flow(sandbox: SandboxServer, sandbox_client: OctopushClient) -> None:
    body = {
        "recipients": [{"phone_number": "+442038828112", "first_name": "Alex"}],
        "text": "{first_name}, you have 1 Voice SMS",
        "voice_language": "en-GB",
        "request_id": "v-1",
    }
    ticket = sandbox_client.voice_list_create(body)
    assert sandbox_client.voice_list_status(ticket).status == "under_computation"
    status = sandbox_client.voice_list_status(ticket)
    # To the UK: the default voice_sms price (octoplan/prices.py).
    assert (status.status, status.number_of_contacts, status.cost) == ("ready_to_be_sent", 1, 0.08)
    assert sandbox_client.voice_list_send(ticket)["ticket_number"] == ticket
    assert [d.text for d in sandbox.deliveries()] == ["Alex, you have 1 Voice SMS"]
    with pytest.raises(RefusedError) as refused:
        sandbox_client.voice_list_cancel(ticket)
    assert str(refused.value) == (
        "voice-campaign-on-list/cancel: Campaign can no longer be cancelled. (HTTP 400, code 132)"
    )


def test_cancels_and_balance(
    sandbox: SandboxServer, sandbox_client: OctopushClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OCTOPLAN_NOW", "2026-11-27T08:00:00+01:00")
    later = {**sms("s-1"), "send_at": "2026-11-27T12:00:00+01:00"}
    ticket = sandbox_client.send_sms_campaign(later).ticket
    assert ticket is not None
    sandbox_client.cancel_sms_campaign(ticket)
    email = {
        "channel": "email",
        "text": "Hello",
        "recipients": [{"email": "axelle@example.com"}],
        "send_at": "2026-11-28T08:00:00+01:00",
    }
    email_ticket = sandbox_client.send_multichannel(email).ticket
    assert email_ticket is not None
    sandbox_client.cancel_multichannel("email", email_ticket)
    assert [d.status for d in sandbox.deliveries()] == ["cancelled", "cancelled"]
    balance = sandbox_client.check_balance()
    assert isinstance(balance, Balance)
    assert (balance.amount, balance.unit) == (22222, "sms_premium")


# -- refusals ---------------------------------------------------------------------------------


def test_refusal_is_typed_and_not_retried(
    sandbox: SandboxServer, sandbox_client: OctopushClient
) -> None:
    with pytest.raises(RefusedError) as caught:
        sandbox_client.send_sms_campaign(sms("r-1", text="Promo"))
    error = caught.value
    assert (error.status, error.code, error.attempts, error.request_id) == (400, 121, 1, "r-1")
    assert str(error) == "sms-campaign/send: Mention STOP is missing. (HTTP 400, code 121)"
    assert sandbox_client.retries == 0
    assert len(sandbox.requests()) == 1


def test_field_errors_are_carried(sandbox_client: OctopushClient) -> None:
    body = {
        "channel": "voice_sms",
        "text": "Bonjour",
        "recipients": [{"phone_number": "+33612345678"}],
        "metadata": {"voice_language": "fr-BE"},
    }
    with pytest.raises(RefusedError) as caught:
        sandbox_client.send_multichannel(body)
    assert caught.value.field_errors == {
        "voice_language": {"code": 442, "message": "Voice language not supported."}
    }
    assert caught.value.codes == [400, 442]
    assert str(caught.value) == (
        "multi-channel/send: Payload validation error. (HTTP 400, code 400)\n"
        "  voice_language: [442] Voice language not supported."
    )


def test_request_id_already_used(sandbox_client: OctopushClient) -> None:
    sandbox_client.send_sms_campaign(sms("dup-1"))
    with pytest.raises(RequestIdAlreadyUsed) as caught:
        sandbox_client.send_sms_campaign(sms("dup-1"))
    assert not isinstance(caught.value, RefusedError)
    assert (caught.value.code, caught.value.request_id) == (120, "dup-1")


def test_authentication_error_never_shows_the_key(
    sandbox_factory: SandboxFactory, make_client: ClientFactory
) -> None:
    server = sandbox_factory(api_key="the-right-key")
    client = make_client(server, api_key="wrong-key-7f3a9c")
    with pytest.raises(AuthenticationError) as caught:
        client.check_balance()
    assert str(caught.value) == (
        "wallet/check-balance: Authentication failed: send valid api-login and api-key headers. "
        "(HTTP 401, code 101)"
    )
    for text in (str(caught.value), repr(caught.value), repr(client)):
        assert "wrong-key-7f3a9c" not in text


# -- retries through injected faults ----------------------------------------------------------


def test_500s_are_retried_with_the_same_request_id(
    sandbox: SandboxServer, make_client: ClientFactory
) -> None:
    events: list[RetryEvent] = []
    client = make_client(sandbox, on_retry=events.append)
    sandbox.inject("fail", "html")
    result = client.send_sms_campaign(sms("t-1"))
    assert result.attempts == 3
    assert client.retries == 2
    assert [(e.attempt, e.request_id, e.reason) for e in events] == [
        (1, "t-1", "Internal server error."),
        (2, "t-1", "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"),
    ]
    assert [(r.status, r.outcome) for r in sandbox.requests()] == [
        (500, "fault_500"),
        (502, "fault_502"),
        (201, "accepted"),
    ]
    assert delivered(sandbox, "t-1") == ["+33612345678"]


def test_dropped_after_accept_ends_as_already_accepted(
    sandbox: SandboxServer, sandbox_client: OctopushClient
) -> None:
    sandbox.inject("drop")
    with pytest.raises(RequestIdAlreadyUsed) as caught:
        sandbox_client.send_sms_campaign(sms("drop-1"))
    assert caught.value.attempts == 2
    assert delivered(sandbox, "drop-1") == ["+33612345678"]


def test_garbled_success_is_ambiguous_then_confirmed(
    sandbox: SandboxServer, sandbox_client: OctopushClient
) -> None:
    sandbox.inject("garble")
    with pytest.raises(RequestIdAlreadyUsed):
        sandbox_client.send_sms_campaign(sms("g-1"))
    assert delivered(sandbox, "g-1") == ["+33612345678"]


def test_send_without_request_id_is_not_retried_after_it_may_have_arrived(
    sandbox: SandboxServer, sandbox_client: OctopushClient
) -> None:
    sandbox.inject("drop")
    with pytest.raises(TransientApiError) as caught:
        sandbox_client.send_sms_campaign(sms())
    assert caught.value.attempts == 1
    assert str(caught.value).startswith(
        "sms-campaign/send: the connection was dropped before an answer ("
    )
    sandbox.inject("garble")
    with pytest.raises(AmbiguousResponseError):
        sandbox_client.send_sms_campaign(sms())
    sandbox.inject("fail")
    with pytest.raises(TransientApiError) as failed:
        sandbox_client.send_sms_campaign(sms())
    assert (failed.value.status, failed.value.code) == (500, 500)
    assert len(sandbox.deliveries()) == 2  # the dropped and the garbled ones were accepted


def test_retries_run_out(sandbox: SandboxServer, make_client: ClientFactory) -> None:
    client = make_client(sandbox, max_retries=2)
    sandbox.inject("fail", "fail", "fail", "ok", on="any")
    with pytest.raises(TransientApiError) as caught:
        client.check_balance()
    assert (caught.value.status, caught.value.attempts) == (500, 3)
    assert str(caught.value) == (
        "wallet/check-balance: Internal server error. (HTTP 500, code 500)"
    )
    assert client.check_balance().unit == "sms_premium"


def test_timeout_after_accept_is_retried_and_confirmed(
    sandbox: SandboxServer, make_client: ClientFactory
) -> None:
    sandbox.set_faults(latency=2.0)

    def heal(event: RetryEvent) -> None:
        sandbox.set_faults(latency=0.0)

    client = make_client(sandbox, timeout=0.3, on_retry=heal)
    with pytest.raises(RequestIdAlreadyUsed) as caught:
        client.send_sms_campaign(sms("slow-1"))
    assert caught.value.attempts == 2
    assert delivered(sandbox, "slow-1") == ["+33612345678"]


def test_connection_refused_is_transient(tmp_path: Any, make_client: ClientFactory) -> None:
    server = SandboxServer(tmp_path / "gone.db")
    server.start()
    server.stop()
    client = make_client(server, max_retries=1)
    with pytest.raises(TransientApiError) as caught:
        client.send_sms_campaign(sms())
    assert caught.value.attempts == 2
    assert str(caught.value).startswith("sms-campaign/send: could not connect (")


def test_chaos_every_request_is_sent_once_or_fails_typed(
    sandbox_factory: SandboxFactory, make_client: ClientFactory
) -> None:
    server = sandbox_factory(fail_rate=0.3, drop_rate=0.3, seed=11)
    client = make_client(server, max_retries=3)
    outcomes: dict[str, str] = {}
    lock = threading.Lock()

    def work(worker: int) -> None:
        for n in range(15):
            request_id = f"chaos-{worker}-{n}"
            numbers = [f"+3361{worker:03d}{n:04d}", f"+3362{worker:03d}{n:04d}"]
            try:
                client.send_sms_campaign(sms(request_id, *numbers))
                outcome = "sent"
            except RequestIdAlreadyUsed:
                outcome = "already accepted"
            except TransientApiError:
                outcome = "unknown"
            with lock:
                outcomes[request_id] = outcome

    threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(outcomes) == 60
    assert {"sent", "already accepted"} <= set(outcomes.values())
    for request_id, outcome in outcomes.items():
        count = len(delivered(server, request_id))
        if outcome == "unknown":
            assert count in (0, 2), request_id
        else:
            assert count == 2, request_id
    assert client.retries > 0


# -- answers that are not success answers -----------------------------------------------------


def _client_answering(response: httpx.Response, **options: Any) -> OctopushClient:
    def handler(request: httpx.Request) -> httpx.Response:
        return response

    transport = httpx.MockTransport(handler)
    return OctopushClient(
        "https://api.example.test/v1/public",
        "me@example.com",
        SANDBOX_KEY,
        transport=transport,
        backoff=0.0,
        max_retries=1,
        **options,
    )


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(200, json={"code": 500, "message": "oops"}),
        httpx.Response(201, text="<html>ok</html>"),
        httpx.Response(201, content=b'{"sms_ticket": "sms_1", "number_of'),
        httpx.Response(201, json={"sms_ticket": "sms_1", "number_of_contacts": "two"}),
        httpx.Response(201, content=b" " * (2 * 1024 * 1024)),
        httpx.Response(204),
    ],
    ids=["error-body", "html", "truncated", "wrong-type", "huge", "empty"],
)
def test_success_status_without_a_success_body_is_ambiguous(response: httpx.Response) -> None:
    client = _client_answering(response)
    with pytest.raises(AmbiguousResponseError) as caught:
        client.send_sms_campaign(sms("amb-1"))
    assert caught.value.attempts == 2
    assert isinstance(caught.value, TransientApiError)


def test_key_echoed_by_a_server_is_scrubbed() -> None:
    client = _client_answering(
        httpx.Response(400, json={"code": 9, "message": f"bad {SANDBOX_KEY}"})
    )
    with pytest.raises(RefusedError) as caught:
        client.send_sms_campaign(sms("echo-1"))
    assert str(caught.value) == "sms-campaign/send: bad *** (HTTP 400, code 9)"
    assert SANDBOX_KEY not in repr(caught.value)


def test_429_is_retried_even_without_request_id() -> None:
    calls: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.content)
        if len(calls) == 1:
            return httpx.Response(429, json={"code": 429, "message": "Too many requests."})
        answer = {"sms_ticket": "sms_1", "number_of_contacts": 1, "total_cost": 0.045}
        return httpx.Response(201, json=answer)

    client = OctopushClient(
        "https://api.example.test/v1/public",
        "me@example.com",
        SANDBOX_KEY,
        transport=httpx.MockTransport(handler),
        backoff=0.0,
    )
    result = client.send_sms_campaign(sms())
    assert (result.ticket, result.attempts, result.residual_credit) == ("sms_1", 2, None)
    assert calls[0] == calls[1]


# -- construction -----------------------------------------------------------------------------


def test_repr_never_shows_the_key(sandbox_client: OctopushClient) -> None:
    assert repr(sandbox_client).startswith("OctopushClient(base_url='http://127.0.0.1:")
    assert SANDBOX_KEY not in repr(sandbox_client)
    assert SANDBOX_KEY not in repr(vars(sandbox_client).get("_http"))


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {},
            "OCTOPUSH_API_LOGIN and OCTOPUSH_API_KEY are not set: export OCTOPUSH_API_LOGIN and "
            "OCTOPUSH_API_KEY (credentials never live in files), or use --sandbox to send to the "
            "local sandbox",
        ),
        (
            {"OCTOPUSH_API_LOGIN": "me@example.com"},
            "OCTOPUSH_API_KEY is not set: export OCTOPUSH_API_LOGIN and OCTOPUSH_API_KEY "
            "(credentials never live in files), or use --sandbox to send to the local sandbox",
        ),
    ],
)
def test_from_env_without_credentials(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    for name in ("OCTOPUSH_API_LOGIN", "OCTOPUSH_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(MissingCredentials) as caught:
        OctopushClient.from_env(os.environ, "https://api.octopush.com/v1/public")
    assert str(caught.value) == message
    assert isinstance(caught.value, OctoplanError) and not isinstance(caught.value, ApiError)


def test_from_env_base_url_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OCTOPUSH_API_LOGIN", "me@example.com")
    monkeypatch.setenv("OCTOPUSH_API_KEY", SANDBOX_KEY)
    monkeypatch.delenv("OCTOPUSH_BASE_URL", raising=False)
    with OctopushClient.from_env(os.environ, None) as client:
        assert client.base_url == "https://api.octopush.com/v1/public"
    with OctopushClient.from_env(os.environ, "http://127.0.0.1:9/v1/public/") as client:
        assert client.base_url == "http://127.0.0.1:9/v1/public"
    monkeypatch.setenv("OCTOPUSH_BASE_URL", "http://localhost:8642/v1/public")
    with OctopushClient.from_env(os.environ, "http://127.0.0.1:9/v1/public") as client:
        assert client.base_url == "http://localhost:8642/v1/public"
    monkeypatch.setenv("OCTOPUSH_BASE_URL", "localhost:8642")
    with pytest.raises(OctoplanError) as caught:
        OctopushClient.from_env(os.environ, None)
    assert str(caught.value) == (
        "the Octopush base URL 'localhost:8642' is not an http(s) URL; "
        "fix OCTOPUSH_BASE_URL or api.base_url in octoplan.yaml"
    )


# -- a hostile network between us and the API (a real proxy, tests/fixtures/hostile.py) -------

HOSTILE = ["truncated", "html-200", "error-200", "huge", "html-502", "cut"]


@pytest.mark.parametrize("mode", HOSTILE)
def test_a_mangled_answer_to_an_accepted_send_is_retried_and_confirmed(
    sandbox: SandboxServer, hostile_proxy: Any, mode: str
) -> None:
    proxy = hostile_proxy(sandbox, {"h-1": [mode]})
    client = OctopushClient(proxy.base_url, "me@example.com", SANDBOX_KEY, backoff=0.001)
    try:
        with pytest.raises(RequestIdAlreadyUsed) as caught:
            client.send_sms_campaign(sms("h-1"))
    finally:
        client.close()
    assert caught.value.attempts == 2
    assert proxy.log == [("h-1", mode), ("h-1", "pass")]
    assert delivered(sandbox, "h-1") == ["+33612345678"]


@pytest.mark.parametrize("mode", HOSTILE)
def test_mangled_answers_that_never_reach_the_api_are_never_a_send(
    sandbox: SandboxServer, hostile_proxy: Any, mode: str
) -> None:
    proxy = hostile_proxy(sandbox, {"n-1": [f"never-{mode}"] * 3})
    client = OctopushClient(
        proxy.base_url, "me@example.com", SANDBOX_KEY, backoff=0.001, max_retries=2
    )
    try:
        with pytest.raises(TransientApiError) as caught:
            client.send_sms_campaign(sms("n-1"))
    finally:
        client.close()
    assert caught.value.attempts == 3
    assert sandbox.deliveries() == [] and sandbox.requests() == []


def test_an_answer_trickling_in_times_out_as_a_whole(
    sandbox: SandboxServer, hostile_proxy: Any
) -> None:
    # One byte every 0.3 s never trips a per-read timeout of 1 s: the answer as a whole must.
    proxy = hostile_proxy(sandbox, {"slow-2": ["trickle"]})
    events: list[RetryEvent] = []
    client = OctopushClient(
        proxy.base_url,
        "me@example.com",
        SANDBOX_KEY,
        timeout=1.0,
        backoff=0.001,
        on_retry=events.append,
    )
    started = time.monotonic()
    try:
        with pytest.raises(RequestIdAlreadyUsed):
            client.send_sms_campaign(sms("slow-2"))
    finally:
        client.close()
    assert time.monotonic() - started < 5
    assert [e.reason for e in events] == [
        "timed out waiting for the answer (the answer took over 1s)"
    ]
    assert delivered(sandbox, "slow-2") == ["+33612345678"]


# -- may an attempt have reached the API? (SPEC section 6, "ambiguous then refused") ----------


@pytest.mark.parametrize("earlier", ["drop", "fail", "garble"])
@pytest.mark.parametrize("denial", ["deny401", "deny403", "deny400"])
def test_a_4xx_to_a_retry_after_an_ambiguous_attempt_may_have_arrived(
    sandbox: SandboxServer, make_client: ClientFactory, earlier: str, denial: str
) -> None:
    sandbox.inject(earlier, denial)  # type: ignore[arg-type]
    with pytest.raises((AuthenticationError, RefusedError)) as caught:
        make_client(sandbox).send_sms_campaign(sms("amb-1"))
    assert (caught.value.attempts, caught.value.may_have_arrived) == (2, True)


def test_a_4xx_to_the_first_attempt_did_not_arrive(
    sandbox: SandboxServer, make_client: ClientFactory
) -> None:
    sandbox.inject("deny403")
    with pytest.raises(RefusedError) as caught:
        make_client(sandbox).send_sms_campaign(sms("first-1"))
    assert (caught.value.status, caught.value.attempts) == (403, 1)
    assert caught.value.may_have_arrived is False


def test_an_unopened_connection_never_arrived(tmp_path: Any, make_client: ClientFactory) -> None:
    server = SandboxServer(tmp_path / "gone.db")
    server.start()
    server.stop()
    with pytest.raises(TransientApiError) as caught:
        make_client(server, max_retries=1).send_sms_campaign(sms("gone-1"))
    assert caught.value.may_have_arrived is False


def test_429s_then_a_4xx_never_arrived() -> None:
    answers = iter([429, 429, 403])

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(next(answers), json={"code": 0, "message": "no"})

    client = OctopushClient(
        "https://api.example.test/v1/public",
        "me@example.com",
        SANDBOX_KEY,
        transport=httpx.MockTransport(handler),
        backoff=0.0,
    )
    with pytest.raises(RefusedError) as caught:
        client.send_sms_campaign(sms("busy-1"))
    assert (caught.value.attempts, caught.value.may_have_arrived) == (3, False)


@pytest.mark.parametrize(
    ("login", "key", "message"),
    [
        ("me@example.com", "clé", "the API key holds a non-ASCII character at character 3"),
        ("me@example.com", "k\r\nX: 1", "the API key holds a line break at character 2"),
        ("me@\x1bexample.com", "k", "the API login holds a control character at character 4"),
    ],
)
def test_credentials_no_header_can_carry_are_refused_without_quoting_them(
    login: str, key: str, message: str
) -> None:
    with pytest.raises(InvalidCredentials) as caught:
        OctopushClient("https://api.example.test/v1/public", login, key)
    assert str(caught.value) == (
        f"{message}, which no HTTP header can carry; set it exactly as the Octopush "
        "dashboard shows it"
    )
