"""Who holds a lock, for messages and the audit log. A process id never lets a lock be taken
over; it only keeps one held whose file was replaced under its live holder (state/sqlite.py)."""

from __future__ import annotations

import socket


def host_name() -> str:
    return socket.gethostname()


def user_name() -> str:
    import getpass  # only for the audit log: `plan` opens state without it

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry and no LOGNAME/USER: containers do this
        return "unknown"


def _stat_fields(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            text = handle.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    return text[text.rfind(")") + 2 :].split()


def process_start(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), or None where unknown.

    Stored with a lock row, to tell two holders with the same pid apart when reading it.
    """
    fields = _stat_fields(pid)
    return fields[19] if fields and len(fields) > 19 else None


def default_actor() -> str:
    """Who is acting, for the audit log: user@host."""
    return f"{user_name()}@{host_name()}"
