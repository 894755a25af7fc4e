"""`octoplan plan` over 10k, 100k and 1M personalized contacts, beside the hand-written baseline
(bench/baseline.py) on the same files, in one run; then 1M contacts with 500k already in state.

    python bench/plan_bench.py [--sizes 10000,100000,1000000] [--in-state 500000]
                               [--baseline-up-to 1000000] [--no-shuffled] [--opted-out 10000]
                               [--data sorted,mixed]

For each size: wall time, CPU time (user + system, the process and its forked child: steadier
than wall time on a shared machine), contacts per second, the largest process's peak RSS and
the whole process tree's (octoplan reads a big file on two cores: the sum of RSS counts twice
what the forked child shares with its parent, PSS does not), requests, and the ratio to the
baseline. Then the largest list again with its rows in random order (the generated list is sorted by
number, which a real one seldom is; the baseline's speed does not depend on it). The 500k
already in state are sent for real: `octoplan apply` of the first 500k contacts against
`octoplan sandbox` (in its own process), then `plan` of all 1M; then the same with
`policies.frequency_cap: {max: 1, days: 7}`, for that campaign and for another campaign on the
same list (whose 500k recipients in state are then over the cap). Plans run at a fixed moment
inside marketing hours (bench/scale.py, BENCH_NOW). `--opted-out N`: the largest list again,
with N of its numbers having replied STOP (stored and interpreted as `octoplan receive` does),
so that plan leaves them out. `--data`: the sizes are run on the sorted data set, the realistic
mixed one (four number formats, accents, empty cells, random codes, shuffled rows: see
bench/gen_contacts.py), or both (default).
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.scale import OCTOPLAN, REPO, Run, Sandbox, make_project, mb, run


def _requests(output: str) -> str:
    found = re.search(r"in ([\d,]+) requests?", output)
    return found.group(1) if found else "?"


def _row(label: str, contacts: int, result: Run, requests: str, ratio: str = "") -> str:
    rate = contacts / result.seconds
    return (
        f"{label:<28} {contacts:>9,} {result.seconds:>8.2f} s {result.cpu:>7.2f} s "
        f"{rate:>11,.0f}/s "
        f"{mb(result.peak_rss):>9} {mb(result.peak_tree_rss):>9} {mb(result.peak_tree_pss):>9} "
        f"{requests:>10} {ratio:>7}"
    )


def _shuffle(csv_file: Path) -> None:
    """The same contacts, rows in random order (the generated rows hold no line breaks)."""
    header, *rows = csv_file.read_text(encoding="utf-8").splitlines(keepends=True)
    random.Random(1).shuffle(rows)
    csv_file.write_text(header + "".join(rows), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--in-state", type=int, default=500_000)
    parser.add_argument("--baseline-up-to", type=int, default=1_000_000)
    parser.add_argument("--no-shuffled", dest="shuffled", action="store_false")
    parser.add_argument("--opted-out", type=int, default=0)
    parser.add_argument(
        "--data",
        default="sorted,mixed",
        help="data sets of bench/gen_contacts.py for the sizes: sorted, mixed or both",
    )
    args = parser.parse_args()
    datasets = [name.strip() for name in args.data.split(",") if name.strip()]
    if not datasets or set(datasets) - {"sorted", "mixed"}:
        parser.error("--data takes sorted, mixed or sorted,mixed")
    sizes = [int(size) for size in args.sizes.split(",")]

    print(
        f"{'':<28} {'contacts':>9} {'wall':>10} {'cpu':>9} {'rate':>13} {'peak RSS':>9} "
        f"{'all RSS':>9} {'all PSS':>9} {'requests':>10} {'vs base':>7}"
    )
    with tempfile.TemporaryDirectory(prefix="octoplan-bench-") as tmp:
        work, cache = Path(tmp), {}
        for data in datasets:
            mixed, tag = data == "mixed", " (mixed)" if data == "mixed" else ""
            for size in sizes:
                root = make_project(work / f"p{size}{data}", size, cache, mixed)
                baseline = None
                if size <= args.baseline_up_to:
                    baseline = run(
                        [sys.executable, str(REPO / "bench/baseline.py"), str(root)], root
                    )
                    label = f"baseline (hand-written){tag}"
                    print(_row(label, size, baseline, baseline.stdout.split()[-1]))
                result = run([*OCTOPLAN, "plan"], root)
                if result.returncode != 0:
                    sys.exit(f"octoplan plan failed:\n{result.stdout}\n{result.stderr}")
                ratio = f"{baseline.seconds / result.seconds:.1f}x" if baseline else ""
                print(_row(f"octoplan plan{tag}", size, result, _requests(result.stdout), ratio))
                shutil.rmtree(root)

        if args.shuffled:
            size = max(sizes)
            root = make_project(work / "shuffled", size, cache)
            _shuffle(root / "contacts" / "big.csv")
            result = run([*OCTOPLAN, "plan"], root)
            if result.returncode != 0:
                sys.exit(f"octoplan plan failed:\n{result.stdout}\n{result.stderr}")
            print(_row("plan, rows in random order", size, result, _requests(result.stdout)))
            shutil.rmtree(root)

        if args.opted_out:
            size = max(sizes)
            root = make_project(work / "opted-out", size, cache)
            _opt_out(root, args.opted_out)
            result = run([*OCTOPLAN, "plan"], root)
            if result.returncode != 0:
                sys.exit(f"octoplan plan failed:\n{result.stdout}\n{result.stderr}")
            print(
                _row(f"plan, {args.opted_out:,} opted out", size, result, _requests(result.stdout))
            )
            shutil.rmtree(root)

        if args.in_state:
            total = max(sizes)
            root = make_project(work / "state", args.in_state, cache)
            sandbox = Sandbox(work / "sandbox.db")
            try:
                sent = run([*OCTOPLAN, "apply", "--auto-approve"], root, sandbox.env())
                if sent.returncode != 0:
                    sys.exit(f"octoplan apply failed:\n{sent.stdout}\n{sent.stderr}")
                print(_row("apply (fills state)", args.in_state, sent, _requests(sent.stdout)))
            finally:
                sandbox.stop()
            make_project(root, total, cache)  # the same first rows, and more
            # The apply left hundreds of megabytes to write back (the sandbox's deliveries):
            # flushed first, so the plan is not timed against the disk catching up.
            os.sync()
            result = run([*OCTOPLAN, "plan"], root)
            if result.returncode != 0:
                sys.exit(f"octoplan plan failed:\n{result.stdout}\n{result.stderr}")
            label = f"plan, {args.in_state:,} in state"
            print(_row(label, total, result, _requests(result.stdout)))
            print(result.stdout.strip().splitlines()[-1])

            # The frequency cap (issue 15): at most 1 marketing message per recipient in 7
            # days, counted from state across campaigns. Same campaign: the ledger is read
            # and the 500k still to send are looked up in it. Another campaign on the same
            # list: the 500k in state are over the cap, skipped and listed.
            config = root / "octoplan.yaml"
            config.write_text(
                config.read_text() + "policies:\n  frequency_cap: {max: 1, days: 7}\n"
            )
            result = run([*OCTOPLAN, "plan"], root)
            if result.returncode != 0:
                sys.exit(f"octoplan plan failed:\n{result.stdout}\n{result.stderr}")
            label = "plan, cap, same campaign"
            print(_row(label, total, result, _requests(result.stdout)))
            print(result.stdout.strip().splitlines()[-1])
            campaign = root / "campaigns" / "promo.yaml"
            campaign.write_text("id: promo-2\n" + campaign.read_text())
            result = run([*OCTOPLAN, "plan"], root)
            if result.returncode != 0:
                sys.exit(f"octoplan plan failed:\n{result.stdout}\n{result.stderr}")
            label = "plan, cap, other campaign"
            print(_row(label, total, result, _requests(result.stdout)))
            print(result.stdout.strip().splitlines()[-1])


def _opt_out(root: Path, count: int) -> None:
    """`count` numbers of the list reply STOP: callbacks stored and interpreted into state."""
    import csv
    import json

    from octoplan.clock import now
    from octoplan.events import dedup_key
    from octoplan.receive.worker import Interpreter, ingest_all
    from octoplan.state.eventlog import RawEvent
    from octoplan.state.open import open_state

    with (root / "contacts" / "big.csv").open(encoding="utf-8") as handle:
        numbers = [row["phone_number"] for row in csv.DictReader(handle)]
    step = max(len(numbers) // count, 1)
    bodies = [
        json.dumps({"number": number, "text": "STOP", "stop_date": ""}).encode()
        for number in numbers[::step][:count]
    ]
    store = open_state(".octoplan/state.db", root)
    try:
        at = now()
        store.append_raw([RawEvent(dedup_key("application/json", b), at, "", b) for b in bodies])
        ingest_all(Interpreter(store, "FR"))
    finally:
        store.close()


if __name__ == "__main__":
    main()
