"""The callbacks the sandbox sends after a send, as Octopush does: delivery reports and replies.

What to report is derived from what the sandbox accepted (`sends`) and the replies simulated
(`replies`, from `POST /_sandbox/reply` or `octoplan sandbox reply`): each accepted message
gets one delivery report, due at its send time for a scheduled send, else `delay` seconds after
it was accepted; cancelled sends get none, live chat gets none. Payloads are JSON shaped like
Octopush's (`../shared/octopush-api/FACTS.md`, Webhooks): `message_id`, `number`, `status`,
`delivery_date` (Europe/Paris, `Y-m-d H:i:s`), `channel`; e-mail reports come as `deliveries[]`.

Everything is deterministic: message ids derive from the request_id (else the ticket) and the
message's position, and
NOT_DELIVERED is chosen for a fraction `undelivered_rate` of messages by a hash of the seed and
the message id (the same messages, in any order, on every run). So producing the same reports
twice gives the same callbacks, which a receiver stores once.

`callback_progress` remembers, per send, how many of its reports went out (posted by
`CallbackPoster`, or handed to the embedded sandbox's reader): a restart resumes there.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from octoplan.events import CALLBACK_TIMEZONE, is_stop

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("octoplan.sandbox")

SCHEMA = """
CREATE TABLE IF NOT EXISTS callback_progress (
    send_id INTEGER PRIMARY KEY, reported INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS replies (
    id INTEGER PRIMARY KEY, number TEXT NOT NULL, text TEXT NOT NULL, at REAL NOT NULL,
    reported INTEGER NOT NULL DEFAULT 0
);
"""
_PREFIX = {"sms": "sms", "voice_sms": "voice", "rcs": "rcs", "email": "email"}
SIM_CARD_NUMBER = "+33700000000"  # the sandbox's own receiving number


@dataclass(frozen=True, slots=True)
class Callback:
    """One callback to deliver: where it comes from (to record progress) and its body."""

    source: tuple[str, int, int]  # ("send", send id, message index) or ("reply", id, 0)
    due: float  # epoch seconds
    body: bytes


@dataclass(frozen=True, slots=True)
class ReportSettings:
    delay: float = 1.0  # seconds after acceptance, for sends not scheduled
    undelivered_rate: float = 0.0
    seed: int = 0


def paris_time(epoch: float) -> str:
    return (
        datetime.fromtimestamp(epoch, UTC)
        .astimezone(CALLBACK_TIMEZONE)
        .strftime("%Y-%m-%d %H:%M:%S")
    )


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _undelivered(seed: int, message_id: str, rate: float) -> bool:
    if rate <= 0:
        return False
    draw = int(_digest(f"{seed}:{message_id}")[:13], 16) / float(16**13)
    return draw < rate


def _report(
    channel: str, recipient: str, message_id: str, status: str, date: str, ticket: str | None
) -> dict[str, object]:
    if channel == "email":
        return {
            "deliveries": [
                {
                    "email": recipient,
                    "message_id": message_id,
                    "status": status,
                    "status_history": [{"status": status, "date": date}],
                }
            ]
        }
    return {
        "channel": channel,
        "message_id": message_id,
        "number": recipient,
        "status": status,
        "delivery_date": date,
        "meta_data": {"ticket": ticket},
    }


def due_callbacks(
    conn: sqlite3.Connection, now: float, settings: ReportSettings, limit: int = 5000
) -> list[Callback]:
    """Callbacks due by `now` and not reported yet, oldest first (at most about `limit`)."""
    found: list[Callback] = []
    rows = conn.execute(
        "SELECT s.id, s.ticket, s.request_id, s.channel, s.send_at, s.created_at, s.messages, "
        "COALESCE(p.reported, 0) FROM sends s LEFT JOIN callback_progress p ON p.send_id = s.id "
        "WHERE s.cancelled = 0 AND s.channel != 'live_chat' "
        "AND (CASE WHEN s.send_at IS NULL THEN s.created_at + ? "
        "ELSE MAX(s.send_at, s.created_at) END) <= ? "
        "AND COALESCE(p.reported, -1) < json_array_length(s.messages) ORDER BY s.id",
        (settings.delay, now),
    ).fetchall()
    for send_id, ticket, request_id, channel, send_at, created_at, messages, reported in rows:
        # A send_at already past when accepted goes out at once, like the API does.
        due = created_at + settings.delay if send_at is None else max(send_at, created_at)
        date = paris_time(due)
        prefix = _PREFIX.get(channel, channel)
        for index, (recipient, _text) in enumerate(json.loads(messages)):
            if index < reported:
                continue
            # From the request_id when there is one: the same sends, the same ids on every run.
            message_id = f"{prefix}_{_digest(f'{request_id or ticket}:{index}')[:24]}"
            undelivered = _undelivered(settings.seed, message_id, settings.undelivered_rate)
            status = "NOT_DELIVERED" if undelivered else "DELIVERED"
            body = _report(channel, recipient, message_id, status, date, ticket)
            found.append(Callback(("send", send_id, index), due, json.dumps(body).encode()))
        if len(found) >= limit:
            return found
    for reply_id, number, text, at in conn.execute(
        "SELECT id, number, text, at FROM replies WHERE reported = 0 AND at <= ? ORDER BY id",
        (now,),
    ).fetchall():
        date = paris_time(at)
        message_id = f"reply_{_digest(f'{reply_id}:{number}:{at}')[:24]}"
        if is_stop(text):
            body = {"message_id": message_id, "number": number, "text": text, "stop_date": date}
        else:
            body = {
                "message_id": message_id,
                "number": number,
                "text": text,
                "sim_card_number": SIM_CARD_NUMBER,
                "reception_date": date,
            }
        found.append(Callback(("reply", reply_id, 0), at, json.dumps(body).encode()))
    return found


def mark_reported(conn: sqlite3.Connection, done: list[Callback]) -> None:
    """Record that `done` went out (in order: a send's reports go out by index)."""
    sends: dict[int, int] = {}
    replies: list[int] = []
    for callback in done:
        kind, ident, index = callback.source
        if kind == "send":
            sends[ident] = max(sends.get(ident, 0), index + 1)
        else:
            replies.append(ident)
    conn.executemany(
        "INSERT INTO callback_progress (send_id, reported) VALUES (?, ?) "
        "ON CONFLICT (send_id) DO UPDATE SET reported = MAX(reported, excluded.reported)",
        list(sends.items()),
    )
    conn.executemany("UPDATE replies SET reported = 1 WHERE id = ?", [(r,) for r in replies])


def add_reply(conn: sqlite3.Connection, number: str, text: str, at: float) -> None:
    conn.execute("INSERT INTO replies (number, text, at) VALUES (?, ?, ?)", (number, text, at))


class CallbackPoster:
    """Posts due callbacks to `url` from a thread of its own, so API answers never wait.

    A callback that fails (no connection, a non-2xx answer) is tried again after a growing
    pause (up to 5 s) until it goes through or the sandbox stops; the ones after it wait, so a
    send's reports keep their order. Stopping may leave a callback posted but not marked: it is
    posted again on the next start (a receiver stores a repeated callback once)."""

    def __init__(
        self,
        url: str,
        due: Callable[[float], list[Callback]],
        done: Callable[[list[Callback]], None],
        *,
        now: Callable[[], datetime],
        poll: float = 0.1,
        timeout: float = 5.0,
    ) -> None:
        self.url = url
        self._due = due
        self._done = done
        self._now = now
        self._poll = poll
        self._timeout = timeout
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sandbox-callbacks", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10.0)

    def _run(self) -> None:
        import httpx  # only a posting sandbox needs an HTTP client

        pause = _FIRST_PAUSE
        with httpx.Client(timeout=self._timeout) as client:
            while not self._stop.is_set():
                try:
                    failed = self._round(client)
                except Exception:  # the data file busy or gone: try again later
                    log.exception("posting callbacks failed")
                    failed = True
                if failed:
                    self._stop.wait(pause)
                    pause = min(pause * 2, _MAX_PAUSE)
                else:
                    pause = _FIRST_PAUSE

    def _round(self, client: httpx.Client) -> bool:
        """Post what is due; True if a callback failed (the rest waits for the next round)."""
        import httpx

        due = self._due(self._now().timestamp())
        if not due:
            self._stop.wait(self._poll)
            return False
        posted: list[Callback] = []
        failed = False
        for callback in due:
            if self._stop.is_set():
                break
            try:
                answer = client.post(
                    self.url, content=callback.body, headers={"content-type": "application/json"}
                )
                failed = not answer.is_success
                if failed:
                    log.warning("callback answered HTTP %s; retrying", answer.status_code)
            except httpx.HTTPError as exc:
                log.warning("callback not delivered (%s); retrying", type(exc).__name__)
                failed = True
            if failed:
                break
            posted.append(callback)
            if len(posted) >= _MARK_EVERY:
                self._done(posted)
                posted = []
        if posted:
            self._done(posted)
        return failed


_FIRST_PAUSE = 0.1
_MAX_PAUSE = 5.0
_MARK_EVERY = 100
