"""Who holds a lock, and whether that process still runs (for taking over dead locks)."""

from __future__ import annotations

import getpass
import os
import socket

from octoplan.state.base import LockInfo


def host_name() -> str:
    return socket.gethostname()


def user_name() -> str:
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

    Stored with a lock so that a pid reused by an unrelated process is not taken for the holder.
    """
    fields = _stat_fields(pid)
    return fields[19] if fields and len(fields) > 19 else None


def pid_alive(pid: int, start: str | None = None) -> bool:
    """Whether process `pid` on this host still runs and is the one that started at `start`."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        pass
    fields = _stat_fields(pid)
    if fields is None:
        return True  # no /proc (not Linux): the signal check is all we know
    if fields[0] in ("Z", "X"):  # killed but not yet reaped: gone for our purposes
        return False
    return start is None or len(fields) <= 19 or fields[19] == start


def default_actor() -> str:
    """Who is acting, for the audit log: user@host."""
    return f"{user_name()}@{host_name()}"


def describe_lock(info: LockInfo) -> str:
    return (
        f"{info.holder} (pid {info.pid} on {info.host}, "
        f"since {info.acquired_at:%Y-%m-%d %H:%M:%S} UTC)"
    )
