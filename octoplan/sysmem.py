"""How much memory this process may still use: what the machine has available, or less when a
container (a cgroup) holds it to a limit, as CI runners do.

Read from Linux's own files; None where they cannot tell (another system, a restricted
/proc): the caller then does what it would do with plenty.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

MEMINFO = Path("/proc/meminfo")
CGROUP = Path("/sys/fs/cgroup")


def available(meminfo: Path = MEMINFO, cgroup: Path = CGROUP) -> int | None:
    """Bytes available to this process: the machine's MemAvailable, or its cgroup's room
    (limit - usage) when that is smaller."""
    found = [room for room in (_machine(meminfo), cgroup_room(cgroup)) if room is not None]
    return min(found) if found else None


def _machine(meminfo: Path) -> int | None:
    with contextlib.suppress(OSError, ValueError):
        for line in meminfo.read_text(encoding="ascii").splitlines():
            name, _, value = line.partition(":")
            if name == "MemAvailable":
                number, _, unit = value.strip().partition(" ")
                return int(number) * (1024 if unit == "kB" else 1)
    return None


def cgroup_room(root: Path) -> int | None:
    """limit - usage of the cgroup mounted at `root` (v2: memory.max and memory.current; v1:
    memory/memory.limit_in_bytes and memory/memory.usage_in_bytes); None without a limit."""
    for limit_file, usage_file in (
        (root / "memory.max", root / "memory.current"),
        (root / "memory" / "memory.limit_in_bytes", root / "memory" / "memory.usage_in_bytes"),
    ):
        with contextlib.suppress(OSError, ValueError):
            limit = limit_file.read_text(encoding="ascii").strip()
            if limit == "max":
                return None
            usage = int(usage_file.read_text(encoding="ascii").strip())
            # cgroup v1 writes "no limit" as a huge number (a page count's maximum).
            return None if int(limit) >= 1 << 60 else max(0, int(limit) - usage)
    return None
