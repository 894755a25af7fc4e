"""A rollout's cost at plan time: `octoplan plan` of the same 1M-contact campaign without and
with `rollout:`, interleaved, min of N (issue 17: within 10%).

    python bench/rollout_bench.py [--contacts 1000000] [--repeat 3]

Variants, all on one generated list (bench/gen_contacts.py) and an empty state:
- `plain`: no rollout;
- `rollout 5%`: `- percent: 5` then `- percent: 100`: the first stage, whose cohort is drawn
  from every recipient (one CRC-32 each) and which then plans 5% of the requests;
- `rollout 99%`: `- percent: 99` then `- percent: 100`: every recipient hashed and nearly all
  planned, the worst case for the cohort's own cost.
Each run of every variant is timed in turn (plain, 5%, 99%, plain, ...), so that the load of a
shared machine falls on all of them alike; figures are the minimum wall and CPU time (user +
system of the process and its forked child) over the runs. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.scale import CAMPAIGN, OCTOPLAN, make_project, run

VARIANTS = {
    "plain": "",
    "rollout 5%": "rollout:\n  - percent: 5\n  - percent: 100\n    wait: 24h\n",
    "rollout 99%": "rollout:\n  - percent: 99\n  - percent: 100\n    wait: 24h\n",
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="octoplan-rollout-bench-") as tmp:
        work, cache = Path(tmp), {}
        roots = {}
        for index, (name, rollout) in enumerate(VARIANTS.items()):
            root = make_project(work / f"v{index}", args.contacts, cache)
            (root / "campaigns" / "promo.yaml").write_text(CAMPAIGN + rollout, encoding="utf-8")
            roots[name] = root
        walls: dict[str, list[float]] = {name: [] for name in VARIANTS}
        cpus: dict[str, list[float]] = {name: [] for name in VARIANTS}
        sends: dict[str, str] = {}
        for attempt in range(args.repeat):
            for name, root in roots.items():
                result = run([*OCTOPLAN, "plan"], root)
                if result.returncode != 0:
                    sys.exit(f"{name}: plan failed ({result.returncode}): {result.stderr}")
                walls[name].append(result.seconds)
                cpus[name].append(result.cpu)
                sends[name] = result.stdout.strip().splitlines()[-1]
                print(
                    f"run {attempt + 1} {name:<12} {result.seconds:7.2f} s wall "
                    f"{result.cpu:7.2f} s cpu"
                )
        cohort_seconds = _cohort_seconds(roots["plain"], args.repeat)
        base_wall, base_cpu = min(walls["plain"]), min(cpus["plain"])
        print(f"\n{args.contacts:,} contacts, min of {args.repeat} interleaved runs")
        print(f"{'':<12} {'wall':>9} {'cpu':>9} {'wall vs plain':>14} {'cpu vs plain':>13}  plan")
        for name in VARIANTS:
            wall, cpu = min(walls[name]), min(cpus[name])
            print(
                f"{name:<12} {wall:8.2f}s {cpu:8.2f}s {wall / base_wall:13.3f}x "
                f"{cpu / base_cpu:12.3f}x  {sends[name]}"
            )
        print(
            f"\nThe cohort alone (octoplan.rollout.cohort, in this process, min of "
            f"{args.repeat}): {cohort_seconds:.3f} s for {args.contacts:,} identities, "
            f"{cohort_seconds / base_cpu:.1%} of the plain plan's CPU time"
        )


def _cohort_seconds(root: Path, repeat: int) -> float:
    """The cohort of the whole list, timed alone: the rollout's own cost, without the noise
    of whole plans on a shared machine (identities as the plan has them: E.164)."""
    import time

    from octoplan.rollout import cohort

    lines = (root / "contacts" / "big.csv").read_text(encoding="utf-8").splitlines()[1:]
    keys = [
        "+33" + line.split(",", 1)[0].replace(" ", "").removeprefix("+33")[-9:] for line in lines
    ]
    everyone = list(range(len(keys)))
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        cohort(keys, everyone, "promo", 5)
        best = min(best, time.process_time() - started)
    return best


if __name__ == "__main__":
    main()
