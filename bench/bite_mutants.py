"""The hand-made mutants of issue 22 that once lived, each with the tests that must kill it.

    .venv/bin/python bench/bite_mutants.py            # every mutant, against its killing tests
    .venv/bin/python bench/bite_mutants.py M1 M6      # some of them
    .venv/bin/python bench/bite_mutants.py --tests tests/test_apply_e2e.py M1
                                                      # against other tests (does it live?)

For each mutant the source is changed in place (one exact text, found exactly once), the tests
are run, and the source is restored whatever happens. A mutant is killed when the tests fail.
Not a mutation-testing tool (bench/mutation.py is): named mutants, checked in a few minutes.
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROMISES = "tests/test_promises.py"
HOURS = "tests/test_boundaries.py"
APPLY = "tests/test_apply.py"
MERGE = "tests/test_merge.py"
INGEST = "tests/test_receive_ingest_corners.py"
POLICIES = "tests/test_policies_cli.py"


@dataclass(frozen=True)
class Mutant:
    name: str
    what: str
    path: str
    old: str
    new: str
    tests: tuple[str, ...]


MUTANTS = (
    Mutant(
        "M1",
        "a 401 no longer stops the apply",
        "octoplan/apply.py",
        "stop = isinstance(exc, AuthenticationError)",
        "stop = False",
        (f"{PROMISES}::test_a_401_stops_the_apply_and_nothing_after_it_is_journaled_or_sent",),
    ),
    Mutant(
        "M2",
        "the request_id window boundary `<` becomes `<=`",
        "octoplan/plan.py",
        "now - first_sent_at < REQUEST_ID_WINDOW",
        "now - first_sent_at <= REQUEST_ID_WINDOW",
        (f"{PROMISES}::test_the_23_h_margin_to_the_minute",),
    ),
    Mutant(
        "M3",
        "the 23 h safety margin raised to 24 h",
        "octoplan/plan.py",
        "REQUEST_ID_WINDOW = timedelta(hours=23)",
        "REQUEST_ID_WINDOW = timedelta(hours=24)",
        (f"{PROMISES}::test_the_23_h_margin_to_the_minute",),
    ),
    Mutant(
        "M4",
        "the 23 h safety margin raised to 25 h",
        "octoplan/plan.py",
        "REQUEST_ID_WINDOW = timedelta(hours=23)",
        "REQUEST_ID_WINDOW = timedelta(hours=25)",
        (f"{PROMISES}::test_the_23_h_margin_to_the_minute",),
    ),
    Mutant(
        "M5",
        "the request_id no longer depends on the campaign id",
        "octoplan/ids.py",
        "canonical_json([campaign_id, endpoint, base, sorted(set(earlier))])",
        "canonical_json([endpoint, base, sorted(set(earlier))])",
        (f"{PROMISES}::test_two_campaigns_with_the_same_body_are_two_requests_both_delivered",),
    ),
    Mutant(
        "M6",
        "an outcome without a ticket erases the ticket recorded earlier",
        "octoplan/state/sql.py",
        "ticket = COALESCE(?, ticket)",
        "ticket = ?",
        (f"{PROMISES}::test_a_cancelled_scheduled_send_keeps_its_ticket",),
    ),
    Mutant(
        "M7",
        "marketing hours refuse the opening minute (`<=` becomes `<`)",
        "octoplan/hours.py",
        "if not policy.start_time <= local.time()",
        "if not policy.start_time < local.time()",
        (f"{HOURS}::test_marketing_window_first_and_last_minute_through_plan",),
    ),
    Mutant(
        "M8",
        "marketing hours accept the closing minute (`<` becomes `<=` at the end)",
        "octoplan/hours.py",
        "local.time().replace(tzinfo=None) < policy.end_time",
        "local.time().replace(tzinfo=None) <= policy.end_time",
        (f"{HOURS}::test_marketing_window_first_and_last_minute_through_plan",),
    ),
    # Survivors of bench/mutation.py (issue 22, 2026-12-03), each with the test written for it.
    Mutant(
        "M9",
        "an answer that costs nothing is kept as -1.0 in the request's cost",
        "octoplan/apply.py",
        "report.accepted[batch.request_id] = result.total_cost or 0.0",
        "report.accepted[batch.request_id] = result.total_cost or -1.0",
        (f"{APPLY}::test_an_answer_that_costs_nothing_is_reported_as_a_zero_cost",),
    ),
    Mutant(
        "M10",
        "an answer that costs nothing adds -1.0 to the apply's cost",
        "octoplan/apply.py",
        "report.cost += result.total_cost or 0.0",
        "report.cost += result.total_cost or -1.0",
        (f"{APPLY}::test_an_answer_that_costs_nothing_is_reported_as_a_zero_cost",),
    ),
    Mutant(
        "M11",
        "a merge Skeleton is no longer frozen",
        "octoplan/merge.py",
        "@dataclass(frozen=True)\nclass Skeleton:",
        "@dataclass\nclass Skeleton:",
        (f"{MERGE}::test_a_skeleton_is_the_text_cut_at_its_holes_and_cannot_change_once_made",),
    ),
    Mutant(
        "M12",
        "a receiver handler that gave up waiting stops the settling of the rest of its batch",
        "octoplan/receive/ingest.py",
        "# its handler gave up waiting (timeout)\n            continue",
        "# its handler gave up waiting (timeout)\n            break",
        (f"{INGEST}::test_a_handler_that_gave_up_does_not_keep_the_next_one_of_its_batch_waiting",),
    ),
    Mutant(
        "M13",
        "a merged SMS over policies.max_segments passes (`>` becomes `is`)",
        "octoplan/policies.py",
        "unusual or max(segments) > self.max_segments",
        "unusual or max(segments) is self.max_segments",
        (f"{POLICIES}::test_a_two_part_sms_from_yaml_is_priced_and_counted_by_its_parts",),
    ),
    Mutant(
        "M14",
        "a merged marketing SMS is not searched for the STOP mention",
        "octoplan/policies.py",
        "if self._per_part:\n                unusual",
        "if not self._per_part:\n                unusual",
        (f"{POLICIES}::test_a_merged_marketing_sms_without_the_stop_mention_is_an_error",),
    ),
    Mutant(
        "M15",
        "a merged text over the API's length passes when its parts are allowed",
        "octoplan/policies.py",
        "unusual or max(map(len, texts)) > rules.TEXT_MAX",
        "unusual or max(map(len, texts)) <= rules.TEXT_MAX",
        (
            f"{POLICIES}::test_a_text_over_the_api_limit_is_an_error_even_when_its_parts_are_"
            "allowed",
        ),
    ),
    Mutant(
        "M16",
        "a field printed empty in a merged group goes unnoticed (`or` becomes `and`)",
        "octoplan/policies.py",
        ') or joined.startswith((" ", ","))',
        ') and joined.startswith((" ", ","))',
        (f"{POLICIES}::test_a_field_printed_empty_in_a_merged_group_is_a_warning",),
    ),
    Mutant(
        "M17",
        "an unpriced message checked on its own is counted twice",
        "octoplan/policies.py",
        'if price is None:\n            self._unpriced[region or "default"] += 1',
        'if price is None:\n            self._unpriced[region or "default"] += 2',
        (f"{POLICIES}::test_unpriced_messages_checked_one_by_one_are_counted_once_each",),
    ),
)


def run(mutant: Mutant, tests: tuple[str, ...]) -> tuple[bool, float, str]:
    """(killed, seconds, the tail of pytest's output)."""
    path = ROOT / mutant.path
    original = path.read_text(encoding="utf-8")
    if original.count(mutant.old) != 1:
        raise SystemExit(f"{mutant.name}: {mutant.old!r} is not in {mutant.path} exactly once")
    started = time.monotonic()
    try:
        path.write_text(original.replace(mutant.old, mutant.new), encoding="utf-8")
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--no-cov", *tests],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        path.write_text(original, encoding="utf-8")
    tail = "\n".join(done.stdout.strip().splitlines()[-3:])
    return done.returncode != 0, time.monotonic() - started, tail


def main(argv: list[str]) -> int:
    tests: tuple[str, ...] = ()
    if argv[:1] == ["--tests"]:
        tests = tuple(argv[1].split(","))
        argv = argv[2:]
    chosen = [m for m in MUTANTS if not argv or m.name in argv]
    lived = 0
    for mutant in chosen:
        killed, seconds, tail = run(mutant, tests or mutant.tests)
        lived += not killed
        print(f"{mutant.name} {'killed' if killed else 'LIVED '} {seconds:5.1f}s  {mutant.what}")
        print("   " + tail.replace("\n", "\n   "))
    print(f"{len(chosen) - lived} killed, {lived} lived")
    return 1 if lived and not tests else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
