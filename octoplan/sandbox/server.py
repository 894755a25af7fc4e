"""The sandbox's HTTP layer: the standard library's threading server, keep-alive, fault injection.

Faults apply to API requests only (never to `/_sandbox/...`), decided per request in this order:
a scripted fault queued with `inject(...)`, else `fail_rate`, else `drop_rate`.

- `fail`: HTTP 500 before anything is processed; nothing is recorded but the request log.
- `html`: HTTP 502 with an HTML page (a proxy in the way), before anything is processed.
- `drop`: the request is processed and committed (deliveries, credit, request_id), then the
  connection is closed without an answer, as when an answer is lost on the way back.
- `garble`: the request is processed and committed, then answered with its status but a
  truncated JSON body (only with `inject`).
- `latency`: seconds slept after processing, before answering (a client timing out before then
  sees a request the sandbox did accept).
- `deny401`, `deny403`, `deny400` (only with `inject`): refused before anything is processed,
  as a rotated key (401, the API's own answer), a gateway (403, an HTML page) or any other 4xx
  (400) would.
- `throttle` (only with `inject`): HTTP 429 with a `Retry-After` header (`retry_after`, "1"
  unless `set_faults` changed it), before anything is processed: a request turned away unread.
- `negative_count`, `fractional_count`, `number_ticket`, `no_ticket`, `no_status`,
  `string_numbers`, `array`, `not_json`, `unknown_unit` (only with `inject`): the request is
  processed and committed, then its success answer is mangled: `number_of_contacts` -1 or
  1.5, the ticket a number or left out, the voice list status left out, every number sent as a
  string, the answer wrapped in a JSON array, a plain-text body, or a balance in `credits`. An
  answer that is not a success is left as it is. What a client must take for a request that
  may have gone through (a balance in an unknown unit: one it cannot price).
- `deny_after_drop` (a rate): a request accepted then dropped has its next `deny_attempts`
  attempts (same request_id) refused that way, the statuses taken in turn from
  `deny_statuses`: the lost answer, then a 4xx to the retry.

`set_credentials` changes the login and key the sandbox accepts while it runs (a rotated key).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import random
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import replace
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from octoplan.clock import now as clock_now
from octoplan.errors import OctoplanError
from octoplan.model import Pricing
from octoplan.sandbox.api import API_PREFIX, Reply, SandboxApi, request_id_in_body
from octoplan.sandbox.callbacks import CallbackPoster, ReportSettings
from octoplan.sandbox.rules import MSG_AUTH
from octoplan.sandbox.store import Delivery, LoggedRequest, Store

Fault = Literal[
    "fail",
    "html",
    "drop",
    "garble",
    "ok",
    "deny401",
    "deny403",
    "deny400",
    "throttle",
    "negative_count",
    "fractional_count",
    "number_ticket",
    "no_ticket",
    "no_status",
    "string_numbers",
    "array",
    "not_json",
    "unknown_unit",
]
FaultTarget = Literal["messages", "any"]
MAX_BODY = 8 * 1024 * 1024
SERVER_ERROR = {"code": 500, "message": "Internal server error."}
BAD_GATEWAY = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
FORBIDDEN = b"<html><head><title>403 Forbidden</title></head><body>gateway</body></html>"
DENIALS: dict[str, Reply] = {
    "deny401": Reply(401, {"code": 101, "message": MSG_AUTH}, "fault_401", 101),
    "deny403": Reply(403, None, "fault_403", 403),
    "deny400": Reply(400, {"code": 400, "message": "Payload validation error."}, "fault_400", 400),
}
THROTTLED = {"code": 429, "message": "Too many requests."}
_TICKETS = ("sms_ticket", "ticket_number")


def _each_ticket(body: dict[str, Any], value: object) -> dict[str, Any]:
    return {k: (value if k in _TICKETS else v) for k, v in body.items()}


def _strings(body: dict[str, Any]) -> dict[str, Any]:
    return {
        k: str(v) if isinstance(v, int | float) and not isinstance(v, bool) else v
        for k, v in body.items()
    }


# Faults that mangle a processed request's success answer (a JSON object): body -> new body.
MANGLES: dict[str, Callable[[dict[str, Any]], Any]] = {
    "negative_count": lambda body: {**body, "number_of_contacts": -1},
    "fractional_count": lambda body: {**body, "number_of_contacts": 1.5},
    "number_ticket": lambda body: _each_ticket(body, 12345),
    "no_ticket": lambda body: {k: v for k, v in body.items() if k not in _TICKETS},
    "no_status": lambda body: {k: v for k, v in body.items() if k != "status"},
    "string_numbers": _strings,
    "array": lambda body: [body],
    "not_json": lambda body: body,  # the body is replaced by text when written
    "unknown_unit": lambda body: {**body, "unit": "credits"} if "unit" in body else body,
}
_REASONS = {status.value: status.phrase for status in HTTPStatus}


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], sandbox: SandboxServer) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.sandbox = sandbox
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that goes away mid-request (a killed apply, a chaos drill) is normal here;
        # socketserver would print a traceback for each one.
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: clients reuse one connection for many requests
    server: _HttpServer

    def setup(self) -> None:
        super().setup()
        # One write per answer already; without this, small answers can wait for delayed ACKs.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.sandbox._track(self.connection, add=True)

    def finish(self) -> None:
        self.server.sandbox._track(self.connection, add=False)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the request log lives in the data file (`/_sandbox/requests`)."""

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def _serve(self) -> None:
        sandbox = self.server.sandbox
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.close_connection = True
            self._write(Reply(413, {"code": 413, "message": "Payload too large."}))
            return
        raw = self.rfile.read(length) if length > 0 else b""
        is_api = self.path.startswith(API_PREFIX)
        if is_api:
            sandbox._keep(self.command, self.path, raw)
        fault = sandbox._next_fault(self.command, raw) if is_api else "ok"
        denial = DENIALS.get(fault)
        if fault == "fail":
            reply = Reply(500, SERVER_ERROR, "fault_500", 500)
        elif fault == "throttle":
            reply = Reply(429, THROTTLED, "fault_429", 429, _request_id_in(raw))
        elif fault == "html":
            reply = Reply(502, None, "fault_502", 502)
        elif denial is not None:
            reply = replace(denial, request_id=_request_id_in(raw))
        else:
            headers = {key.lower(): value for key, value in self.headers.items()}
            try:
                reply = sandbox.api.handle(self.command, self.path, headers, raw)
            except Exception as exc:  # a sandbox bug must not look like a dropped connection
                message = f"Sandbox internal error: {type(exc).__name__}: {exc}"
                reply = Reply(500, {"code": 500, "message": message}, "error", 500)
            mangle = MANGLES.get(fault)
            if mangle is not None:
                if 200 <= reply.status < 300 and isinstance(reply.body, dict):
                    reply = replace(reply, body=mangle(reply.body))
                else:
                    fault = "ok"  # not a success answer: nothing to mangle, sent as it is
        if is_api:
            sandbox._log(self.command, self.path, reply, fault=fault)
            if sandbox.latency:
                time.sleep(sandbox.latency)
        if fault == "drop":
            sandbox._dropped(reply)
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        if fault == "html":
            self._write(reply, BAD_GATEWAY, "text/html")
        elif fault == "throttle":
            self._write(reply, headers={"Retry-After": sandbox.retry_after})
        elif fault == "not_json":
            self._write(reply, b"OK", "text/plain")
        elif fault == "deny403":
            self._write(reply, FORBIDDEN, "text/html")
        elif fault == "garble":
            data = json.dumps(reply.body).encode()
            self._write(reply, data[: len(data) // 2])
        else:
            self._write(reply)

    def _write(
        self,
        reply: Reply,
        data: bytes | None = None,
        content_type: str = "application/json",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if data is None:
            data = b"" if reply.body is None else json.dumps(reply.body).encode()
        reason = _REASONS.get(reply.status, "")
        head = (
            f"HTTP/1.1 {reply.status} {reason}\r\n"
            f"Content-Type: {content_type}\r\n"
            f"Content-Length: {len(data)}\r\n"
            + "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
            + ("Connection: close\r\n" if self.close_connection else "")
            + "\r\n"
        )
        try:
            self.wfile.write(head.encode("latin-1") + data)
        except OSError:
            self.close_connection = True


class SandboxServer:
    """A local Octopush-compatible API over a SQLite file.

    `start()` serves from a background thread and returns the base URL (`http://HOST:PORT/v1/
    public`); `serve_forever()` serves from the calling thread; `stop()` closes everything.
    Port 0 picks a free port. Usable as a context manager (start/stop).
    """

    def __init__(
        self,
        data_path: Path,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        api_login: str | None = None,
        api_key: str | None = None,
        credit: float = 1000.0,
        fail_rate: float = 0.0,
        drop_rate: float = 0.0,
        latency: float = 0.0,
        seed: int | None = None,
        voice_polls: int = 1,
        deny_after_drop: float = 0.0,
        deny_attempts: int = 2,
        deny_statuses: tuple[int, ...] = (401, 403, 400),
        callback_url: str | None = None,
        reports: ReportSettings | None = None,
        pricing: Pricing | None = None,
        home_region: str = "FR",
        keep_bodies: bool = False,
    ) -> None:
        self.data_path = data_path
        # The bodies of API requests as received (`bodies()`), for tests that check what a
        # client really sent; off by default: a chaos run sends thousands.
        self._bodies: list[tuple[str, str, bytes]] | None = [] if keep_bodies else None
        self.host = host
        self.port = port
        self.fail_rate = fail_rate
        self.drop_rate = drop_rate
        self.latency = latency
        self.deny_after_drop = deny_after_drop
        self.deny_attempts = deny_attempts
        self.retry_after = "1"  # the Retry-After header of a `throttle` fault
        self._denials = itertools.cycle([_denial(status) for status in deny_statuses])
        self._denied: dict[str, int] = {}  # request_id -> attempts still to refuse
        self._random = random.Random(seed)
        self._script: deque[Fault] = deque()  # for the next sends and cancels
        self._script_any: deque[Fault] = deque()  # for the next requests, whatever they are
        self._fault_lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._sockets_lock = threading.Lock()
        self.store = Store(data_path, credit)
        self.api = SandboxApi(
            self.store,
            api_login=api_login,
            api_key=api_key,
            voice_polls=voice_polls,
            pricing=pricing,
            home_region=home_region,
        )
        self._httpd: _HttpServer | None = None
        self._thread: threading.Thread | None = None
        self.reports = reports or ReportSettings()
        # Delivery reports and replies go to callback_url from a thread of their own.
        self._poster = (
            None
            if callback_url is None
            else CallbackPoster(
                callback_url,
                lambda now: self.store.due_callbacks(now, self.reports),
                self.store.mark_reported,
                now=clock_now,
            )
        )

    def __repr__(self) -> str:
        return f"SandboxServer({self.url!r}, data_path={str(self.data_path)!r})"

    # -- lifecycle --------------------------------------------------------------------------

    def bind(self) -> _HttpServer:
        """Listen (idempotent); `base_url` is known from here on, even for port 0."""
        if self._httpd is None:
            try:
                self._httpd = _HttpServer((self.host, self.port), self)
            except OSError as exc:
                self.store.close()
                raise OctoplanError(
                    f"cannot listen on {self.host}:{self.port}: {exc.strerror or exc}; "
                    "choose another port with --port (0 picks a free one)"
                ) from None
            self.port = self._httpd.server_address[1]
        return self._httpd

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        return self.url + API_PREFIX.rstrip("/")

    def start(self) -> str:
        httpd = self.bind()
        self._start_poster()
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self.base_url

    def serve_forever(self) -> None:
        httpd = self.bind()
        self._start_poster()
        httpd.serve_forever(poll_interval=0.2)

    def _start_poster(self) -> None:
        if self._poster is not None and not self._poster_started:
            self._poster_started = True
            self._poster.start()

    _poster_started = False

    def stop(self) -> None:
        if self._poster is not None and self._poster_started:
            self._poster.stop()
        httpd = self._httpd
        if httpd is not None:
            if self._thread is not None:
                httpd.shutdown()
                self._thread.join()
            # Keep-alive connections would otherwise outlive the server in their threads.
            with self._sockets_lock:
                for sock in list(self._sockets):
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)
            httpd.server_close()
            self._httpd = None
        self.store.close()

    def __enter__(self) -> SandboxServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- faults -----------------------------------------------------------------------------

    def inject(self, *faults: Fault, on: FaultTarget = "messages") -> None:
        """Queue faults for the next API requests, in order ("ok" lets one through).

        By default they hit only the requests that send or cancel messages (POST, DELETE): a
        test that means "the send's answer is lost" must not see its fault eaten by the
        balance check or a status poll that apply makes first. `on="any"` queues them for
        whatever request comes next."""
        with self._fault_lock:
            target = self._script if on == "messages" else self._script_any
            target.extend(faults)

    def set_faults(
        self,
        *,
        fail_rate: float | None = None,
        drop_rate: float | None = None,
        latency: float | None = None,
        deny_after_drop: float | None = None,
        retry_after: str | None = None,
    ) -> None:
        if retry_after is not None:
            self.retry_after = retry_after
        if fail_rate is not None:
            self.fail_rate = fail_rate
        if drop_rate is not None:
            self.drop_rate = drop_rate
        if latency is not None:
            self.latency = latency
        if deny_after_drop is not None:
            self.deny_after_drop = deny_after_drop

    def set_credentials(self, api_login: str | None, api_key: str | None) -> None:
        """Accept only these from now on (None: any non-empty), as after a key rotation."""
        self.api.set_credentials(api_login, api_key)

    def _next_fault(self, method: str, raw: bytes) -> Fault:
        with self._fault_lock:
            if self._script_any:
                return self._script_any.popleft()
            if self._script and method != "GET":
                return self._script.popleft()
            if self._denied:
                request_id = _request_id_in(raw)
                left = self._denied.get(request_id or "")
                if left:
                    if left == 1:
                        del self._denied[request_id or ""]
                    else:
                        self._denied[request_id or ""] = left - 1
                    return next(self._denials)
            if self.fail_rate and self._random.random() < self.fail_rate:
                return "fail"
            if self.drop_rate and self._random.random() < self.drop_rate:
                return "drop"
        return "ok"

    def _dropped(self, reply: Reply) -> None:
        """An accepted request's answer is being lost: maybe refuse its next attempts."""
        if not (self.deny_after_drop and reply.request_id and 200 <= reply.status < 300):
            return
        with self._fault_lock:
            if self._random.random() < self.deny_after_drop:
                self._denied[reply.request_id] = self.deny_attempts

    # -- what happened ----------------------------------------------------------------------

    def deliveries(
        self, *, request_id: str | None = None, ticket: str | None = None
    ) -> list[Delivery]:
        return self.store.deliveries(clock_now().timestamp(), request_id=request_id, ticket=ticket)

    def reply(self, number: str, text: str) -> None:
        """`number` answers `text` (a STOP is an opt-out): posted like a delivery report."""
        self.store.add_reply(number, text, clock_now().timestamp())

    def requests(self) -> list[LoggedRequest]:
        return self.store.requests()

    def bodies(self) -> list[tuple[str, str, bytes]]:
        """(method, path without the query, body bytes) of each API request received, in
        order, faults included; only with `keep_bodies=True`."""
        if self._bodies is None:
            raise ValueError("this sandbox keeps no bodies: start it with keep_bodies=True")
        with self._fault_lock:
            return list(self._bodies)

    def _keep(self, method: str, target: str, raw: bytes) -> None:
        if self._bodies is not None:
            with self._fault_lock:
                self._bodies.append((method, target.partition("?")[0], raw))

    def credit(self) -> float:
        return self.store.credit()

    def set_credit(self, value: float) -> None:
        self.store.set_credit(value)

    def env(
        self, login: str = "sandbox@example.com", api_key: str = "sandbox-key"
    ) -> dict[str, str]:
        """Environment variables pointing octoplan at this sandbox."""
        return {
            "OCTOPUSH_BASE_URL": self.base_url,
            "OCTOPUSH_API_LOGIN": login,
            "OCTOPUSH_API_KEY": api_key,
        }

    def _log(self, method: str, target: str, reply: Reply, *, fault: Fault) -> None:
        self.store.log(
            at=clock_now().timestamp(),
            method=method,
            path=target.partition("?")[0],
            status=reply.status,
            code=reply.code,
            request_id=reply.request_id,
            ticket=reply.ticket,
            outcome=f"{reply.outcome}+{fault}"
            if fault in ("drop", "garble") or fault in MANGLES
            else reply.outcome,
        )

    def _track(self, sock: socket.socket, *, add: bool) -> None:
        with self._sockets_lock:
            if add:
                self._sockets.add(sock)
            else:
                self._sockets.discard(sock)


def _denial(status: int) -> Fault:
    fault = f"deny{status}"
    if fault not in DENIALS:
        raise ValueError(f"no denial fault for HTTP {status}; known: {sorted(DENIALS)}")
    return fault  # type: ignore[return-value]


def _request_id_in(raw: bytes) -> str | None:
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        return None
    return request_id_in_body(body) if isinstance(body, dict) else None
