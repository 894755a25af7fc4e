"""SIGTERM and SIGHUP end a command the way a first Ctrl-C does (SPEC sections 3 and 6).

The handler raises where the program is, so `with` blocks still release what they hold (the
state lock, an open transaction), and the command exits 128 + the signal's number (143 for
SIGTERM, 129 for SIGHUP). `apply` replaces it while it runs (octoplan/commands/apply.py: once
sending, the first signal finishes the requests in flight). Installed first thing, before the
heavier imports, so that a signal that comes early is handled too.
"""

from __future__ import annotations

import signal
import sys
from types import FrameType


def _stop(signum: int, frame: FrameType | None) -> None:
    sys.stderr.write(f"\nStopped by {signal.Signals(signum).name}.\n")
    raise SystemExit(128 + signum)


def install() -> None:
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _stop)
