"""The sandbox server's own corners over real HTTP: what it refuses before the API sees a
request (an oversized body, a path outside the API), faults that meet an answer they cannot
mangle, a lost answer that makes the retries refused, IPv6, and its helpers' refusals."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import httpx
import pytest

from octoplan.sandbox import SandboxServer
from octoplan.sandbox.callbacks import ReportSettings
from tests.fixtures.sandbox import SandboxFactory

HEADERS = {"api-key": "k", "api-login": "me@example.com"}
STOP = "STOP au 30101"


def sms(request_id: str | None = None, text: str = f"Promo {STOP}") -> dict[str, object]:
    body: dict[str, object] = {
        "text": text,
        "recipients": [{"phone_number": "+33612345678"}],
        "purpose": "wholesale",
        "sender": "ShopX",
    }
    if request_id is not None:
        body["request_id"] = request_id
    return body


def test_a_body_over_8_mb_is_refused_unread(sandbox: SandboxServer) -> None:
    with socket.create_connection(("127.0.0.1", sandbox.port), timeout=10) as conn:
        conn.sendall(
            b"POST /v1/public/sms-campaign/send HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\nContent-Length: 8388609\r\n\r\n"
        )
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.split(b"\r\n")[0] == b"HTTP/1.1 413 Request Entity Too Large"
    assert json.loads(body) == {"code": 413, "message": "Payload too large."}
    assert sandbox.deliveries() == []


def test_a_put_and_a_path_outside_the_api_are_answered_not_served(
    sandbox: SandboxServer,
) -> None:
    put = httpx.put(sandbox.base_url + "/sms-campaign/send", json=sms(), headers=HEADERS)
    assert (put.status_code, put.json()) == (405, {"code": 405, "message": "Method not allowed."})
    outside = httpx.get(sandbox.url + "/index.html")
    assert (outside.status_code, outside.json()) == (404, {"code": 404, "message": "Not found."})
    # Only the API's requests are logged: the PUT is, the page outside it is not.
    assert [(r.method, r.path, r.status) for r in sandbox.requests()] == [
        ("PUT", "/v1/public/sms-campaign/send", 405)
    ]
    assert sandbox.deliveries() == []


def test_a_mangling_fault_leaves_a_refusal_as_it_is(sandbox: SandboxServer) -> None:
    sandbox.inject("negative_count")
    refused = httpx.post(
        sandbox.base_url + "/sms-campaign/send", json=sms(text="Promo"), headers=HEADERS
    )
    assert refused.status_code == 400
    assert refused.json() == {"code": 121, "message": "Mention STOP is missing."}
    [logged] = sandbox.requests()
    assert (logged.status, logged.outcome) == (400, "refused")  # not "refused+negative_count"
    # The fault was spent on the refusal: the next send is answered as it is.
    accepted = httpx.post(sandbox.base_url + "/sms-campaign/send", json=sms(), headers=HEADERS)
    assert (accepted.status_code, accepted.json()["number_of_contacts"]) == (201, 1)


def test_a_throttle_on_a_body_that_is_not_json_logs_no_request_id(
    sandbox: SandboxServer,
) -> None:
    sandbox.inject("throttle")
    sandbox.set_faults(retry_after="7")
    answer = httpx.post(
        sandbox.base_url + "/sms-campaign/send",
        content=b"{not json",
        headers={**HEADERS, "content-type": "application/json"},
    )
    assert (answer.status_code, answer.headers["retry-after"]) == (429, "7")
    [logged] = sandbox.requests()
    assert (logged.status, logged.request_id, logged.outcome) == (429, None, "fault_429")


def test_a_dropped_answer_makes_the_retries_of_its_request_id_refused_then_served(
    sandbox_factory: SandboxFactory,
) -> None:
    server = sandbox_factory(deny_attempts=2, deny_statuses=(403, 400), seed=1)
    server.set_faults(deny_after_drop=1.0, latency=0.05)
    server.inject("drop")
    url = server.base_url + "/sms-campaign/send"
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.post(url, json=sms("r-lost"), headers=HEADERS)
    started = time.monotonic()
    first = httpx.post(url, json=sms("r-lost"), headers=HEADERS)
    second = httpx.post(url, json=sms("r-lost"), headers=HEADERS)
    third = httpx.post(url, json=sms("r-lost"), headers=HEADERS)
    assert time.monotonic() - started >= 0.15  # the latency, once per answer
    assert [first.status_code, second.status_code] == [403, 400]
    assert second.json() == {"code": 400, "message": "Payload validation error."}
    # The third attempt is served: the request_id is already used (the send went through).
    assert (third.status_code, third.json()) == (
        400,
        {"code": 120, "message": "request_id already used."},
    )
    assert len(server.deliveries(request_id="r-lost")) == 1
    # Another request_id is never refused.
    other = httpx.post(url, json=sms("r-other"), headers=HEADERS)
    assert other.status_code == 201


def test_a_dropped_refusal_makes_no_retry_refused(sandbox_factory: SandboxFactory) -> None:
    server = sandbox_factory()
    server.set_faults(deny_after_drop=1.0)
    server.inject("drop")
    url = server.base_url + "/sms-campaign/send"
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.post(url, json=sms("r1", text="Promo"), headers=HEADERS)  # refused: no STOP
    again = httpx.post(url, json=sms("r1"), headers=HEADERS)
    assert again.status_code == 201


def test_a_sandbox_on_ipv6_loopback_serves_and_names_itself(tmp_path: Path) -> None:
    server = SandboxServer(tmp_path / "v6.db", "::1", 0)
    server.start()
    try:
        assert server.url == f"http://[::1]:{server.port}"
        assert repr(server) == (
            f"SandboxServer('http://[::1]:{server.port}', data_path='{tmp_path / 'v6.db'}')"
        )
        answer = httpx.post(server.base_url + "/sms-campaign/send", json=sms(), headers=HEADERS)
        assert answer.status_code == 201
        [delivery] = server.deliveries()
        assert delivery.recipient == "+33612345678"
    finally:
        server.stop()


def test_bodies_are_kept_only_when_asked(sandbox: SandboxServer) -> None:
    with pytest.raises(ValueError) as refused:
        sandbox.bodies()
    assert str(refused.value) == "this sandbox keeps no bodies: start it with keep_bodies=True"


def test_a_denial_the_sandbox_cannot_fake_is_refused_at_start(tmp_path: Path) -> None:
    with pytest.raises(ValueError) as refused:
        SandboxServer(tmp_path / "s.db", "127.0.0.1", 0, deny_statuses=(418,))
    assert str(refused.value) == (
        "no denial fault for HTTP 418; known: ['deny400', 'deny401', 'deny403']"
    )


def test_a_reply_written_by_the_helper_is_due_as_a_callback(sandbox: SandboxServer) -> None:
    sandbox.reply("+33612345678", "STOP")
    sandbox.reply("+33612345679", "Merci")
    due = sandbox.store.due_callbacks(time.time() + 60, ReportSettings(delay=0))
    bodies = [json.loads(callback.body) for callback in due]
    assert [(b["number"], b["text"]) for b in bodies] == [
        ("+33612345678", "STOP"),
        ("+33612345679", "Merci"),
    ]
    assert "stop_date" in bodies[0] and "reception_date" in bodies[1]


def test_a_dropped_answer_is_mostly_not_followed_by_refusals_at_a_low_rate(
    sandbox_factory: SandboxFactory,
) -> None:
    server = sandbox_factory(seed=1)
    server.set_faults(deny_after_drop=1e-9)
    server.inject("drop")
    url = server.base_url + "/sms-campaign/send"
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.post(url, json=sms("r1"), headers=HEADERS)
    again = httpx.post(url, json=sms("r1"), headers=HEADERS)
    assert (again.status_code, again.json()) == (
        400,
        {"code": 120, "message": "request_id already used."},
    )
