"""What the scale benchmarks share: a project with N contacts, running a command while sampling
the memory of its whole process tree, and a sandbox server in its own process.

The campaign is issue 7's: a template printing `contact.first_name`, a condition on
`contact.city` (empty for a third of the contacts) and a per-contact code.
"""

from __future__ import annotations

import compileall
import functools
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.gen_contacts import main as generate  # noqa: E402

OCTOPLAN = [sys.executable, "-m", "octoplan"]
# The campaign is marketing sent now: plans run at a moment inside marketing hours (a Tuesday,
# 10:00 in Paris), so a benchmark run at night or on a Sunday measures the same work.
BENCH_NOW = "2026-11-24T10:00:00+01:00"
TEMPLATE = (
    "Bonjour {{ contact.first_name }},\n"
    "{% if contact.city %}Votre magasin de {{ contact.city }} vous attend. {% endif %}"
    "Code {{ contact.code }} : -20% avec {{ vars.brand }}. STOP au 30101\n"
)
CAMPAIGN = (
    "channel: sms\npurpose: wholesale\nsender: ShopX\ntemplate: promo.sms.j2\n"
    "contacts: [contacts/big.csv]\n"
)


def make_project(
    root: Path, contacts: int, csv_cache: dict[int, Path], mixed: bool = False
) -> Path:
    """A project with `contacts` contacts (CSV files generated once per size and data set, and
    copied); `mixed`: the realistic data set of bench/gen_contacts.py."""
    for part in ("contacts", "templates", "campaigns"):
        (root / part).mkdir(parents=True, exist_ok=True)
    (root / "octoplan.yaml").write_text(
        "region: FR\nvars: {brand: ShopX}\npricing: {currency: EUR, sms: {FR: 0.045}}\n",
        encoding="utf-8",
    )
    (root / "templates" / "promo.sms.j2").write_text(TEMPLATE, encoding="utf-8")
    (root / "campaigns" / "promo.yaml").write_text(CAMPAIGN, encoding="utf-8")
    key = -contacts if mixed else contacts  # one cache for both data sets
    if key not in csv_cache:
        cached = root.parent / f"contacts-{contacts}{'-mixed' if mixed else ''}.csv"
        generate(contacts, cached, mixed)
        csv_cache[key] = cached
    shutil.copyfile(csv_cache[key], root / "contacts" / "big.csv")
    return root


def _tree_memory(pid: int) -> tuple[int, int]:
    """Resident memory of `pid` and its descendants, in bytes (Linux /proc): the sum of their
    RSS, which counts twice the pages a forked child still shares with its parent, and the
    sum of their PSS, which shares those pages out (what the tree really holds)."""
    rss = pss = 0
    stack = [pid]
    while stack:
        current = stack.pop()
        try:
            rollup = Path(f"/proc/{current}/smaps_rollup").read_text()
            for name, value in re.findall(r"^(Rss|Pss):\s+(\d+) kB", rollup, re.M):
                if name == "Rss":
                    rss += int(value) * 1024
                else:
                    pss += int(value) * 1024
            for task in Path(f"/proc/{current}/task").iterdir():
                children = (task / "children").read_text().split()
                stack.extend(int(child) for child in children)
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return rss, pss


@dataclass
class Run:
    seconds: float
    peak_rss: int  # the largest single process (kernel's figure)
    peak_tree_rss: int  # all the processes together (sampled every 20 ms)
    peak_tree_pss: int  # the same, shared pages shared out (see _tree_memory)
    stdout: str
    stderr: str
    returncode: int
    # CPU time (user + system) of the process and the children it reaped: on a machine shared
    # with other work, a steadier figure than wall time.
    cpu: float = 0.0


@functools.cache
def _bytecode() -> None:
    """octoplan's modules compiled once, as an installed package's are (pip writes the .pyc
    files at install time): where PYTHONDONTWRITEBYTECODE is set, every timed run would
    otherwise compile them all from source (about 0.3 s), which the baseline's libraries,
    installed, never do."""
    compileall.compile_dir(REPO / "octoplan", quiet=2)


def run(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> Run:
    """Run `command`, timing it and sampling the memory of its process tree."""
    _bytecode()
    started = time.perf_counter()
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env={"OCTOPLAN_NOW": BENCH_NOW, **os.environ, "NO_COLOR": "1", **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    peak = [0, 0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            rss, pss = _tree_memory(process.pid)
            peak[0], peak[1] = max(peak[0], rss), max(peak[1], pss)
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout_lines: list[str] = []
    reader = threading.Thread(target=lambda: stdout_lines.append(process.stdout.read()))  # type: ignore[union-attr]
    reader.start()
    stderr = process.stderr.read()  # type: ignore[union-attr]
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    reader.join()
    done.set()
    sampler.join()
    returncode = os.waitstatus_to_exitcode(status)
    process.returncode = returncode
    return Run(
        seconds,
        usage.ru_maxrss * 1024,
        peak[0],
        peak[1],
        "".join(stdout_lines),
        stderr,
        returncode,
        usage.ru_utime + usage.ru_stime,
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Sandbox:
    """`octoplan sandbox` in its own process (it must not share the GIL with the client)."""

    def __init__(self, data: Path) -> None:
        self.port = free_port()
        self.data = data
        self.process = subprocess.Popen(
            [
                *OCTOPLAN,
                "sandbox",
                "--port",
                str(self.port),
                "--data",
                str(data),
                "--credit",
                "100000000",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("the sandbox did not start")

    def env(self) -> dict[str, str]:
        return {
            "OCTOPUSH_BASE_URL": f"http://127.0.0.1:{self.port}/v1/public",
            "OCTOPUSH_API_LOGIN": "bench@example.com",
            "OCTOPUSH_API_KEY": "bench-key",
        }

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=20)


def mb(size: int) -> str:
    return f"{size / 2**20:,.0f} MB"


def self_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
