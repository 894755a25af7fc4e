"""What every command gets: the project root and the two output streams."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from octoplan.project import find_root


def _no_color() -> bool:
    return bool(os.environ.get("NO_COLOR"))


def make_console(stderr: bool = False) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    # highlight=False: rich would otherwise colour numbers and strings in our plain messages.
    return Console(
        file=stream,
        no_color=_no_color(),
        highlight=False,
        soft_wrap=True,
        emoji=False,
        markup=False,
    )


@dataclass
class AppContext:
    project_dir: Path | None = None
    debug: bool = False
    verbosity: int = 0  # -1 quiet, 0 normal, 1+ verbose
    out: Console = field(default_factory=make_console)
    err: Console = field(default_factory=lambda: make_console(stderr=True))
    _root: Path | None = None

    @property
    def root(self) -> Path:
        if self._root is None:
            self._root = find_root(self.project_dir)
        return self._root

    def echo(self, text: str = "") -> None:
        """Plain text to stdout, exactly as given (no markup, no wrapping)."""
        self.out.file.write(text + "\n")
        self.out.file.flush()

    def note(self, text: str) -> None:
        """Informational text to stderr, hidden by --quiet."""
        if self.verbosity >= 0:
            self.err.file.write(text + "\n")
            self.err.file.flush()

    def error(self, text: str) -> None:
        self.err.file.write(text + "\n")
        self.err.file.flush()
