"""What the Octopush client raises.

Tree::

    OctoplanError
    ├── MissingCredentials        OCTOPUSH_API_LOGIN / OCTOPUSH_API_KEY not set
    ├── InvalidCredentials        a login or key no HTTP header can carry (line break...)
    └── ApiError                  any failure of an API call: status, code, message, field_errors
        ├── AuthenticationError   401: login or key refused
        ├── RequestIdAlreadyUsed  code 120: this request_id was accepted before (so: sent)
        ├── RefusedError          any other 4xx: the request was not sent; never retried
        └── TransientApiError     5xx, 429, timeouts, dropped connections, after every retry
            └── AmbiguousResponseError   a 2xx whose body is not a success answer

A `TransientApiError` leaves the outcome unknown: the request may have been accepted. Resend it
with the same request_id; a `RequestIdAlreadyUsed` then confirms it was.

`may_have_arrived` says whether any attempt of the call may have reached the API (no answer,
a timeout, a dropped connection, a 5xx, a garbled 2xx). A 4xx to a retry of such a call proves
nothing about the earlier attempt: an `AuthenticationError` or `RefusedError` carrying it does
not mean "not sent". False only when every attempt surely stayed on this machine or was turned
away unread (the connection could not be opened, 429) or was refused at its first attempt.

Messages never include the API key: `ApiError` texts come from the API's answer, and the
client scrubs its key out of them anyway.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from octoplan.errors import OctoplanError


class MissingCredentials(OctoplanError):
    """No credentials in the environment."""


class InvalidCredentials(OctoplanError):
    """A login or key holding a character an HTTP header cannot carry; never quotes it."""


class ApiError(OctoplanError):
    """The API did not confirm the request."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: int | None = None,
        field_errors: Mapping[str, Mapping[str, Any]] | None = None,
        endpoint: str = "",
        request_id: str | None = None,
        attempts: int = 1,
        may_have_arrived: bool | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.api_message = message
        self.field_errors: dict[str, dict[str, Any]] = {
            k: dict(v) for k, v in (field_errors or {}).items()
        }
        self.endpoint = endpoint
        self.request_id = request_id
        self.attempts = attempts
        # Unknown (None): only an error without a definite answer may have been delivered.
        self.may_have_arrived = (
            isinstance(self, TransientApiError) if may_have_arrived is None else may_have_arrived
        )
        super().__init__(self._describe())

    def _describe(self) -> str:
        where = f"{self.endpoint}: " if self.endpoint else ""
        facts = [f"HTTP {self.status}" if self.status is not None else "no answer"]
        if self.code is not None:
            facts.append(f"code {self.code}")
        text = f"{where}{self.api_message} ({', '.join(facts)})"
        for field, error in self.field_errors.items():
            code = error.get("code")
            prefix = f"[{code}] " if code is not None else ""
            text += f"\n  {field}: {prefix}{error.get('message', '')}"
        return text

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, "
            f"message={self.api_message!r}, request_id={self.request_id!r}, "
            f"attempts={self.attempts!r}, may_have_arrived={self.may_have_arrived!r})"
        )

    @property
    def codes(self) -> list[int]:
        """Every Octopush code in the answer: the top-level one, then the fields'."""
        found = [self.code] if self.code is not None else []
        for error in self.field_errors.values():
            code = error.get("code")
            if isinstance(code, int):
                found.append(code)
        return found


class AuthenticationError(ApiError):
    """401: the API refused the login or key."""


class RequestIdAlreadyUsed(ApiError):
    """Code 120: a request with this request_id was accepted in the last 24 hours."""


class RefusedError(ApiError):
    """A 4xx refusal: nothing was sent; sending the same request again will not help."""


class TransientApiError(ApiError):
    """No confirmed answer after every retry; the request may or may not have been accepted."""


class AmbiguousResponseError(TransientApiError):
    """A 2xx answer that is not a success answer (HTML, truncated or error-shaped JSON...)."""
