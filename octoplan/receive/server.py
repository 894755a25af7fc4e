"""The receive server: a listening socket, uvicorn serving the app, the ingest and worker threads.

`bind()` listens (so `--port 0` is known before anything is announced); `serve()` runs until
SIGINT/SIGTERM (uvicorn's graceful shutdown: requests in flight are answered), then commits
what ingest still holds and stops the worker. SIGHUP is taken like SIGTERM.

SQLite allows one writer at a time: ingest and the worker share a lock in this process, so the
worker's short transactions and the callbacks' inserts queue up exactly, rather than through
SQLite's busy-wait sleeps (which add tens of milliseconds to an answer). Another process
writing the same file (an apply) is waited for by SQLite's busy timeout.
"""

from __future__ import annotations

import signal
import socket
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from types import FrameType

import uvicorn

from octoplan.errors import OctoplanError
from octoplan.receive.app import MAX_BODY, make_app
from octoplan.receive.ingest import Ingest
from octoplan.receive.worker import Worker
from octoplan.state.base import StateStore


class ReceiveServer:
    def __init__(
        self,
        open_store: Callable[[], StateStore],
        token: str,
        region: str,
        *,
        host: str = "127.0.0.1",
        port: int = 8080,
        single_writer: bool = True,
        max_body: int = MAX_BODY,
    ) -> None:
        self.host = host
        self.port = port
        lock = threading.Lock()
        write_lock: Callable[[], AbstractContextManager[object]] = (
            (lambda: lock) if single_writer else nullcontext
        )
        self.worker = Worker(open_store, region, write_lock=write_lock)
        self.ingest = Ingest(open_store, on_commit=self.worker.wake, write_lock=write_lock)
        self.app = make_app(token, self.ingest.store, max_body=max_body)
        self._socket: socket.socket | None = None
        self._server: uvicorn.Server | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def bind(self) -> None:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
            sock.listen(2048)
        except OSError as exc:
            sock.close()
            raise OctoplanError(
                f"cannot listen on {self.host}:{self.port}: {exc.strerror or exc}; "
                "choose another port with --port (0 picks a free one)"
            ) from None
        self.port = sock.getsockname()[1]
        self._socket = sock

    def unbind(self) -> None:
        """Give the port back without serving (the command failed before it could)."""
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def serve(self) -> None:
        """Serve until a stop signal; the threads are stopped (ingest flushed) on the way out."""
        if self._socket is None:
            self.bind()
        assert self._socket is not None
        config = uvicorn.Config(
            self.app,
            http="httptools",
            loop="uvloop",
            lifespan="off",
            access_log=False,  # the path holds the token
            log_config=None,
            server_header=False,
            date_header=False,
            timeout_graceful_shutdown=5,
            backlog=2048,
        )
        self._server = uvicorn.Server(config)
        self.ingest.start()
        self.worker.start()
        previous = signal.signal(signal.SIGHUP, self._hangup)
        try:
            self._server.run(sockets=[self._socket])
        finally:
            signal.signal(signal.SIGHUP, previous)
            self.ingest.stop()
            self.worker.stop()
            self._socket.close()

    def _hangup(self, signum: int, frame: FrameType | None) -> None:
        if self._server is not None:
            self._server.handle_exit(signal.SIGTERM, frame)
