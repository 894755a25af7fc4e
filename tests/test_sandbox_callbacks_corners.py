"""The sandbox's callback poster in rarer rounds: a receiver that cannot be reached, a send
larger than one marking batch, and a send whose reports were only partly marked."""

from __future__ import annotations

import json
import logging
import socket
import time

import httpx
import pytest

from octoplan.sandbox.callbacks import ReportSettings
from tests.fixtures.receiver import wait_for
from tests.fixtures.sandbox import SandboxFactory
from tests.test_sandbox_callbacks import HEADERS, Collector, reports, send

NUMBERS = [f"+3361234{n:04d}" for n in range(120)]


def test_a_send_of_more_than_one_batch_is_posted_whole_and_marked(
    sandbox_factory: SandboxFactory,
) -> None:
    collector = Collector()
    try:
        server = sandbox_factory(callback_url=collector.url, reports=ReportSettings(delay=0))
        send(server, "big", NUMBERS)
        found = reports(collector, len(NUMBERS))
        assert [r["number"] for r in found] == NUMBERS  # in order, each once
        # Marked as posted (every 100, then the rest): nothing is due any more.
        wait_for(
            lambda: server.store.due_callbacks(time.time() + 3600, server.reports),
            lambda due: due == [],
        )
        server.stop()
        assert len(collector.bodies) == len(NUMBERS)
    finally:
        collector.server.shutdown()


def test_an_unreachable_receiver_is_retried_and_nothing_is_marked(
    sandbox_factory: SandboxFactory, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    caplog.set_level(logging.WARNING, logger="octoplan.sandbox")
    server = sandbox_factory(
        callback_url=f"http://127.0.0.1:{port}/callbacks", reports=ReportSettings(delay=0)
    )
    send(server, "r1", NUMBERS[:2])
    wait_for(
        lambda: [r.getMessage() for r in caplog.records],
        lambda found: "callback not delivered (ConnectError); retrying" in found,
    )
    due = server.store.due_callbacks(time.time() + 3600, server.reports)
    assert [json.loads(c.body)["number"] for c in due] == NUMBERS[:2]
    server.stop()


def test_a_send_partly_reported_is_due_for_the_rest_only(sandbox_factory: SandboxFactory) -> None:
    server = sandbox_factory(reports=ReportSettings(delay=0))
    send(server, "r1", NUMBERS[:3])
    store, settings, later = server.store, server.reports, time.time() + 3600
    first = store.due_callbacks(later, settings)
    store.mark_reported(first[:1])
    rest = store.due_callbacks(later, settings)
    assert [c.body for c in rest] == [c.body for c in first[1:]]
    assert [json.loads(c.body)["number"] for c in rest] == NUMBERS[1:3]
    refused = httpx.post(server.base_url + "/sms-campaign/send", json={}, headers=HEADERS)
    assert refused.status_code == 400
    assert store.due_callbacks(later, settings) == rest
