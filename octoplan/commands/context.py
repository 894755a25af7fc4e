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
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from octoplan.errors import UsageError
from octoplan.project import find_root, require_project
from octoplan.target import Choice, Target, choice_of

if TYPE_CHECKING:  # rich is imported when a console is needed (a terminal), not at start-up
    from rich.console import Console


def no_color() -> bool:
    return bool(os.environ.get("NO_COLOR"))


def make_console(stderr: bool = False) -> Console:
    from rich.console import Console

    from octoplan.commands.colour import THEME

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
        theme=THEME,
    )


def seconds_since(start: float) -> str:
    """Time elapsed since a `time.perf_counter()` reading, for --verbose lines."""
    return f"{time.perf_counter() - start:.2f} s"


@dataclass
class AppContext:
    project_dir: Path | None = None
    debug: bool = False
    verbosity: int = 0  # -1 quiet, 0 normal, 1+ verbose
    # The environment asked for on the command line (--env NAME, --sandbox), if any.
    env: str | None = None
    env_origin: str = "--env"
    target: Target | None = None  # resolved once, by the commands that need it
    _root: Path | None = None
    _consoles: dict[bool, Console] = field(default_factory=dict, repr=False)

    def choose_env(self, name: str, origin: str) -> None:
        """--env NAME or --sandbox, given once (on the group or on the command)."""
        if self.env is not None and (self.env, self.env_origin) != (name, origin):
            asked = f"--env {self.env}" if self.env_origin == "--env" else self.env_origin
            again = f"--env {name}" if origin == "--env" else origin
            if self.env != name:
                raise UsageError(
                    f"{asked} and {again} name two environments: give one "
                    "(--sandbox is the built-in environment sandbox)"
                )
        self.env, self.env_origin = name, origin

    def choice(self) -> Choice | None:
        """The environment asked for: --env/--sandbox, else OCTOPLAN_ENV, else None."""
        return choice_of(self.env, self.env_origin, os.environ)

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
    def out(self) -> Console:
        return self._console(stderr=False)

    @property
    def err(self) -> Console:
        return self._console(stderr=True)

    def _console(self, *, stderr: bool) -> Console:
        if stderr not in self._consoles:
            self._consoles[stderr] = make_console(stderr=stderr)
        return self._consoles[stderr]

    @property
    def quiet(self) -> bool:
        return self.verbosity < 0

    @property
    def verbose(self) -> bool:
        return self.verbosity > 0

    @property
    def live(self) -> bool:
        """May stderr show a live, redrawn display (a progress bar)?"""
        return self.coloured(stderr=True)

    def coloured(self, *, stderr: bool = False) -> bool:
        """Colour and redrawing for this stream: a terminal (not a dumb one), no NO_COLOR."""
        stream: TextIO = sys.stderr if stderr else sys.stdout
        if no_color() or not stream.isatty():
            return False  # decided without importing rich
        console = self._console(stderr=stderr)
        return console.is_terminal and not console.is_dumb_terminal

    def _write(self, text: str, *, stderr: bool) -> None:
        if self.coloured(stderr=stderr):
            from rich.text import Text

            from octoplan.commands.colour import PlanHighlighter

            self._console(stderr=stderr).print(PlanHighlighter()(Text(text)))
            return
        stream = sys.stderr if stderr else sys.stdout
        stream.write(text + "\n")
        stream.flush()

    def echo(self, text: str = "") -> None:
        """Text to stdout, exactly as given (no wrapping); coloured on a terminal."""
        self._write(text, stderr=False)

    def echo_pieces(self, pieces: Iterable[str]) -> None:
        """`echo` of the text made of `pieces`, written as they come when not coloured (a big
        plan's JSON is never held whole)."""
        if self.coloured(stderr=False):
            self.echo("".join(pieces))
            return
        sys.stdout.writelines(pieces)
        sys.stdout.write("\n")
        sys.stdout.flush()

    def note(self, text: str) -> None:
        """Informational text to stderr, hidden by --quiet."""
        if self.verbosity >= 0:
            self._write(text, stderr=True)

    def detail(self, text: str) -> None:
        """Extra detail to stderr, shown only with --verbose."""
        if self.verbose:
            self._write(text, stderr=True)

    def error(self, text: str) -> None:
        self._write(text, stderr=True)
