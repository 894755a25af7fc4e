"""octoplan/sysmem.py: the memory a plan may count on, from the machine's /proc/meminfo and a
container's cgroup files (real files: this machine's, and cgroup files written as Linux
writes them)."""

from __future__ import annotations

from pathlib import Path

import pytest

from octoplan import sysmem

MEMINFO = "MemTotal:       24683792 kB\nMemFree:         1000000 kB\nMemAvailable:   23238888 kB\n"


def test_this_machine_has_some_memory_available() -> None:
    room = sysmem.available()
    assert room is not None and 0 < room < 1 << 50


def test_the_machine_figure_is_memavailable_in_bytes(tmp_path: Path) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text(MEMINFO, encoding="ascii")
    assert sysmem.available(meminfo, tmp_path / "no-cgroup") == 23238888 * 1024


@pytest.mark.parametrize(
    ("files", "room"),
    [
        ({"memory.max": "4294967296\n", "memory.current": "1073741824\n"}, 3 << 30),  # v2
        ({"memory.max": "max\n", "memory.current": "1073741824\n"}, None),  # v2, no limit
        ({"memory.max": "1000\n", "memory.current": "5000\n"}, 0),  # over: nothing left
        (
            {
                "memory/memory.limit_in_bytes": "2147483648\n",
                "memory/memory.usage_in_bytes": "1073741824\n",
            },
            1 << 30,
        ),  # v1
        (
            {
                "memory/memory.limit_in_bytes": "9223372036854771712\n",
                "memory/memory.usage_in_bytes": "1073741824\n",
            },
            None,
        ),  # v1's "no limit"
        ({"memory.max": "garbage\n", "memory.current": "1\n"}, None),
        ({}, None),
    ],
    ids=["v2", "v2-max", "v2-over", "v1", "v1-unlimited", "unreadable", "none"],
)
def test_a_cgroup_limit_leaves_its_room(
    tmp_path: Path, files: dict[str, str], room: int | None
) -> None:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="ascii")
    assert sysmem.cgroup_room(tmp_path) == room


def test_the_smaller_of_the_machine_and_the_container_counts(tmp_path: Path) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text(MEMINFO, encoding="ascii")
    cgroup = tmp_path / "cgroup"
    cgroup.mkdir()
    (cgroup / "memory.max").write_text("4294967296\n", encoding="ascii")
    (cgroup / "memory.current").write_text("0\n", encoding="ascii")
    assert sysmem.available(meminfo, cgroup) == 4 << 30
    assert sysmem.available(tmp_path / "none", tmp_path / "none") is None
