"""`octoplan receive`: the HTTP server for Octopush callbacks, until Ctrl-C or SIGTERM.

Stopping it is its normal end (exit 0), after the callbacks in flight are answered and stored.
The only line on stdout is the server's base URL, written once it listens (so a script can
start it with `--port 0` and read the port); the token never appears in any output.
"""

from __future__ import annotations

import logging
import os
import signal
from types import FrameType

from octoplan.commands.context import AppContext
from octoplan.commands.targets import config_target
from octoplan.receive.server import ReceiveServer
from octoplan.receive.settings import TOKEN_VAR, callback_token, project_region
from octoplan.state.open import describe, is_postgres, open_state


def _stop(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def run(app: AppContext, host: str, port: int) -> int:
    token = callback_token(os.environ)
    root = app.root
    location = config_target(app).state
    region = project_region(root)
    _log_to(app)
    server = ReceiveServer(
        lambda: open_state(location, root),
        token,
        region,
        host=host,
        port=port,
        single_writer=not is_postgres(location),
    )
    # Listen first: a port in use is then told before anything is written. The state is
    # created or upgraded before the announcement, so its errors come before the URL.
    server.bind()
    try:
        open_state(location, root).close()
    except BaseException:
        server.unbind()
        raise
    # Before the announcement: a script may signal it as soon as it read the URL.
    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        app.note(f"octoplan receive listening on {server.url} (state: {describe(location)})")
        app.note(f"Callback URL: {server.url}/callbacks/<the value of {TOKEN_VAR}>")
        app.note("Press Ctrl-C to stop.")
        app.echo(server.url)
        server.serve()
    except KeyboardInterrupt:
        pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    app.note("receive stopped")
    return 0


def _log_to(app: AppContext) -> None:
    """Problems of the worker and of state go to stderr, one line each (hidden by --quiet
    unless they are errors)."""
    handler = logging.StreamHandler(app.err.file)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.ERROR if app.quiet else logging.INFO)
    logging.getLogger("uvicorn.error").setLevel(logging.WARNING)
