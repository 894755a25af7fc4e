"""`octoplan apply` of 200,000 personalized contacts to `octoplan sandbox` (its own process).

    python bench/apply_bench.py [--contacts 200000]

Prints: requests sent against the bound issue 7 sets (ceil(n/500) per distinct message
skeleton: the template has two, with and without a city), every contact delivered exactly
once (from the sandbox's log), and the time octoplan adds per request outside the HTTP round
trip (`apply --verbose --concurrency 1` measures it: the time from the first request's journal
write to the last answer, minus the HTTP round trips, per request).
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.scale import OCTOPLAN, Sandbox, make_project, mb, run
from octoplan.sandbox.store import read_deliveries


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=200_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="octoplan-bench-") as tmp:
        work = Path(tmp)
        root = make_project(work / "apply", args.contacts, {})
        with (root / "contacts" / "big.csv").open(encoding="utf-8", newline="") as handle:
            with_city = sum(1 for row in csv.DictReader(handle) if row["city"])
        groups = [with_city, args.contacts - with_city]
        bound = sum(-(-size // 500) for size in groups if size)

        sandbox = Sandbox(work / "sandbox.db")
        try:
            result = run(
                [*OCTOPLAN, "--verbose", "apply", "--auto-approve", "--concurrency", "1"],
                root,
                sandbox.env(),
            )
        finally:
            sandbox.stop()
        if result.returncode != 0:
            sys.exit(f"octoplan apply failed:\n{result.stdout}\n{result.stderr}")
        deliveries = read_deliveries(sandbox.data)
        per_recipient = Counter(d.recipient for d in deliveries)
        trips = re.search(
            r"([\d,]+) HTTP round trips? took ([\d.]+) s; octoplan's own time: ([\d.]+) ms",
            result.stdout + result.stderr,
        )
        sent = re.search(r"([\d,]+) messages sent in ([\d,]+) requests", result.stdout)

    print(
        f"contacts: {args.contacts:,} (groups by skeleton: {groups[0]:,} with a city, "
        f"{groups[1]:,} without)"
    )
    if sent:
        requests = int(sent.group(2).replace(",", ""))
        print(
            f"sent: {sent.group(1)} messages in {sent.group(2)} requests "
            f"(bound: ceil(n/500) per skeleton = {bound:,}; the hand-written baseline: "
            f"{args.contacts:,}, one per contact, {args.contacts / requests:,.0f}x as many)"
        )
    print(
        f"delivered: {len(per_recipient):,} recipients, "
        f"duplicates: {sum(n - 1 for n in per_recipient.values()):,}"
    )
    print(f"apply wall time: {result.seconds:.2f} s, peak RSS {mb(result.peak_rss)}")
    if trips:
        print(
            f"HTTP round trips: {trips.group(1)} in {trips.group(2)} s; "
            f"octoplan's own time per request: {trips.group(3)} ms"
        )


if __name__ == "__main__":
    main()
