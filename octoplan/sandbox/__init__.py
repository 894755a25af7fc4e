"""A local Octopush-compatible API for tests, demos and `octoplan apply --sandbox`.

    from octoplan.sandbox import SandboxServer, read_deliveries

    with SandboxServer(Path(".octoplan/sandbox.db")) as server:   # port 0: a free port
        ...  # point a client at server.base_url with any non-empty login/key
    read_deliveries(Path(".octoplan/sandbox.db"))                  # no server needed

Modules: `server` (HTTP, faults), `api` (endpoints), `rules` (the API's validation, codes),
`store` (the SQLite file).
"""

from __future__ import annotations

from octoplan.sandbox.server import SandboxServer
from octoplan.sandbox.store import Delivery, LoggedRequest, read_deliveries, read_requests

__all__ = ["Delivery", "LoggedRequest", "SandboxServer", "read_deliveries", "read_requests"]
