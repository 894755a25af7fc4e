"""The Octopush API over httpx: typed calls, retries, typed errors (see octoplan.client_errors).

    with OctopushClient.from_env(os.environ, config_base_url) as client:  # in the CLI
        result = client.send_sms_campaign(body)          # SendResult, or an ApiError

Retries (exponential backoff with full jitter, the same body bytes every time):

- A call that is safe to repeat (a send carrying a request_id, which the API deduplicates;
  a read; a cancel or confirm by ticket) is retried on 5xx, 429, timeouts, dropped
  connections and 2xx answers that are not success answers.
- A send without a request_id is retried only when the request surely did not arrive:
  the connection could not be opened, or 429. Anything else would risk a double send.
- 4xx refusals are never retried.

Thread-safe: one client (one connection pool) serves several worker threads.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from types import TracebackType
from typing import Any, TypeVar

import httpx

from octoplan import __version__
from octoplan.answers import (
    Balance,
    ListCampaignStatus,
    Malformed,
    SendResult,
    parse_any,
    parse_balance,
    parse_send,
    parse_status,
    parse_ticket,
)
from octoplan.client_errors import (
    AmbiguousResponseError,
    ApiError,
    AuthenticationError,
    InvalidCredentials,
    MissingCredentials,
    RefusedError,
    RequestIdAlreadyUsed,
    TransientApiError,
)
from octoplan.errors import OctoplanError

__all__ = [
    "DEFAULT_BASE_URL",
    "AmbiguousResponseError",
    "ApiError",
    "AuthenticationError",
    "Balance",
    "InvalidCredentials",
    "ListCampaignStatus",
    "MissingCredentials",
    "OctopushClient",
    "RefusedError",
    "RequestIdAlreadyUsed",
    "RetryEvent",
    "SendResult",
    "TransientApiError",
    "credential_problem",
]

DEFAULT_BASE_URL = "https://api.octopush.com/v1/public"
REQUEST_ID_USED = 120
MAX_ANSWER_BYTES = 1024 * 1024  # answers are a few hundred bytes; anything huge is not one
_SNIPPET = 200
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RetryEvent:
    """One failed attempt about to be retried after `delay` seconds."""

    endpoint: str
    attempt: int
    delay: float
    reason: str
    request_id: str | None


def credential_problem(value: str) -> str | None:
    """What makes `value` (a login or key, surrounding whitespace already stripped) unusable in
    an HTTP header, without quoting it; None when it is fine. Headers carry printable ASCII
    only: httpx would fail on anything else, for a line break only once the request is on
    its way out."""
    for position, char in enumerate(value, 1):
        if " " <= char <= "~":
            continue
        if char in "\r\n":
            kind = "a line break"
        elif char.isascii():
            kind = "a control character"
        else:
            kind = "a non-ASCII character"
        return f"{kind} at character {position}"
    return None


def _json(body: Mapping[str, Any]) -> str:
    return json.dumps(dict(body), ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    payload: Any  # parsed JSON, or None when the body is not JSON
    text: str  # the body as text, cut to a snippet
    retry_after: float | None


class OctopushClient:
    """One Octopush account. The API key is sent in headers and shown nowhere else."""

    def __init__(
        self,
        base_url: str,
        login: str,
        api_key: str,
        *,
        timeout: float = 30.0,
        max_retries: int = 5,
        backoff: float = 0.5,
        max_backoff: float = 8.0,
        transport: httpx.BaseTransport | None = None,
        on_retry: Callable[[RetryEvent], None] | None = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise OctoplanError(
                f"the Octopush base URL {base_url!r} is not an http(s) URL; "
                "fix OCTOPUSH_BASE_URL or api.base_url in octoplan.yaml"
            )
        for what, value in (("API login", login), ("API key", api_key)):
            problem = credential_problem(value)
            if problem is not None:
                raise InvalidCredentials(
                    f"the {what} holds {problem}, which no HTTP header can carry; "
                    "set it exactly as the Octopush dashboard shows it"
                )
        self.base_url = base_url.rstrip("/")
        self.login = login
        self._key = api_key
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.on_retry = on_retry
        self._lock = threading.Lock()
        self._retries = 0
        # HTTP exchanges (request sent to answer read), for `apply --verbose` and bench/.
        self.round_trips = 0
        self.round_trip_seconds = 0.0
        self._random = random.Random()
        self._http = httpx.Client(
            base_url=self.base_url + "/",
            headers={
                "api-login": login,
                "api-key": api_key,
                "content-type": "application/json",
                "accept": "application/json",
                "user-agent": f"octoplan/{__version__}",
            },
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=16),
            transport=transport,
        )

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str], base_url_default: str | None = None, **options: Any
    ) -> OctopushClient:
        """Credentials from OCTOPUSH_API_LOGIN / OCTOPUSH_API_KEY; the base URL from
        OCTOPUSH_BASE_URL, else `base_url_default` (the project's api.base_url), else the API's.
        `environ`: the process environment, which only the CLI reads (core code is given it).
        """
        login = environ.get("OCTOPUSH_API_LOGIN", "").strip()
        key = environ.get("OCTOPUSH_API_KEY", "").strip()
        missing = [
            name
            for name, value in (("OCTOPUSH_API_LOGIN", login), ("OCTOPUSH_API_KEY", key))
            if not value
        ]
        if missing:
            verb = "is" if len(missing) == 1 else "are"
            raise MissingCredentials(
                f"{' and '.join(missing)} {verb} not set: export OCTOPUSH_API_LOGIN and "
                "OCTOPUSH_API_KEY (credentials never live in files), or use --sandbox to send "
                "to the local sandbox"
            )
        base_url = environ.get("OCTOPUSH_BASE_URL") or base_url_default or DEFAULT_BASE_URL
        return cls(base_url, login, key, **options)

    def __repr__(self) -> str:
        return f"OctopushClient(base_url={self.base_url!r}, login={self.login!r})"

    @property
    def retries(self) -> int:
        """Retries made so far by every call of this client."""
        with self._lock:
            return self._retries

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> OctopushClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- endpoints --------------------------------------------------------------------------

    def send_sms_campaign(self, body: Mapping[str, Any]) -> SendResult:
        """POST sms-campaign/send (`request_id` at the top level)."""
        request_id = body.get("request_id")
        return self.send_encoded(
            "sms-campaign/send", _json(body), str(request_id) if request_id else None
        )

    def send_multichannel(self, body: Mapping[str, Any]) -> SendResult:
        """POST multi-channel/send, any of the five channels (`metadata.request_id`)."""
        metadata = body.get("metadata")
        request_id = metadata.get("request_id") if isinstance(metadata, Mapping) else None
        return self.send_encoded(
            "multi-channel/send", _json(body), str(request_id) if request_id else None
        )

    def send_encoded(self, endpoint: str, payload: str, request_id: str | None) -> SendResult:
        """POST a send whose body is already JSON (apply sends the very text it journaled);
        `request_id`: the one inside it, which makes retrying safe."""
        result, attempts = self._call(
            "POST", endpoint, parse_send, encoded=payload, request_id=request_id
        )
        return result if attempts == 1 else replace(result, attempts=attempts)

    def voice_list_create(self, body: Mapping[str, Any]) -> str:
        """POST voice-campaign-on-list/create; returns the ticket number."""
        request_id = body.get("request_id")
        rid = str(request_id) if request_id else None
        return self._call(
            "POST", "voice-campaign-on-list/create", parse_ticket, body=body, request_id=rid
        )[0]

    def voice_list_status(self, ticket: str) -> ListCampaignStatus:
        return self._call(
            "GET",
            "voice-campaign-on-list/status",
            parse_status,
            params={"ticket_number": ticket},
            retry_safe=True,
        )[0]

    def voice_list_send(self, ticket: str) -> dict[str, Any]:
        """Confirm a ready list campaign. Safe to retry: the ticket is sent at most once."""
        return self._call(
            "POST",
            "voice-campaign-on-list/send",
            parse_any,
            body={"ticket_number": ticket},
            retry_safe=True,
        )[0]

    def voice_list_cancel(self, ticket: str) -> None:
        self._call(
            "DELETE",
            "voice-campaign-on-list/cancel",
            parse_any,
            body={"ticket_number": ticket},
            retry_safe=True,
        )

    def cancel_sms_campaign(self, ticket: str) -> None:
        self._call(
            "DELETE",
            "sms-campaign/cancel",
            parse_any,
            body={"ticket_number": ticket},
            retry_safe=True,
        )

    def cancel_multichannel(self, channel: str, ticket: str) -> None:
        self._call(
            "DELETE",
            "multi-channel/cancel",
            parse_any,
            body={"channel": channel, "ticket_number": ticket},
            retry_safe=True,
        )

    def check_balance(self) -> Balance:
        return self._call("GET", "wallet/check-balance", parse_balance, retry_safe=True)[0]

    # -- the loop ---------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        endpoint: str,
        parse: Callable[[Any], T],
        *,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        request_id: str | None = None,
        retry_safe: bool | None = None,
        encoded: str | None = None,
    ) -> tuple[T, int]:
        # A send is safe to repeat only with a request_id: the API refuses the second copy.
        safe = request_id is not None if retry_safe is None else retry_safe
        if encoded is None and body is not None:
            encoded = _json(body)
        content = None if encoded is None else encoded.encode()
        attempt = 0
        arrived = False  # may an attempt so far have reached the API? (see client_errors)
        while True:
            attempt += 1
            try:
                answer = self._once(method, endpoint, content, params)
            except httpx.LocalProtocolError:
                # httpx refused to write the request: nothing left, and nothing would on a
                # retry either. (Its message may quote a header, the key included.)
                raise TransientApiError(
                    "the request could not be written (a header or the body is not valid HTTP)",
                    endpoint=endpoint,
                    request_id=request_id,
                    attempts=attempt,
                    may_have_arrived=arrived,
                ) from None
            except httpx.RequestError as exc:
                # Connection refused or not opened: the request surely never arrived.
                unsent = isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout))
                arrived = arrived or not unsent
                reason = self._describe_transport(exc)
                if (safe or unsent) and self._retry(endpoint, attempt, reason, request_id, None):
                    continue
                raise TransientApiError(
                    reason,
                    endpoint=endpoint,
                    request_id=request_id,
                    attempts=attempt,
                    may_have_arrived=arrived,
                ) from None
            if 200 <= answer.status < 300:
                try:
                    return parse(answer.payload), attempt
                except Malformed as exc:
                    arrived = True
                    reason = f"unexpected answer to a successful request: {exc}"
                    if answer.payload is None:
                        reason += f": {answer.text!r}"
                    if safe and self._retry(endpoint, attempt, reason, request_id, None):
                        continue
                    raise AmbiguousResponseError(
                        self._scrub(reason),
                        status=answer.status,
                        endpoint=endpoint,
                        request_id=request_id,
                        attempts=attempt,
                        may_have_arrived=True,
                    ) from None
            # A 5xx (or 408) may come after the request was processed; a 4xx is an answer to
            # this attempt (429: turned away unread), which says nothing of earlier ones.
            arrived = arrived or answer.status >= 500 or answer.status == 408
            error = self._error(answer, endpoint, request_id, attempt, arrived)
            # 429: the request was turned away before processing, so always safe to repeat.
            retryable = isinstance(error, TransientApiError) and (safe or answer.status == 429)
            if retryable and self._retry(
                endpoint, attempt, error.api_message, request_id, answer.retry_after
            ):
                continue
            raise error

    def _once(
        self,
        method: str,
        endpoint: str,
        content: bytes | None,
        params: Mapping[str, str] | None,
    ) -> _Answer:
        # httpx times out each read, not the whole answer: a server sending a byte now and
        # then would hold a worker forever. The body gets `timeout` seconds in all.
        deadline = time.monotonic() + self.timeout
        started = time.perf_counter()
        try:
            return self._exchange(method, endpoint, content, params, deadline)
        finally:
            with self._lock:
                self.round_trips += 1
                self.round_trip_seconds += time.perf_counter() - started

    def _exchange(
        self,
        method: str,
        endpoint: str,
        content: bytes | None,
        params: Mapping[str, str] | None,
        deadline: float,
    ) -> _Answer:
        with self._http.stream(method, endpoint, content=content, params=params) as response:
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                if time.monotonic() > deadline:
                    raise httpx.ReadTimeout(
                        f"the answer took over {self.timeout:g}s", request=response.request
                    )
                size += len(chunk)
                if size > MAX_ANSWER_BYTES:
                    chunks = [b"<answer too large>"]
                    break
                chunks.append(chunk)
            data = b"".join(chunks)
            retry_after = response.headers.get("retry-after")
        try:
            payload = json.loads(data) if data else None
        except (ValueError, RecursionError):
            payload = None
        text = data[:_SNIPPET].decode("utf-8", "replace")
        wait = float(retry_after) if retry_after and retry_after.isdigit() else None
        return _Answer(response.status_code, payload, text, wait)

    def _retry(
        self,
        endpoint: str,
        attempt: int,
        reason: str,
        request_id: str | None,
        retry_after: float | None,
    ) -> bool:
        """Sleep before the next attempt and return True, or False when out of retries."""
        if attempt > self.max_retries:
            return False
        ceiling = min(self.max_backoff, self.backoff * 2 ** (attempt - 1))
        with self._lock:
            self._retries += 1
            delay = self._random.uniform(0, ceiling)  # full jitter
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.max_backoff))
        if self.on_retry is not None:
            self.on_retry(RetryEvent(endpoint, attempt, delay, self._scrub(reason), request_id))
        time.sleep(delay)
        return True

    def _error(
        self,
        answer: _Answer,
        endpoint: str,
        request_id: str | None,
        attempts: int,
        arrived: bool,
    ) -> ApiError:
        payload = answer.payload if isinstance(answer.payload, dict) else {}
        raw_code = payload.get("code")
        code = raw_code if isinstance(raw_code, int) and not isinstance(raw_code, bool) else None
        message = payload.get("message")
        if not isinstance(message, str) or not message:
            message = answer.text.strip() or "no message"
        errors = payload.get("errors")
        fields = (
            {str(k): v for k, v in errors.items() if isinstance(v, dict)}
            if isinstance(errors, dict)
            else {}
        )
        kind: type[ApiError]
        status = answer.status
        codes = [code, *(e.get("code") for e in fields.values())]
        if status == 401:
            kind = AuthenticationError
        elif status == 429 or status == 408 or status >= 500:
            kind = TransientApiError
        elif REQUEST_ID_USED in codes:
            kind = RequestIdAlreadyUsed
        else:
            kind = RefusedError
        return kind(
            self._scrub(message),
            status=status,
            code=code,
            field_errors=fields,
            endpoint=endpoint,
            request_id=request_id,
            attempts=attempts,
            may_have_arrived=arrived,
        )

    def _describe_transport(self, exc: httpx.RequestError) -> str:
        kinds: dict[type[httpx.RequestError], str] = {
            httpx.ConnectError: "could not connect",
            httpx.ConnectTimeout: "timed out connecting",
            httpx.ReadTimeout: "timed out waiting for the answer",
            httpx.WriteTimeout: "timed out sending the request",
            httpx.PoolTimeout: "timed out waiting for a free connection",
            httpx.RemoteProtocolError: "the connection was dropped before an answer",
            httpx.DecodingError: "the answer could not be decoded",
        }
        kind = kinds.get(type(exc), "network error")
        detail = str(exc)
        return self._scrub(f"{kind} ({detail})" if detail else kind)

    def _scrub(self, text: str) -> str:
        return text.replace(self._key, "***") if self._key else text
