"""How long everyday commands take: `--version`, `--help`, and `validate` and `plan` of the
repository's example project, beside the bare import time of the four libraries they need.

    python bench/startup_bench.py [--runs 15] [--warmup 2]

Like hyperfine: each command runs `--warmup` times unmeasured, then `--runs` times, the
commands taking turns; the median, the mean with its standard deviation and the fastest run
of the wall time are printed with the median CPU time (user + system), then the targets of
issue 19 (validate and plan within 1.6x the bare imports, --version and --help
under 0.1 s). The baseline is what any program using the four libraries pays:
`from pydantic import BaseModel` (a plain `import pydantic` is lazy and imports almost
nothing), jinja2's sandbox, ruamel.yaml's YAML and click. A second reference, not a target,
shows what part of the 1.6x the libraries take themselves once used: the same imports, then
one pydantic model with a constrained field built and validated (pydantic then loads its plugin
machinery: importlib.metadata and a scan of every installed package's entry points) and
phonenumbers imported (its import compiles its regexes; octoplan needs it for any phone number).

Commands run as a user's would: bytecode is cached (in a temporary PYTHONPYCACHEPREFIX, so
the tree is left alone, and the warm-up fills it; a pip install compiles it at install time),
no colour, no Octopush variables. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = ("octoplan.yaml", "campaigns", "templates", "contacts")
BASELINE = (
    "from pydantic import BaseModel; import jinja2.sandbox; from ruamel.yaml import YAML; "
    "import click"
)
# The least a program pays that validates one pydantic model and imports phonenumbers.
IN_USE = (
    f"{BASELINE}; from pydantic import Field; import phonenumbers\n"
    "class M(BaseModel):\n    n: int = Field(ge=0)\n"
    "M(n=1)"
)
REFERENCE = "libraries in use (reference)"
IMPORTS_FACTOR = 1.6
FAST = 0.1


def _env(cache: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OCTOPUSH_", "OCTOPLAN_")) and k != "PYTHONDONTWRITEBYTECODE"
    }
    env.update(NO_COLOR="1", PYTHONPYCACHEPREFIX=str(cache))
    return env


def _run(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """(wall, CPU) seconds of one run; CPU is the child's user + system time, which other
    processes on a shared machine disturb far less than the wall clock."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed:\n{done.stderr.decode()}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def _line(label: str, times: list[float], cpu: list[float]) -> str:
    median, mean = statistics.median(times), statistics.fmean(times)
    spread = statistics.stdev(times) if len(times) > 1 else 0.0
    return (
        f"{label:<30} wall: median {median * 1000:6.1f} ms, mean {mean * 1000:6.1f} "
        f"± {spread * 1000:5.1f}, min {min(times) * 1000:6.1f}   "
        f"CPU: median {statistics.median(cpu) * 1000:6.1f} ms, min {min(cpu) * 1000:6.1f}"
    )


def _instructions(argv: list[str], cwd: Path, env: dict[str, str]) -> int:
    """Instructions the command executes, counted by valgrind: the same on a busy machine."""
    done = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    found = re.search(r"Collected : (\d+)", done.stderr)
    if done.returncode != 0 or found is None:
        sys.exit(f"valgrind {' '.join(argv)} failed:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def _judged(label: str, ratio: float) -> str:
    if label == REFERENCE:
        return f"{ratio:.2f}x the bare imports (the libraries' own share; not a target)"
    verdict = "ok" if ratio <= IMPORTS_FACTOR else "OVER"
    return f"{ratio:.2f}x the bare imports (target <= {IMPORTS_FACTOR}x): {verdict}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="also count instructions under valgrind (slow; independent of the machine's load)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="octoplan-startup-") as tmp:
        project = Path(tmp) / "shopx"
        project.mkdir()
        for part in EXAMPLE:
            source = REPO / part
            if source.is_dir():
                shutil.copytree(source, project / part)
            else:
                shutil.copy2(source, project / part)
        env = _env(Path(tmp) / "pycache")
        python = sys.executable
        commands = {
            "bare imports (4 libraries)": [python, "-c", BASELINE],
            "python -c pass": [python, "-c", "pass"],
            REFERENCE: [python, "-c", IN_USE],
            "octoplan --version": [python, "-m", "octoplan", "--version"],
            "octoplan --help": [python, "-m", "octoplan", "--help"],
            "octoplan validate (example)": [python, "-m", "octoplan", "validate"],
            "octoplan plan (example)": [python, "-m", "octoplan", "plan"],
        }
        print(
            f"{args.runs} rounds after {args.warmup} warm-up rounds, the commands taking turns "
            f"in each round (a shared machine's load falls on all of them), {python}"
        )
        walls: dict[str, list[float]] = {label: [] for label in commands}
        cpus: dict[str, list[float]] = {label: [] for label in commands}
        for index in range(args.warmup + args.runs):
            for label, argv in commands.items():
                wall, cpu = _run(argv, project, env)
                if index >= args.warmup:
                    walls[label].append(wall)
                    cpus[label].append(cpu)
        for label in commands:
            print(_line(label, walls[label], cpus[label]), flush=True)
        counts: dict[str, int] = {}
        if args.instructions:
            print()
            for label, argv in commands.items():
                counts[label] = _instructions(argv, project, env)
                print(f"{label:<30} {counts[label]:>15,} instructions", flush=True)
    print()
    base = "bare imports (4 libraries)"
    for label in (
        REFERENCE,
        "octoplan validate (example)",
        "octoplan plan (example)",
    ):
        for kind, figures, pick in (
            ("wall", walls, statistics.median),
            ("CPU", cpus, statistics.median),
            ("CPU (fastest runs)", cpus, min),
        ):
            ratio = pick(figures[label]) / pick(figures[base])
            print(f"{label:<30} {kind:>18}: {_judged(label, ratio)}")
    for label in (
        REFERENCE,
        "octoplan validate (example)",
        "octoplan plan (example)",
    ):
        if counts:
            ratio = counts[label] / counts[base]
            print(f"{label:<30} {'instructions':>18}: {_judged(label, ratio)}")
    for label in ("octoplan --version", "octoplan --help"):
        for kind, figures in (("wall", walls), ("CPU", cpus)):
            median = statistics.median(figures[label])
            verdict = "ok" if median < FAST else "OVER"
            print(
                f"{label:<30} {kind:>18}: {median * 1000:.0f} ms (target < {FAST * 1000:.0f} ms): "
                f"{verdict}"
            )


if __name__ == "__main__":
    main()
