"""Mutation testing of the modules that carry octoplan's promises, with cosmic-ray.

    .venv/bin/pip install cosmic-ray            # not in the test extra: a bench tool
    .venv/bin/python bench/mutation.py ids optouts          # mutate and test these modules
    .venv/bin/python bench/mutation.py --sample 80 apply    # 80 of apply's mutants (seed 22)
    .venv/bin/python bench/mutation.py --again apply        # the survivors again, after new tests
    .venv/bin/python bench/mutation.py --report             # the report of every session so far
    .venv/bin/python bench/mutation.py --list               # the modules and their tests

cosmic-ray generates the mutants (`cosmic-ray init`: an operator changed, a constant replaced,
a condition negated...) and writes each into the source file in place and back
(`cosmic_ray.mutating.use_mutation`); this script chooses the tests each mutant runs. First the
module's tests run once, measured, each test its own coverage context, the processes it starts
included (the CLI, a sandbox, a receiver: bench/covcontext.py). Then each mutant runs only the
tests that run its line, fastest first, `-x` (real CLI, sandbox and PostgreSQL as usual): a few
seconds, where all the module's tests took a minute and more. A line only run at import (a
default, a decorator, a constant) takes every test that runs the module; a line no test runs is
"not covered", a survivor without a run. A mutant the tests do not fail "survived": a missing
test, or an equivalent mutant (the program means the same), listed in EQUIVALENT with a reason
and not run again.

Sessions live in bench/.mutation/ (one SQLite file per module, cosmic-ray's, resumable: a second
run only does what is left; delete the file to start over). `--sample N` judges N mutants drawn
with `--seed` (22), kept in the session; the report says how many were judged.
Slow by nature, so a bench, never part of CI: run it in a worktree of its own (the source is
changed in place) on a quiet machine.
"""

from __future__ import annotations

import argparse
import ast
import functools
import hashlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import cosmic_ray.plugins
import coverage
from cosmic_ray.mutating import _make_diff, use_mutation
from cosmic_ray.work_db import WorkDB, use_db
from cosmic_ray.work_item import MutationSpec, TestOutcome, WorkerOutcome, WorkResult

ROOT = Path(__file__).resolve().parents[1]
SESSIONS = ROOT / "bench" / ".mutation"
NOT_COVERED = "not covered: no test runs the line"
Span = tuple[tuple[int, int], tuple[int, int]]


@dataclass(frozen=True)
class Target:
    module: str
    tests: tuple[str, ...]


STATE_TESTS = (
    "tests/state", "tests/test_state_cli.py", "tests/test_state_cli_errors.py",
    "tests/test_apply_crash.py", "tests/test_apply_storage_cli.py", "tests/test_events.py",
    "tests/test_events_corners.py", "tests/test_lock_cli.py",
)  # fmt: skip
# The fast path (merge, desired): a group's texts from one skeleton, checked against the
# one-by-one rendering in the render and contact tests.
RENDER_TESTS = (
    "tests/test_merge.py",
    "tests/test_desired.py",
    "tests/test_placeholders.py",
    "tests/test_render.py",
    "tests/test_render_cli.py",
    "tests/test_contact_braces_cli.py",
    "tests/test_pipeline.py",
    "tests/test_promises.py",
)
RECEIVE_TESTS = (
    "tests/test_receive_cli.py", "tests/test_receive_e2e.py", "tests/test_receive_errors.py",
    "tests/test_receive_ingest_corners.py", "tests/test_receive_settings.py",
    "tests/test_matcher.py", "tests/test_sandbox_callbacks.py",
    "tests/test_sandbox_callbacks_corners.py",
)  # fmt: skip

PLAN_TESTS = (
    "tests/test_plan_cli.py",
    "tests/test_plan_cancels_cli.py",
    "tests/test_plan_masking_cli.py",
    "tests/test_plan_review_cli.py",
    "tests/test_reviewed_plan.py",
    "tests/test_planfile.py",
    "tests/test_promises.py",
    "tests/test_pipeline.py",
    "tests/test_apply_e2e.py",
    "tests/test_compliance_cli.py",
)

# The tests that pin each module's promises: its own unit tests and the CLI tests aimed at it.
TARGETS = {
    "ids": Target(
        "octoplan/ids.py",
        (
            "tests/test_ids.py",
            "tests/test_encode.py",
            "tests/test_repeats.py",
            "tests/test_promises.py::test_two_campaigns_with_the_same_body_are_two_requests_both_delivered",
            "tests/test_promises.py::test_the_23_h_margin_to_the_minute",
            "tests/test_apply.py",
        ),
    ),
    "optouts": Target("octoplan/optouts.py", ("tests/test_optouts.py",)),
    "client_errors": Target(
        "octoplan/client_errors.py", ("tests/test_client_errors.py", "tests/test_client.py")
    ),
    "hours": Target("octoplan/hours.py", ("tests/test_hours.py", "tests/test_boundaries.py")),
    "frequency": Target("octoplan/frequency.py", ("tests/test_frequency.py",)),
    "policies": Target(
        "octoplan/policies.py",
        (
            "tests/test_policies.py",
            "tests/test_policies_cli.py",
            "tests/test_checks.py",
            "tests/test_compliance_cli.py",
            "tests/test_oversized_cli.py",
            "tests/test_validate_cli.py",
        ),
    ),
    "merge": Target("octoplan/merge.py", RENDER_TESTS),
    "apply": Target(
        "octoplan/apply.py",
        (
            "tests/test_apply.py",
            "tests/test_apply_e2e.py",
            "tests/test_apply_edges.py",
            "tests/test_apply_crash.py",
            "tests/test_apply_prompt_cli.py",
            "tests/test_apply_storage_cli.py",
            "tests/test_pipeline.py",
            "tests/test_promises.py",
        ),
    ),
    "plan": Target("octoplan/plan.py", PLAN_TESTS),
    # Where plan.py's code went in the split of issue 18 (the report above predates it).
    # Opt-outs apply to marketing sends on the numbers' channels only: the test that says
    # so of each channel and purpose is test_optouts.py's.
    "planner": Target(
        "octoplan/planner.py",
        (
            *PLAN_TESTS,
            "tests/test_optouts.py::test_marketing_on_the_numbers_channels_leaves_it_out_and_says_so",
        ),
    ),
    "batches": Target("octoplan/batches.py", PLAN_TESTS),
    # A cancel through multi-channel/cancel names its channel: only the e-mail test cancels
    # a scheduled send there.
    "scheduled": Target(
        "octoplan/scheduled.py",
        (
            *PLAN_TESTS,
            "tests/test_payload_channels.py::test_a_scheduled_email_is_cancelled_with_its_channel",
        ),
    ),
    "fastpath": Target("octoplan/fastpath.py", RENDER_TESTS),
    # FullRender.absorb merges the shards of a big contact file (octoplan/shards.py), whose
    # results tests/test_shards.py compares with one go.
    "fullrender": Target("octoplan/fullrender.py", (*RENDER_TESTS, "tests/test_shards.py")),
    "state_sqlread": Target("octoplan/state/sqlread.py", STATE_TESTS),
    "state_sql": Target("octoplan/state/sql.py", STATE_TESTS),
    "state_sqlite": Target("octoplan/state/sqlite.py", STATE_TESTS),
    "state_postgres": Target("octoplan/state/postgres.py", STATE_TESTS),
    "desired": Target("octoplan/desired.py", RENDER_TESTS),
    "receive_ingest": Target("octoplan/receive/ingest.py", RECEIVE_TESTS),
    "receive_matcher": Target("octoplan/receive/matcher.py", RECEIVE_TESTS),
}

# Tried (a two-part SMS from YAML through the real CLI, tests/test_policies_cli.py): a model's
# Literal field holds the Literal's own str object, so `channel is "sms"` is `channel == "sms"`.
_LITERAL_IS = (
    "the channel is a pydantic Literal: validation returns the Literal's own (interned) str, "
    'the very object "sms" is here, so `is` and `==` agree'
)

# Mutants that cannot change what the program does, by module: (line, operator) -> reason.
EQUIVALENT: dict[str, dict[tuple[int, str], str]] = {
    "optouts": {
        (35, "core/ReplaceOrWithAnd"): "a shortcut: with either side empty, the full path "
        "returns the same (nothing flagged, or nothing to send)",
        (41, "core/ReplaceComparisonOperator_Eq_Gt"): "to_send is never longer than keys: "
        "always the general path, which gives the same for a full list",
        (41, "core/ReplaceComparisonOperator_Eq_GtE"): "to_send is never longer than keys: "
        "the same test as ==",
        (41, "core/ReplaceComparisonOperator_Eq_Is"): "equal lengths take either path with the "
        "same result; unequal ones are never identical ints",
        (56, "core/ReplaceComparisonOperator_Eq_LtE"): "note() is only called with at least "
        "one opted-out recipient",
        (57, "core/NumberReplacer"): "a one-element list: opted[-1] is opted[0]",
    },
    "client_errors": {
        (50, "core/ReplaceBinaryOperator_Mul_Div"): "every caller passes the options by keyword "
        "and the message first: keyword-only or not, the same calls",
        (56, "core/NumberReplacer"): "the default attempts shows only in the repr of an error "
        "built without it (a debugging aid); nothing decides on it",
    },
    "policies": {
        # _any_empty_field and empty_field_possible are fast paths: True means "search each
        # text", False "no text can look like a field printed empty". A mutant that answers
        # True more often gives the same warnings, later.
        (39, "core/ReplaceComparisonOperator_NotEq_Gt"): "the joins put len-1 NULs in: the "
        "count is never below it, so > and != agree",
        (39, "core/ReplaceComparisonOperator_NotEq_GtE"): "always True: every text searched, "
        "the same warnings",
        (39, "core/ReplaceBinaryOperator_Sub_Add"): "count never equals len+1 without a NUL: "
        "True, every text searched, the same warnings",
        (39, "core/ReplaceBinaryOperator_Sub_BitXor"): "len^1 is len-1 for odd len, len+1 "
        "(never the count: True, a search) for even: the same warnings",
        (39, "core/ReplaceBinaryOperator_Sub_Mod"): "len%1 == 0: True (a search) for two texts "
        "or more, the same test for one: the same warnings",
        (64, "core/ReplaceBinaryOperator_Add_BitXor"): "len^1 is len+1 for even len, and never "
        "the count for odd (True: the texts searched): the same warnings",
        (64, "core/ReplaceOrWithAnd"): "a printed value is never empty (skeleton_fields), and "
        "a NUL inside one cannot hide a pattern the substring search then finds",
        (87, "core/RemoveDecorator"): "_Example is only built without arguments and never "
        "compared or shown: its class defaults do what the dataclass __init__ did",
        # check_basic's `unusual`: True sends the group to check_many, message by message,
        # which gives the same diagnostics and costs; only a False where True is due hides one.
        (169, "core/ReplaceComparisonOperator_Eq_LtE"): 'only rcs also passes ("rcs" <= '
        '"sms"): its texts checked one by one, the same diagnostics',
        (170, "core/ReplaceComparisonOperator_Gt_IsNot"): "small ints are cached: True for "
        "any other count (checked one by one), False for an equal one, as > is",
        (171, "core/ReplaceAndWithOr"): "transactional texts without STOP also go one by one, "
        "where the marketing check is made properly: the same diagnostics",
        (177, "core/ReplaceTrueWithFalse"): "zip(strict=False) of texts and their segments, "
        "which are one per text by construction",
        (205, "core/ReplaceComparisonOperator_Eq_Lt"): "never true: every group priced "
        "message by message, the same costs",
        (192, "core/NumberReplacer"): "len(by_code) == 0 never holds (a group has a "
        "recipient): each number looked up on its own, the same regions (== 2 is killed)",
        (205, "core/NumberReplacer"): "regions[-1]: with one distinct region every entry is "
        "the same (regions[1] fails on a one-recipient group: killed)",
        (169, "core/ReplaceComparisonOperator_Eq_Is"): _LITERAL_IS,
        (181, "core/ReplaceComparisonOperator_Eq_Is"): _LITERAL_IS,
        (249, "core/ReplaceComparisonOperator_Eq_Is"): _LITERAL_IS,
        (253, "core/ReplaceComparisonOperator_Eq_Is"): _LITERAL_IS,
        (260, "core/ReplaceComparisonOperator_Eq_Is"): _LITERAL_IS,
    },
    "receive_ingest": {
        **{
            (81, operator): "batches of one: every callback committed on its own, the same "
            "acknowledgements, only slower (the group commit's speed is bench/receive_bench.py's)"
            for operator in (
                "core/ReplaceComparisonOperator_Lt_Eq",
                "core/ReplaceComparisonOperator_Lt_Gt",
                "core/ReplaceComparisonOperator_Lt_GtE",
                "core/ReplaceComparisonOperator_Lt_Is",
                "core/AddNot",
            )
        },
        **{
            (81, operator): "a take of 1000 events, or no bound (len() of 1000 is never the "
            "constant's object): the same events committed, in larger transactions"
            for operator in (
                "core/ReplaceComparisonOperator_Lt_LtE",
                "core/ReplaceComparisonOperator_Lt_NotEq",
                "core/ReplaceComparisonOperator_Lt_IsNot",
            )
        },
        (30, "core/NumberReplacer"): "MAX_BATCH 999 or 1001: how many callbacks share a "
        "commit at most, the same acknowledgements",
        (42, "core/ReplaceBinaryOperator_Mul_Div"): "the one caller (server.py) and the tests "
        "pass open_store by position and the options by keyword: the same calls",
        (58, "core/NumberReplacer"): "stop()'s wait for the writing thread, which ends in "
        "milliseconds once told: 9 or 11 s instead of 10 change nothing",
        (88, "core/ReplaceBreakWithContinue"): "nothing is queued after the stop marker: "
        "serve() stops ingest once uvicorn has answered every request, so the next get_nowait "
        "finds the queue empty and breaks",
        **{
            (line, "core/ExceptionReplacer"): "no store's close() raises here: ingest's store "
            "never holds the apply lock (release_lock returns at once), SQLite's checkpoint "
            "errors are suppressed and close_v2 cannot fail, psycopg's close() does not raise"
            for line in (94, 123)
        },
        **{
            (120, operator): "the old store, not closed, is freed once the failed commit's "
            "error is let go (CPython refcounting), its connection closed with it; only "
            "SQLite's per-process count of open stores stays up (as state_sqlite 543)"
            for operator in ("core/AddNot", "core/ReplaceComparisonOperator_IsNot_Is")
        },
    },
    "state_sql": {
        (142, "core/NumberReplacer"): "row[-1]: `RETURNING serial` gives a one-column row, "
        "whose last column is its first (row[1], the other replacement, fails)",
    },
    "state_postgres": {
        (50, "core/ReplaceBinaryOperator_BitAnd_Mod"): "the digest modulo 2**63-1 instead of "
        "masked: another non-negative 63-bit key, as apart for two states (only two octoplan "
        "versions applying to one state at once would differ)",
    },
    "state_sqlite": {
        (284, "core/ReplaceComparisonOperator_Eq_LtE"): "the target is the path or the path "
        "with a suffix (.recovered-...), which sorts after it: <= holds only when equal",
        (302, "core/ReplaceTrueWithFalse"): "parents=False: only .octoplan/ can be missing "
        "there (the state file or its directory deleted); the project directory it is made "
        "in still exists",
    },
    # _basic, desired.py's 209 before the split of issue 18.
    "fastpath": {
        (47, "core/ReplaceComparisonOperator_LtE_GtE"): "no text holds every GSM-7 character: "
        "non-ASCII texts are all measured one by one (measure), the same parts and checks",
        (152, "core/NumberReplacer"): "a source's layout is the same for all its chunks: "
        "column 0 always a gap (< 1) keys on its presence, which splits only where a cell is "
        "empty, as a gap does; an absent column never a gap (< -1) is empty everywhere",
        (265, "core/ReplaceTrueWithFalse"): "Chunk.cells gives one cell per column of the "
        "source's names: zip(strict=False) pairs the same",
    },
    "desired": {
        (109, "core/NumberReplacer"): "positions are 1-based and value_pos falls back to "
        "(1, 1): the text's line is never None or 0, the `or` default never taken",
        (177, "core/ReplaceComparisonOperator_IsNot_NotEq"): "auto_optimize_text is a pydantic "
        "bool or None: != False and is not False agree",
    },
    "batches": {
        (59, "core/NumberReplacer"): "a skip batch's segments are never read: its JSON has "
        "none, the totals count sends only, and the journal keeps no segments",
        **{
            (79, operator): "two ways to the same groups (a C-speed pass per text for a few, "
            "one loop for many): in order of first use, members in recipient order"
            for operator in (
                "core/ReplaceComparisonOperator_LtE_Gt",
                "core/ReplaceComparisonOperator_LtE_Lt",
            )
        },
        (83, "core/ReplaceTrueWithFalse"): "texts_in_order is built from order, one text "
        "each: zip(strict=False) pairs the same",
    },
    "planner": {
        (288, "core/ReplaceComparisonOperator_Is_Eq"): "an Enum member: == is identity",
        (337, "core/ReplaceBreakWithContinue"): "once SAMPLES are shown, `continue` passes over "
        "every index left before any is appended: the same samples, a longer loop",
        **{
            (179, operator): "flags hold NOT_SENT, SENT or CHANGED (0, 1, 2): >= CHANGED is == "
            "CHANGED, and a bytearray's items are cached small ints (`is`)"
            for operator in (
                "core/ReplaceComparisonOperator_Eq_GtE",
                "core/ReplaceComparisonOperator_Eq_Is",
            )
        },
        (58, "core/ReplaceBinaryOperator_Mul_Div"): "plan_campaign's three callers pass six "
        "arguments by position and select by keyword: positional-only before it, the same calls",
        (124, "core/ReplaceComparisonOperator_Is_GtE"): "the records read are INTENT or "
        "IN_DOUBT (StrEnum): 'in_doubt' sorts before 'intent', so >= holds for INTENT only "
        "(plan's 507 before the split)",
        (353, "core/ReplaceComparisonOperator_Is_LtE"): "BatchKind is a StrEnum whose other "
        "values (new, resume, skip) all sort after 'cancel': <= holds for CANCEL only",
    },
    "scheduled": {
        (51, "core/NumberReplacer"): "a cancel's SMS parts are never read: parts are summed "
        "over sends only (the summary, the text and markdown views), a cancel's JSON has none",
        (61, "core/ReplaceComparisonOperator_IsNot_Lt"): "its three callers pass only records "
        "read with store.batches(..., [ACCEPTED], scheduled=True): the status test never fails",
        (41, "core/ReplaceComparisonOperator_Eq_GtE"): "a cancel's body is read by "
        "sender.cancel only, which takes the ticket alone for sms-campaign and voice-list "
        "(both sort after multi-channel) and the channel for multi-channel: never read there",
    },
    "plan": {
        (977, "core/ReplaceBinaryOperator_Mul_Div"): "every caller passes store and now by "
        "position and the options by keyword: keyword-only or positional-only, the same calls",
        (507, "core/ReplaceComparisonOperator_Is_GtE"): "the records read are INTENT or "
        "IN_DOUBT (StrEnum): 'in_doubt' sorts before 'intent', so >= holds for INTENT only",
    },
    "receive_matcher": {
        (50, "core/NumberReplacer"): "where the sequence numbers start: only their order is "
        "compared (the later of two equal times)",
        (83, "core/ReplaceComparisonOperator_Is_Eq"): "an Enum member: == is identity",
        **{
            (55, operator): "the serial last seen, before the first refresh: -2 is no serial "
            "either, and a state at serial 0 has no batch (each intent adds one first)"
            for operator in ("core/ReplaceUnaryOperator_USub_Invert", "core/NumberReplacer")
        },
        (60, "core/ReplaceComparisonOperator_Eq_LtE"): "the serial of the state a receiver "
        "has open only grows (each change adds one): below the last seen only if an older "
        "copy were put back under a running receiver",
    },
    "ids": {
        (53, "core/ReplaceComparisonOperator_Gt_NotEq"): "a batch always has at least one "
        "field-name tuple: != 1 and > 1 agree",
        (54, "core/ReplaceFalseWithTrue"): "the head holds field names (ASCII) and ints: "
        "ensure_ascii changes no byte of it",
    },
}


def _config(name: str, target: Target) -> Path:
    """cosmic-ray's configuration: here only to generate the mutants (`cosmic-ray init`); the
    tests each mutant runs are chosen by this script (`_select`), not by cosmic-ray."""
    path = SESSIONS / f"{name}.toml"
    path.write_text(
        "[cosmic-ray]\n"
        f"module-path = {json.dumps(target.module)}\n"
        "timeout = 600.0\n"
        "excluded-modules = []\n"
        'test-command = "false"\n'
        '[cosmic-ray.distributor]\nname = "local"\n',
        encoding="utf-8",
    )
    return path


def _init(name: str, target: Target) -> Path:
    session = SESSIONS / f"{name}.sqlite"
    if not session.exists():
        config = _config(name, target)
        cosmic_ray = Path(sys.executable).parent / "cosmic-ray"
        subprocess.run([str(cosmic_ray), "init", str(config), str(session)], cwd=ROOT, check=True)
    with sqlite3.connect(session) as db:
        db.execute("CREATE TABLE IF NOT EXISTS bench_sample (job_id TEXT PRIMARY KEY)")
    return session


@dataclass(frozen=True)
class Contexts:
    """Which tests ran each line of a module (coverage contexts), and what each test costs."""

    lines: dict[int, frozenset[str]]
    durations: dict[str, float]

    def select(self, first: int, last: int, statement: int) -> list[str]:
        """The tests that run any of lines first..last, fastest first. Coverage may record a
        statement over several lines at its first line only: lines it has nothing for are
        taken as `statement`, the line the innermost statement around them starts at. A line
        run only while the module was imported (a default value, a decorator, a constant: the
        empty context) belongs to every test that runs the module at all."""
        lines = [line for line in range(first, last + 1) if line in self.lines] or [statement]
        tests: set[str] = set()
        imported = False
        for line in lines:
            for test in self.lines.get(line, ()):
                if test:
                    tests.add(test)
                else:
                    imported = True
        # Also when a subprocess of some test recorded the line (it imports the module under
        # that test's context): the module was imported by the tests process before any test.
        if imported:
            tests = {test for found in self.lines.values() for test in found if test}
        return sorted(tests, key=lambda test: (self.durations.get(test, 60.0), test))


def _contexts_run(target: Target, refresh: bool) -> tuple[Path, Path]:
    """Run the target's tests once, measured, each test its own coverage context (in process
    and in every process it starts: bench/covcontext.py). Shared by targets with the same
    tests; done again when one of the test files changed since (`refresh`: --again)."""
    key = hashlib.sha256("\n".join(target.tests).encode()).hexdigest()[:12]
    data, durations = SESSIONS / f"contexts-{key}.coverage", SESSIONS / f"contexts-{key}.json"
    files = {ROOT / test.split("::")[0] for test in target.tests}
    # A directory's own mtime moves only when a file is added or removed: its test files'.
    files |= {found for path in files if path.is_dir() for found in path.rglob("*.py")}
    newest = max(path.stat().st_mtime for path in files)
    fresh = durations.exists() and (not refresh or durations.stat().st_mtime > newest)
    if fresh and data.exists():
        return data, durations
    print(f"measuring which test runs which line: {' '.join(target.tests)}", flush=True)
    for stale in SESSIONS.glob(f"contexts-{key}.coverage*"):
        stale.unlink()
    command = [
        sys.executable, "-m", "pytest", "-q", "-n", "2", "-p", "no:cacheprovider",
        "-p", "bench.covcontext", "--no-header", "-o", "addopts=", "--cov=octoplan",
        "--cov-context=test", "--cov-report=", *target.tests,
    ]  # fmt: skip
    env = {**os.environ, "COVERAGE_FILE": str(data), "MUTATION_BENCH_DURATIONS": str(durations)}
    done = subprocess.run(command, cwd=ROOT, env=env, check=False)
    if done.returncode != 0:  # the tests must pass on the unmutated source
        durations.unlink(missing_ok=True)
        sys.exit(f"the tests fail without any mutant (exit {done.returncode}): fix that first")
    return data, durations


def _contexts(target: Target, refresh: bool) -> Contexts:
    data_path, durations_path = _contexts_run(target, refresh)
    data = coverage.CoverageData(str(data_path))
    data.read()
    module = str(ROOT / target.module)
    by_line = data.contexts_by_lineno(module) if module in data.measured_files() else {}
    # pytest-cov names a test "NODEID|run" (or |setup, |teardown); a subprocess, "NODEID".
    lines = {
        line: frozenset(context.split("|")[0] for context in contexts)
        for line, contexts in by_line.items()
    }
    durations = json.loads(durations_path.read_text(encoding="utf-8"))
    return Contexts(lines, durations)


@dataclass(frozen=True)
class Job:
    job_id: str
    spec: MutationSpec

    @property
    def line(self) -> int:
        return int(self.spec.start_pos[0])


def _jobs(session: Path) -> list[Job]:
    with use_db(str(session), WorkDB.Mode.open) as db:
        jobs = [Job(item.job_id, item.mutations[0]) for item in db.work_items]
    # In the order of the source, whatever ids cosmic-ray drew: a sample is then the same
    # mutants from one run to the next for the same source.
    return sorted(jobs, key=lambda job: (job.spec.start_pos, job.spec.operator_name,
                                         job.spec.occurrence))  # fmt: skip


@functools.cache
def _abstract_decorators(module: str) -> frozenset[int]:
    """The lines of the module's `@abstractmethod` decorators."""
    tree = ast.parse((ROOT / module).read_text(encoding="utf-8"))
    return frozenset(
        decorator.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        for decorator in node.decorator_list
        if isinstance(decorator, ast.Name | ast.Attribute)
        and (decorator.id if isinstance(decorator, ast.Name) else decorator.attr)
        == "abstractmethod"
    )


def _known_equivalent(name: str, job: Job, spans: list[Span]) -> str | None:
    if any(start <= tuple(job.spec.start_pos) < end for start, end in spans):
        return "a type annotation: never evaluated (from __future__ import annotations)"
    if job.spec.operator_name == "core/RemoveDecorator" and job.line in _abstract_decorators(
        TARGETS[name].module
    ):
        return (
            "@abstractmethod removed: every concrete class defines the method, and the "
            "decorator only refuses to instantiate one that does not"
        )
    return EQUIVALENT.get(name, {}).get((job.line, job.spec.operator_name))


def _sample(session: Path, candidates: list[Job], size: int | None, seed: int) -> set[str]:
    """The job ids to run: all, or `size` of them drawn with `seed`, kept in the session so
    that a resumed run or --again works on the same sample."""
    with sqlite3.connect(session) as db:
        kept = {row[0] for row in db.execute("SELECT job_id FROM bench_sample")}
        if kept:
            return kept
        if size is None or size >= len(candidates):
            chosen = [job.job_id for job in candidates]
        else:
            chosen = [job.job_id for job in random.Random(seed).sample(candidates, size)]
        db.executemany("INSERT INTO bench_sample VALUES (?)", [(job,) for job in chosen])
    return set(chosen)


def _run_tests(
    tests: list[str], timeout: float, per_test: float
) -> tuple[TestOutcome, WorkerOutcome, str]:
    # A mutant that makes a test hang (a loop that never sends) fails it after `per_test`
    # seconds (pytest-timeout), not after the suite's 300.
    command = [
        sys.executable, "-m", "pytest", "-x", "-q", "-n", "0", "-p", "no:cacheprovider",
        "--no-header", "-o", "addopts=", "--tb=line", f"--timeout={per_test:.0f}", *tests,
    ]  # fmt: skip
    try:
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return TestOutcome.KILLED, WorkerOutcome.ABNORMAL, f"timed out after {timeout:.0f} s"
    output = (done.stdout + done.stderr)[-4000:]
    if done.returncode == 0:
        return TestOutcome.SURVIVED, WorkerOutcome.NORMAL, output
    # Tests failed (1), interrupted (2), pytest crashed (3), or the module no longer imports
    # and the tests are not even collected (4): the mutant is caught.
    if done.returncode in (1, 2, 3, 4):
        return TestOutcome.KILLED, WorkerOutcome.NORMAL, output
    return TestOutcome.INCOMPETENT, WorkerOutcome.EXCEPTION, output  # 5: no test ran


def run(name: str, size: int | None, seed: int, again: bool) -> None:
    target = TARGETS[name]
    SESSIONS.mkdir(parents=True, exist_ok=True)
    session = _init(name, target)
    contexts = _contexts(target, refresh=again)
    spans = _annotation_spans(target.module)
    statements = _statement_starts(target.module)
    jobs = _jobs(session)
    candidates = [job for job in jobs if _known_equivalent(name, job, spans) is None]
    chosen = _sample(session, candidates, size, seed)
    with sqlite3.connect(session) as db:
        if again:  # the survivors (not covered included) once more, against today's tests
            db.execute("DELETE FROM work_results WHERE test_outcome = 'SURVIVED'")
        done = {row[0] for row in db.execute("SELECT job_id FROM work_results")}
    todo = [job for job in candidates if job.job_id in chosen and job.job_id not in done]
    print(f"{name}: {len(jobs)} mutants, {len(chosen)} to judge, {len(todo)} left", flush=True)
    path = ROOT / target.module
    _restored(path)  # a mutant left behind (a kill -9) would be judged as the source
    # SIGTERM (a plain kill) unwinds like Ctrl-C: use_mutation then puts the source back.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    for number, job in enumerate(todo, 1):
        spec = job.spec
        tests = contexts.select(job.line, int(spec.end_pos[0]), statements.get(job.line, 0))
        operator = cosmic_ray.plugins.get_operator(spec.operator_name)(**spec.operator_args)
        started = time.monotonic()
        with use_mutation(path, operator, spec.occurrence) as (original, mutated):
            if mutated is None:
                result = WorkResult(worker_outcome=WorkerOutcome.NO_TEST)
            else:
                diff = "\n".join(_make_diff(original, mutated, target.module))
                if not tests:
                    result = WorkResult(
                        worker_outcome=WorkerOutcome.NO_TEST, test_outcome=TestOutcome.SURVIVED,
                        output=NOT_COVERED, diff=diff,
                    )  # fmt: skip
                else:
                    costs = [contexts.durations.get(test, 60.0) for test in tests]
                    outcome, worker, output = _run_tests(
                        tests, timeout=60 + 4 * sum(costs), per_test=30 + 4 * max(costs)
                    )
                    result = WorkResult(
                        worker_outcome=worker, test_outcome=outcome, output=output, diff=diff
                    )
        with use_db(str(session), WorkDB.Mode.open) as db:
            db.set_result(job.job_id, result)
        print(
            f"  [{number}/{len(todo)}] {name}:{job.line} {spec.operator_name}:"
            f" {(result.test_outcome or 'no mutant').lower()}"
            f" ({len(tests)} tests, {time.monotonic() - started:.0f} s)",
            flush=True,
        )
    _restored(path)


def _restored(path: Path) -> None:
    """The source as git has it: use_mutation puts it back after each mutant; say so loudly
    if it is not (then `git checkout` the file)."""
    changed = subprocess.run(
        ["git", "diff", "--quiet", "--", str(path)], cwd=ROOT, check=False
    ).returncode
    if changed:
        sys.exit(f"{path} differs from git: a mutant left in it? (git checkout the file)")


@dataclass
class Tally:
    killed: int = 0
    survived: int = 0
    uncovered: int = 0  # no test runs the line: a survivor
    equivalent: int = 0
    not_run: int = 0  # left out of the sample, or not reached yet
    incompetent: int = 0  # no mutant made, or no test ran (counted as neither)

    @property
    def score(self) -> float:
        judged = self.killed + self.survived + self.uncovered
        return 100.0 * self.killed / judged if judged else 0.0


def _statement_starts(module: str) -> dict[int, int]:
    """Each line of the module -> the first line of the innermost statement around it."""
    tree = ast.parse((ROOT / module).read_text(encoding="utf-8"))
    starts: dict[int, tuple[int, int]] = {}  # line -> (statement's span in lines, its start)
    for node in ast.walk(tree):
        if isinstance(node, ast.stmt) and node.end_lineno is not None:
            span = node.end_lineno - node.lineno
            for line in range(node.lineno, node.end_lineno + 1):
                if line not in starts or span < starts[line][0]:
                    starts[line] = (span, node.lineno)
    return {line: start for line, (_, start) in starts.items()}


def _annotation_spans(module: str) -> list[Span]:
    """Where the module's type annotations are: with `from __future__ import annotations` they
    are strings never evaluated, so a mutant there is equivalent by construction."""
    tree = ast.parse((ROOT / module).read_text(encoding="utf-8"))
    spans = []
    for node in ast.walk(tree):
        annotations: list[ast.expr | None] = []
        if isinstance(node, ast.arg | ast.AnnAssign):
            annotations.append(node.annotation)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            annotations.append(node.returns)
        for annotation in annotations:
            if annotation is not None and annotation.end_lineno is not None:
                start = (annotation.lineno, annotation.col_offset)
                end = (annotation.end_lineno, annotation.end_col_offset or 0)
                spans.append((start, end))
    return spans


def report(names: list[str]) -> int:
    print(f"{'module':<16}{'mutants':>8}{'judged':>8}{'killed':>8}{'survived':>9}{'uncov.':>8}"
          f"{'equiv.':>8}{'not run':>8}{'score':>8}")  # fmt: skip
    survivors: list[str] = []
    for name in names:
        session = SESSIONS / f"{name}.sqlite"
        if not session.exists():
            continue
        tally = Tally()
        spans = _annotation_spans(TARGETS[name].module)
        with sqlite3.connect(session) as db:
            sample = {row[0] for row in db.execute("SELECT job_id FROM bench_sample")}
            results = {
                row[0]: row[1:]
                for row in db.execute(
                    "SELECT job_id, worker_outcome, test_outcome, output, diff FROM work_results"
                )
            }
        for job in _jobs(session):
            _, outcome, output, diff = (
                str(value or "") for value in results.get(job.job_id, (None,) * 4)
            )
            outcome = outcome.lower()
            if outcome == "killed":  # whatever EQUIVALENT says of its line and operator
                tally.killed += 1
                continue
            if _known_equivalent(name, job, spans) is not None:
                tally.equivalent += 1
                continue
            if job.job_id not in results:
                tally.not_run += 1
                continue
            where = f"--- {name}:{job.line} {job.spec.operator_name}"
            if outcome == "killed":
                tally.killed += 1
            elif outcome == "survived" and output == NOT_COVERED:
                tally.uncovered += 1
                survivors.append(f"{where} (no test runs the line)\n{diff}")
            elif outcome == "survived":
                tally.survived += 1
                survivors.append(f"{where}\n{diff}")
            else:  # no mutant made, or the tests did not run: neither killed nor survived
                tally.incompetent += 1
        judged = tally.killed + tally.survived + tally.uncovered
        scope = "all" if tally.not_run == 0 else f"{len(sample)}"
        print(f"{name:<16}{len(_jobs(session)):>8}{scope:>8}{tally.killed:>8}{tally.survived:>9}"
              f"{tally.uncovered:>8}{tally.equivalent:>8}{tally.not_run:>8}"
              f"{tally.score:>7.1f}%" + ("" if judged else "  (nothing judged yet)"))  # fmt: skip
    if survivors:
        print("\nSurviving mutants:")
        print("\n".join(survivors))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("modules", nargs="*", help=f"among {', '.join(TARGETS)}")
    parser.add_argument("--report", action="store_true", help="report only, run nothing")
    parser.add_argument("--list", action="store_true", help="the modules and their tests")
    parser.add_argument("--sample", type=int, metavar="N", help="judge N mutants of a "
                        "module, drawn with --seed (kept in the session, as a resumed run "
                        "keeps them)")  # fmt: skip
    parser.add_argument("--seed", type=int, default=22, help="the sample's seed (22)")
    parser.add_argument("--again", action="store_true", help="run the survivors again "
                        "(after new tests: the coverage contexts are measured again if a test "
                        "file changed)")  # fmt: skip
    args = parser.parse_args()
    if args.list:
        for name, target in TARGETS.items():
            print(f"{name}: {target.module}\n  " + "\n  ".join(target.tests))
        return 0
    unknown = [m for m in args.modules if m not in TARGETS]
    if unknown:
        parser.error(f"unknown module(s) {', '.join(unknown)}; known: {', '.join(TARGETS)}")
    names = args.modules or list(TARGETS)
    if not args.report:
        for name in names:
            run(name, args.sample, args.seed, args.again)
    return report(names)


if __name__ == "__main__":
    sys.exit(main())
