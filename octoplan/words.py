"""Wording shared by every view: counts with their noun ("1 file", "1,200 messages").

A leaf module (no octoplan imports) so that checks, planning and commands can all use it
without depending on one another.
"""

from __future__ import annotations


def plural(n: int, word: str, plural: str | None = None) -> str:
    """`n` with thousands separators and `word`, or its plural (default: `word` + "s")."""
    return f"{n:,} {word if n == 1 else (plural or word + 's')}"
