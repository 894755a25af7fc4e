"""What plan and apply share: opening the right state, and reaching the right API."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from octoplan.client import OctopushClient, SendResult
from octoplan.errors import UsageError
from octoplan.loader import Project
from octoplan.payload import MULTI_SEND, SMS_SEND
from octoplan.pipeline import SANDBOX_STATE
from octoplan.state.base import StateStore
from octoplan.state.open import open_state, resolve_location

SANDBOX_DATA = ".octoplan/sandbox.db"
SANDBOX_LOGIN = "sandbox@octoplan.local"
SANDBOX_KEY = "sandbox"  # the embedded sandbox accepts any key; this one is no secret


def state_location(root: Path, project: Project, sandbox: bool) -> str:
    # Sandbox sends must never mark a real recipient as sent: they get their own state.
    if sandbox:
        return SANDBOX_STATE
    return resolve_location(project.config.state, root)


@contextmanager
def open_store(root: Path, project: Project, *, sandbox: bool) -> Iterator[StateStore]:
    store = open_state(state_location(root, project, sandbox), root)
    try:
        yield store
    finally:
        store.close()


class ClientSender:
    """Adapts OctopushClient to what apply needs: send and cancel by endpoint."""

    def __init__(self, client: OctopushClient) -> None:
        self.client = client

    def send(self, endpoint: str, body: dict[str, Any]) -> SendResult:
        if endpoint == SMS_SEND:
            return self.client.send_sms_campaign(body)
        if endpoint == MULTI_SEND:
            return self.client.send_multichannel(body)
        raise UsageError(f"octoplan cannot send through {endpoint} yet")

    def cancel(self, endpoint: str, body: dict[str, Any]) -> None:
        ticket = str(body["ticket_number"])
        if endpoint == SMS_SEND:
            self.client.cancel_sms_campaign(ticket)
        else:
            self.client.cancel_multichannel(str(body["channel"]), ticket)


def require_credentials() -> None:
    missing = [v for v in ("OCTOPUSH_API_LOGIN", "OCTOPUSH_API_KEY") if not os.environ.get(v)]
    if missing:
        raise UsageError(
            "no Octopush credentials: set OCTOPUSH_API_LOGIN and OCTOPUSH_API_KEY "
            f"(missing: {', '.join(missing)}), or use --sandbox to send to the local sandbox"
        )


@contextmanager
def connect(root: Path, project: Project, *, sandbox: bool) -> Iterator[OctopushClient]:
    """A client for the real API (credentials from the environment) or the embedded sandbox."""
    if not sandbox:
        require_credentials()
        base_url = os.environ.get("OCTOPUSH_BASE_URL") or project.config.api.base_url
        with OctopushClient(
            base_url, os.environ["OCTOPUSH_API_LOGIN"], os.environ["OCTOPUSH_API_KEY"]
        ) as client:
            yield client
        return
    from octoplan.sandbox import SandboxServer

    server = SandboxServer(root / SANDBOX_DATA, "127.0.0.1", 0)
    base_url = server.start()
    try:
        with OctopushClient(base_url, SANDBOX_LOGIN, SANDBOX_KEY) as client:
            yield client
    finally:
        server.stop()
