"""What every command gets: the project root, the two output streams, and how much to say.

Output rules, the same for every command:
- stdout carries the result (a plan, a report, JSON); stderr carries errors and notes.
- `--quiet` (verbosity -1): errors and the result only; notes, warnings and progress are hidden.
- `--verbose` (verbosity 1+): `detail` lines too (state used, timings, one line per request).
- `NO_COLOR` (any non-empty value, https://no-color.org) or output that is not a terminal: no
  escape sequence at all, so progress is printed as plain lines rather than a live bar.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from octoplan.project import find_root, require_project


def no_color() -> bool:
    return bool(os.environ.get("NO_COLOR"))


def make_console(stderr: bool = False) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    plain = no_color()
    # highlight=False: rich would otherwise colour numbers and strings in our plain messages.
    return Console(
        file=stream,
        no_color=plain,
        color_system=None if plain else "auto",
        highlight=False,
        soft_wrap=True,
        emoji=False,
        markup=False,
    )


def seconds_since(start: float) -> str:
    """Time elapsed since a `time.perf_counter()` reading, for --verbose lines."""
    return f"{time.perf_counter() - start:.2f} s"


@dataclass
class AppContext:
    project_dir: Path | None = None
    debug: bool = False
    verbosity: int = 0  # -1 quiet, 0 normal, 1+ verbose
    sandbox: bool = False  # `state ... --sandbox`: the sandbox's own state
    out: Console = field(default_factory=make_console)
    err: Console = field(default_factory=lambda: make_console(stderr=True))
    _root: Path | None = None

    @property
    def root(self) -> Path:
        if self._root is None:
            self._root = find_root(self.project_dir)
        return self._root

    def project_root(self) -> Path:
        """The root, which must hold a project (commands that read campaigns or write state)."""
        require_project(self.root)
        return self.root

    @property
    def quiet(self) -> bool:
        return self.verbosity < 0

    @property
    def verbose(self) -> bool:
        return self.verbosity > 0

    @property
    def live(self) -> bool:
        """May stderr show a live, redrawn display (a progress bar)?"""
        return self.err.is_terminal and not self.err.is_dumb_terminal and not no_color()

    def echo(self, text: str = "") -> None:
        """Plain text to stdout, exactly as given (no markup, no wrapping)."""
        self.out.file.write(text + "\n")
        self.out.file.flush()

    def note(self, text: str) -> None:
        """Informational text to stderr, hidden by --quiet."""
        if self.verbosity >= 0:
            self.err.file.write(text + "\n")
            self.err.file.flush()

    def detail(self, text: str) -> None:
        """Extra detail to stderr, shown only with --verbose."""
        if self.verbose:
            self.err.file.write(text + "\n")
            self.err.file.flush()

    def error(self, text: str) -> None:
        self.err.file.write(text + "\n")
        self.err.file.flush()
