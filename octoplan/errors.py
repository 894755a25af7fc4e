"""Errors users can act on.

Tree::

    OctoplanError                  anything a user can fix; exit code 1, never a traceback
    ├── ValidationFailed           Diagnostics (file:line:col) from loading and validating
    ├── UsageError                 bad command-line use
    ├── StalePlan                  a saved plan the inputs or the state no longer match (planfile)
    ├── StateError                 state unreadable, newer schema, stale serial...
    │   ├── LockHeld               another apply holds the lock (state.base)
    │   │   └── LockFileReplaced   its lock file was removed or replaced under it
    │   └── StorageFault           the disk or the database refused a write
    ├── MissingCredentials         no API login or key (client_errors)
    ├── InvalidCredentials         a login or key no request can carry
    └── ApiError                   the API said no, or nothing usable (client_errors)
        ├── AuthenticationError    401, the login or key refused: stops the apply
        ├── RefusedError           a 4xx refusal: sending it again will not help
        ├── RequestIdAlreadyUsed   code 120: accepted in the last 24 h, its answer lost
        └── TransientApiError      no confirmed answer after every retry: may have been sent
            └── AmbiguousResponseError  a 2xx that is no success answer

tests/test_errors_tree.py keeps this drawing and the classes in step.

Anything else escaping to the CLI is a bug: it is reported as an internal error.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One message about one place in one file, printed like a compiler's."""

    path: str
    line: int | None
    col: int | None
    message: str
    hint: str | None = None
    severity: Literal["error", "warning"] = "error"
    # How many problems this diagnostic stands for: a "N more errors not shown" line stands
    # for N, so that counts stay right when a list is cut.
    count: int = 1

    def location(self) -> str:
        parts = [self.path]
        if self.line is not None:
            parts.append(str(self.line))
            if self.col is not None:
                parts.append(str(self.col))
        return ":".join(parts)

    def format(self) -> str:
        text = f"{self.location()}: {self.severity}: {self.message}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text

    def to_json(self) -> dict[str, object]:
        return {
            "path": self.path,
            "line": self.line,
            "col": self.col,
            "severity": self.severity,
            "message": self.message,
            "hint": self.hint,
        }


def count_of(diagnostics: Iterable[Diagnostic]) -> int:
    """How many problems `diagnostics` stand for (see Diagnostic.count)."""
    return sum(d.count for d in diagnostics)


class OctoplanError(Exception):
    """An error the user can fix. The message says what and, where possible, how."""

    exit_code = 1


class ValidationFailed(OctoplanError):
    """Loading or validating found errors; each one is a Diagnostic."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = diagnostics
        super().__init__("\n".join(d.format() for d in diagnostics))


class UsageError(OctoplanError):
    """The command line asks for something that cannot be done."""


class StateError(OctoplanError):
    """State cannot be read, written or locked as asked."""
