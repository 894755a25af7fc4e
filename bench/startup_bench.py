"""How long everyday commands take: `--version`, `--help`, and `validate` and `plan` of the
repository's example project, beside the bare import time of the four libraries they need.

    python bench/startup_bench.py [--runs 15] [--warmup 2]

Like hyperfine: each command runs `--warmup` times unmeasured, then `--runs` times; the
median, the mean with its standard deviation, and the fastest run are printed, then the
targets of issue 19 (validate and plan within 1.6x the bare imports, --version and --help
under 0.1 s). The baseline is what any program using the four libraries pays:
`from pydantic import BaseModel` (a plain `import pydantic` is lazy and imports almost
nothing), jinja2's sandbox, ruamel.yaml's YAML and click.

Commands run as a user's would: bytecode is cached (in a temporary PYTHONPYCACHEPREFIX, so
the tree is left alone, and the warm-up fills it; a pip install compiles it at install time),
no colour, no Octopush variables. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
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


def _time(argv: list[str], cwd: Path, env: dict[str, str], runs: int, warmup: int) -> list[float]:
    times = []
    for index in range(warmup + runs):
        start = time.perf_counter()
        done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, check=False)
        elapsed = time.perf_counter() - start
        if done.returncode != 0:
            sys.exit(f"{' '.join(argv)} failed:\n{done.stderr.decode()}")
        if index >= warmup:
            times.append(elapsed)
    return times


def _line(label: str, times: list[float]) -> str:
    median, mean = statistics.median(times), statistics.fmean(times)
    spread = statistics.stdev(times) if len(times) > 1 else 0.0
    return (
        f"{label:<34} median {median * 1000:7.1f} ms   mean {mean * 1000:7.1f} ms "
        f"± {spread * 1000:5.1f}   min {min(times) * 1000:7.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=2)
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
            "octoplan --version": [python, "-m", "octoplan", "--version"],
            "octoplan --help": [python, "-m", "octoplan", "--help"],
            "octoplan validate (example)": [python, "-m", "octoplan", "validate"],
            "octoplan plan (example)": [python, "-m", "octoplan", "plan"],
        }
        medians: dict[str, float] = {}
        print(f"{args.runs} runs each after {args.warmup} warm-up runs, {python}")
        for label, argv in commands.items():
            times = _time(argv, project, env, args.runs, args.warmup)
            medians[label] = statistics.median(times)
            print(_line(label, times), flush=True)
    base = medians["bare imports (4 libraries)"]
    print()
    for label in ("octoplan validate (example)", "octoplan plan (example)"):
        ratio = medians[label] / base
        verdict = "ok" if ratio <= IMPORTS_FACTOR else "OVER"
        print(f"{label:<34} {ratio:.2f}x the bare imports (target <= {IMPORTS_FACTOR}x): {verdict}")
    for label in ("octoplan --version", "octoplan --help"):
        verdict = "ok" if medians[label] < FAST else "OVER"
        print(
            f"{label:<34} {medians[label] * 1000:.0f} ms (target < {FAST * 1000:.0f} ms): {verdict}"
        )


if __name__ == "__main__":
    main()
