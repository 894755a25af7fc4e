"""The callback endpoint: `POST /callbacks/<token>`, answered 204 once the callback is stored.

- A wrong token is a 404, compared in constant time, and nothing is stored: the URL is the only
  secret Octopush callbacks can carry (no signature scheme is published).
- The body is read as it comes, at most `MAX_BODY` bytes: a larger one is refused with 413
  (from its Content-Length, before reading any of it; else as soon as it passes the limit)
  and only a trace of it is kept (its first bytes), reported by `status` as unmatched.
- Any body is stored as received, whatever it holds: reading it is the worker's job, after the
  answer. Only a failure to store it answers 503 (not acknowledged, so Octopush may retry).
- `GET /healthz` answers 200 for load balancers and container health checks.

Nothing here logs a request: the path holds the token.
"""

from __future__ import annotations

import contextlib
import secrets
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from octoplan import clock
from octoplan.events import dedup_key
from octoplan.receive.ingest import NotStored
from octoplan.state.eventlog import RawEvent

MAX_BODY = 64 * 1024
_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
_MAX_CONTENT_TYPE = 200

Store = Callable[[RawEvent], Awaitable[None]]


class _TooLarge(Exception):
    def __init__(self, kept: bytes, size: str) -> None:
        self.kept = kept
        self.size = size


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _TooLarge(b"", f"{int(declared):,} bytes announced")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise _TooLarge(bytes(body[:limit]), f"over {limit:,} bytes")
    return bytes(body)


def _utc_now() -> datetime:
    return datetime.now(UTC)


def make_app(
    token: str,
    store: Store,
    *,
    max_body: int = MAX_BODY,
    now: Callable[[], datetime] | None = None,
) -> Starlette:
    expected = token.encode()
    if now is None:
        # `octoplan.clock` reads the environment on every call (for tests that pin it): only
        # when it is pinned is it worth that on every callback.
        now = clock.now if clock.pinned() else _utc_now

    async def callback(request: Request) -> Response:
        given = str(request.path_params["token"]).encode()
        if not secrets.compare_digest(given, expected):
            return Response(status_code=404)
        if request.method != "POST":
            return Response(status_code=405, headers={"Allow": "POST"})
        content_type = request.headers.get("content-type", "")[:_MAX_CONTENT_TYPE]
        received = now()
        try:
            body = await _read_body(request, max_body)
        except _TooLarge as large:
            # Kept as a trace under a key of its own: never taken for another callback.
            event = RawEvent(
                f"oversized:{uuid.uuid4().hex}",
                received,
                content_type,
                large.kept,
                f"body refused: {large.size} (limit {max_body:,})",
            )
            with contextlib.suppress(NotStored):  # the answer is 413 either way
                await store(event)
            return Response(status_code=413)
        event = RawEvent(dedup_key(content_type, body), received, content_type, body)
        try:
            await store(event)
        except NotStored:
            return Response(status_code=503, headers={"Retry-After": "1"})
        return Response(status_code=204)

    async def health(request: Request) -> Response:
        return PlainTextResponse("ok")

    return Starlette(
        routes=[
            Route("/callbacks/{token}", callback, methods=_METHODS),
            Route("/healthz", health, methods=["GET", "HEAD"]),
        ]
    )
