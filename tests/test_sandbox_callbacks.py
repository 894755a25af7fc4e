"""The sandbox posts delivery reports and replies like Octopush: to a real HTTP server here."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from octoplan.sandbox import SandboxServer
from octoplan.sandbox.callbacks import ReportSettings
from tests.fixtures.project import MakeProject, run_cli
from tests.fixtures.receiver import wait_for
from tests.fixtures.sandbox import SandboxFactory

HEADERS = {"api-key": "k", "api-login": "me@example.com"}
NUMBERS = [f"+336123456{n:02d}" for n in range(20)]


class Collector:
    """A callback endpoint that keeps what it gets; answers `failures` 500s first."""

    def __init__(self, failures: int = 0) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.failures = failures
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if collector.failures:
                    collector.failures -= 1
                    self.send_response(500)
                else:
                    collector.bodies.append(json.loads(body))
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/callbacks/x"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def collector() -> Iterator[Collector]:
    found = Collector()
    yield found
    found.server.shutdown()


def send(server: SandboxServer, request_id: str, numbers: list[str], **extra: Any) -> None:
    body = {
        "text": "Code 1234",
        "purpose": "alert",
        "request_id": request_id,
        "recipients": [{"phone_number": n} for n in numbers],
        **extra,
    }
    answer = httpx.post(server.base_url + "/sms-campaign/send", json=body, headers=HEADERS)
    assert answer.status_code == 201, answer.text


def reports(collector: Collector, count: int) -> list[dict[str, Any]]:
    return wait_for(lambda: list(collector.bodies), lambda found: len(found) >= count)


def test_one_report_per_accepted_message_none_for_a_refused_one(
    sandbox_factory: SandboxFactory, collector: Collector
) -> None:
    server = sandbox_factory(callback_url=collector.url, reports=ReportSettings(delay=0))
    send(server, "r1", NUMBERS[:3])
    refused = httpx.post(
        server.base_url + "/sms-campaign/send",
        json={"text": "Promo", "recipients": [{"phone_number": NUMBERS[5]}]},  # no STOP
        headers=HEADERS,
    )
    assert refused.status_code == 400
    found = reports(collector, 3)
    assert sorted(r["number"] for r in found) == NUMBERS[:3]
    assert {(r["channel"], r["status"]) for r in found} == {("sms", "DELIVERED")}
    assert all(r["message_id"].startswith("sms_") for r in found)
    assert all(len(r["delivery_date"]) == 19 for r in found)  # Y-m-d H:i:s
    server.stop()
    assert len(collector.bodies) == 3


@pytest.mark.parametrize("rate", [0.0, 0.4, 1.0])
def test_undelivered_messages_are_the_same_on_every_run(
    sandbox_factory: SandboxFactory, tmp_path: Path, rate: float
) -> None:
    outcomes = []
    for run in range(2):
        collector = Collector()
        server = sandbox_factory(
            data_path=tmp_path / f"run{run}.db",
            callback_url=collector.url,
            reports=ReportSettings(delay=0, undelivered_rate=rate),
        )
        send(server, "r1", NUMBERS)
        found = reports(collector, len(NUMBERS))
        outcomes.append({r["message_id"]: r["status"] for r in found})
        collector.server.shutdown()
    assert outcomes[0] == outcomes[1]
    undelivered = sum(status == "NOT_DELIVERED" for status in outcomes[0].values())
    assert undelivered == {0.0: 0, 0.4: undelivered, 1.0: len(NUMBERS)}[rate]
    if rate == 0.4:
        assert 0 < undelivered < len(NUMBERS)


def test_a_scheduled_send_is_reported_at_its_time_a_cancelled_one_never(
    sandbox_factory: SandboxFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OCTOPLAN_NOW", "2026-03-01T10:00:00+00:00")
    server = sandbox_factory(reports=ReportSettings(delay=0))
    send(server, "r1", NUMBERS[:2], send_at="2026-03-01T12:00:00+00:00")
    send(server, "r2", NUMBERS[2:3], send_at="2026-03-01T12:00:00+00:00")
    ticket = server.deliveries(request_id="r2")[0].ticket
    cancelled = httpx.request(
        "DELETE",
        server.base_url + "/sms-campaign/cancel",
        json={"ticket_number": ticket},
        headers=HEADERS,
    )
    assert cancelled.status_code == 200
    store, settings = server.store, server.reports
    noon = 1772366400.0  # 2026-03-01T12:00:00Z
    assert store.due_callbacks(noon - 1, settings) == []
    due = store.due_callbacks(noon, settings)
    assert [json.loads(c.body)["number"] for c in due] == NUMBERS[:2]
    assert {json.loads(c.body)["delivery_date"] for c in due} == {"2026-03-01 13:00:00"}
    store.mark_reported(due)
    assert store.due_callbacks(noon + 3600, settings) == []


def test_failed_posts_are_retried_in_order(sandbox_factory: SandboxFactory) -> None:
    collector = Collector(failures=2)
    server = sandbox_factory(callback_url=collector.url, reports=ReportSettings(delay=0))
    send(server, "r1", NUMBERS[:4])
    found = reports(collector, 4)
    assert [r["number"] for r in found] == NUMBERS[:4]
    collector.server.shutdown()


def test_a_reply_is_posted_stop_as_an_opt_out(
    sandbox_factory: SandboxFactory, collector: Collector
) -> None:
    server = sandbox_factory(callback_url=collector.url)
    root = server.url
    stopped = httpx.post(f"{root}/_sandbox/reply", json={"number": NUMBERS[0], "text": "STOP"})
    assert stopped.status_code == 201
    merci = httpx.post(f"{root}/_sandbox/reply", json={"number": NUMBERS[1], "text": "Merci"})
    assert merci.status_code == 201
    bad = httpx.post(f"{root}/_sandbox/reply", json={"number": 33})
    assert (bad.status_code, bad.json()) == (
        400,
        {"code": 400, "message": 'Send {"number": "+33612345678", "text": "STOP"}.'},
    )
    stop, reply = reports(collector, 2)
    assert (stop["number"], stop["text"], "stop_date" in stop) == (NUMBERS[0], "STOP", True)
    assert (reply["number"], reply["text"], "reception_date" in reply) == (
        NUMBERS[1],
        "Merci",
        True,
    )


def test_the_reply_helper_writes_to_the_sandbox_data(make_project: MakeProject) -> None:
    root = make_project()
    done = run_cli("sandbox", "reply", "06 12 34 56 78", "STOP", cwd=root)
    assert done.returncode == 0, done.stderr
    assert done.stderr == f"reply recorded in {root / '.octoplan' / 'sandbox.db'}\n"
    bad = run_cli("sandbox", "reply", "12", "STOP", cwd=root)
    assert (bad.returncode, bad.stderr) == (1, "error: '12' is not a valid phone number\n")


def test_the_demo_shows_delivery_status_after_an_embedded_apply(
    example_project: Path,
) -> None:
    applied = run_cli("apply", "--sandbox", "--auto-approve", cwd=example_project)
    assert applied.returncode == 0, applied.stderr
    status = run_cli("status", "--sandbox", "--format", "json", cwd=example_project)
    assert status.returncode == 0, status.stderr
    found = {c["id"]: c for c in json.loads(status.stdout)["campaigns"]}
    sent_now = [c for c in found.values() if c["channel"] not in ("live_chat",)]
    delivered = sum(c["delivered"] for c in sent_now)
    assert delivered > 0
    assert json.loads(status.stdout)["unmatched"] == {"total": 0, "by_kind": {}}
    again = run_cli("status", "--sandbox", "--format", "json", cwd=example_project)
    assert json.loads(again.stdout) == json.loads(status.stdout)  # reports delivered once
