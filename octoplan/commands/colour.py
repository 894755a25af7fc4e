"""Colour for a terminal: plans and diagnostics styled line by line with rich's
RegexHighlighter. Only used when the stream is a terminal and NO_COLOR is not set (see
AppContext.coloured); the text itself is the same plain text written everywhere else.
"""

from __future__ import annotations

from rich.highlighter import RegexHighlighter
from rich.theme import Theme

THEME = Theme(
    {
        "op.create": "bold green",
        "op.update": "bold yellow",
        "op.cancel": "bold red",
        "op.blocked": "bold red",
        "op.noop": "dim",
        "op.error": "bold red",
        "op.warning": "bold yellow",
        "op.hint": "cyan",
        "op.note": "blue",
        "op.removed": "red",
        "op.added": "green",
        "op.summary": "bold",
        "op.place": "bold",
    }
)


class PlanHighlighter(RegexHighlighter):
    """`+ ~ - !` headlines, errors, warnings, hints, notes, text diffs and the summary."""

    base_style = "op."
    highlights = [  # noqa: RUF012 - rich's own class attribute
        r"(?m)^(?P<create>\+ \S+)",
        r"(?m)^(?P<update>~ \S+)",
        r"(?m)^(?P<cancel>- \S+)",
        r"(?m)^(?P<blocked>! .*)$",
        r"(?m)^(?P<noop>  \S+ \(.*: no changes.*)$",
        r"(?m)^\s*(?P<place>[^\s:]+(:\d+){0,2}): (?P<error>error):",
        r"(?m)^\s*(?P<place>[^\s:]+(:\d+){0,2}): (?P<warning>warning):",
        r"(?m)^(?P<error>error):",
        r"(?m)^\s+(?P<hint>hint:)",
        r"(?m)^\s+(?P<note>note:)",
        r"(?m)^ {6}(?P<removed>- .*)$",
        r"(?m)^ {6}(?P<added>\+ .*)$",
        r"(?m)^(?P<summary>(Plan|No changes|Apply complete).*)$",
    ]
