"""`octoplan sandbox`: run the local Octopush-compatible API until Ctrl-C.

Stopping it (Ctrl-C or SIGTERM) is its normal end, so it exits 0 after closing cleanly.
The only line on stdout is the base URL, written once the server listens, so scripts can start
it with `--port 0` and read it.
"""

from __future__ import annotations

import signal
from pathlib import Path
from types import FrameType

from octoplan import clock
from octoplan.commands.context import AppContext
from octoplan.errors import UsageError
from octoplan.events import normalize_number
from octoplan.receive.settings import project_region
from octoplan.sandbox import SandboxServer
from octoplan.sandbox.callbacks import ReportSettings
from octoplan.sandbox.store import Store

DEFAULT_DATA = Path(".octoplan") / "sandbox.db"
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def run(
    app: AppContext,
    host: str,
    port: int,
    data_file: Path | None,
    api_login: str | None,
    api_key: str | None,
    credit: float,
    fail_rate: float,
    drop_rate: float,
    latency: float,
    callback_url: str | None,
    callback_delay: float,
    undelivered_rate: float,
) -> int:
    data = data_file if data_file is not None else app.root / DEFAULT_DATA
    if callback_url is not None and not callback_url.startswith(("http://", "https://")):
        raise UsageError(f"--callback-url must be an http:// or https:// URL, not {callback_url!r}")
    server = SandboxServer(
        data,
        host,
        port,
        api_login=api_login,
        api_key=api_key,
        credit=credit,
        fail_rate=fail_rate,
        drop_rate=drop_rate,
        latency=latency,
        callback_url=callback_url,
        reports=ReportSettings(delay=callback_delay, undelivered_rate=undelivered_rate),
    )
    previous = signal.signal(signal.SIGTERM, _stop_on_sigterm)
    try:
        server.bind()
        _announce(app, server, data, api_login, api_key, fail_rate, drop_rate, latency)
        if callback_url is not None:
            # Not the URL itself: its path holds the receiver's token.
            app.note(
                "delivery reports and replies are posted to the --callback-url "
                f"({undelivered_rate:.0%} NOT_DELIVERED)"
            )
        server.serve_forever()
    except KeyboardInterrupt:
        app.note("sandbox stopped")
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.stop()
    return 0


def _announce(
    app: AppContext,
    server: SandboxServer,
    data: Path,
    api_login: str | None,
    api_key: str | None,
    fail_rate: float,
    drop_rate: float,
    latency: float,
) -> None:
    login = api_login or "you@example.com"
    key_note = "the --api-key value" if api_key else "any-non-empty-key"
    app.note(f"octoplan sandbox listening on {server.base_url} (data: {data})")
    app.note(f"credit: {server.credit():.2f} EUR")
    if server.host not in LOOPBACK:
        app.note(
            f"warning: {server.host} is not a loopback address: anyone who can reach it can "
            "read what was delivered"
        )
    faults = []
    if fail_rate:
        faults.append(f"HTTP 500 on {fail_rate:.0%} of requests")
    if drop_rate:
        faults.append(f"{drop_rate:.0%} of answers dropped after acceptance")
    if latency:
        faults.append(f"{latency:g} s added latency")
    if faults:
        app.note("faults: " + ", ".join(faults))
    app.note("Point octoplan at it:")
    app.note(f"  export OCTOPUSH_BASE_URL={server.base_url}")
    app.note(f"  export OCTOPUSH_API_LOGIN={login} OCTOPUSH_API_KEY=<{key_note}>")
    app.note(f"Delivered messages: {server.url}/_sandbox/deliveries")
    app.note("Press Ctrl-C to stop.")
    # Last: a script that read this line knows the server is listening and announced.
    app.echo(server.base_url)


def run_reply(app: AppContext, number: str, text: str, data_file: Path | None) -> int:
    """Record a reply from NUMBER in the sandbox's data file: a running sandbox posts it to its
    --callback-url; `status --sandbox` reads it for the embedded sandbox."""
    normalized = normalize_number(number, project_region(app.root))
    if normalized is None:
        raise UsageError(f"'{number}' is not a valid phone number")
    if not text.strip():
        raise UsageError("the reply text is empty")
    data = data_file if data_file is not None else app.root / DEFAULT_DATA
    store = Store(data, 1000.0)
    try:
        store.add_reply(normalized, text, clock.now().timestamp())
    finally:
        store.close()
    app.note(f"reply recorded in {data}")
    return 0
