"""Mutation testing of the modules that carry octoplan's promises, with cosmic-ray.

    .venv/bin/pip install cosmic-ray            # not in the test extra: a bench tool
    .venv/bin/python bench/mutation.py ids optouts          # mutate and test these modules
    .venv/bin/python bench/mutation.py --report             # the report of every session so far
    .venv/bin/python bench/mutation.py --list               # the modules and their tests

Each mutant (an operator changed, a constant replaced, a condition negated...) is written into
the source file in place, the module's tests run (`-x`, real CLI, sandbox and PostgreSQL as
usual), and the file is restored. A mutant the tests do not fail "survived": either a missing
test, or an equivalent mutant (the program means the same), listed in EQUIVALENT with a reason.
Sessions live in bench/.mutation/ (one SQLite file per module, resumable: a second run only
does what is left). Slow by nature (hundreds of mutants per module, seconds to a minute each),
so it is a bench, never part of CI: run it in a worktree of its own on a quiet machine.
"""

from __future__ import annotations

import argparse
import ast
import json
import shlex
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SESSIONS = ROOT / "bench" / ".mutation"


@dataclass(frozen=True)
class Target:
    module: str
    tests: tuple[str, ...]


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
    "policies": Target("octoplan/policies.py", ("tests/test_policies.py",)),
    "merge": Target("octoplan/merge.py", ("tests/test_merge.py", "tests/test_desired.py")),
    "apply": Target(
        "octoplan/apply.py",
        ("tests/test_apply.py", "tests/test_pipeline.py", "tests/test_promises.py"),
    ),
}

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
    "ids": {
        (53, "core/ReplaceComparisonOperator_Gt_NotEq"): "a batch always has at least one "
        "field-name tuple: != 1 and > 1 agree",
        (54, "core/ReplaceFalseWithTrue"): "the head holds field names (ASCII) and ints: "
        "ensure_ascii changes no byte of it",
    },
}


def _config(name: str, target: Target) -> Path:
    command = [
        sys.executable, "-m", "pytest", "-x", "-q", "-n", "0", "-p", "no:cacheprovider",
        "--no-header", "-o", "addopts=", *target.tests,
    ]  # fmt: skip
    path = SESSIONS / f"{name}.toml"
    path.write_text(
        "[cosmic-ray]\n"
        f"module-path = {json.dumps(target.module)}\n"
        "timeout = 600.0\n"
        "excluded-modules = []\n"
        f"test-command = {json.dumps(shlex.join(command))}\n"
        '[cosmic-ray.distributor]\nname = "local"\n',
        encoding="utf-8",
    )
    return path


def _cosmic_ray(*args: str) -> None:
    subprocess.run([str(Path(sys.executable).parent / "cosmic-ray"), *args], cwd=ROOT, check=True)


def run(name: str) -> None:
    target = TARGETS[name]
    SESSIONS.mkdir(parents=True, exist_ok=True)
    config, session = _config(name, target), SESSIONS / f"{name}.sqlite"
    if not session.exists():
        _cosmic_ray("init", str(config), str(session))
    _cosmic_ray("baseline", str(config))  # the tests must pass on the unmutated source
    _cosmic_ray("exec", str(config), str(session))


@dataclass
class Tally:
    killed: int = 0
    survived: int = 0
    equivalent: int = 0
    pending: int = 0
    incompetent: int = 0  # the mutant does not even import (counted as neither)

    @property
    def score(self) -> float:
        judged = self.killed + self.survived
        return 100.0 * self.killed / judged if judged else 0.0


def _annotation_spans(module: str) -> list[tuple[tuple[int, int], tuple[int, int]]]:
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
    print(f"{'module':<16}{'mutants':>8}{'killed':>8}{'survived':>9}{'equiv.':>8}"
          f"{'pending':>9}{'score':>8}")  # fmt: skip
    survivors: list[str] = []
    for name in names:
        session = SESSIONS / f"{name}.sqlite"
        if not session.exists():
            continue
        tally = Tally()
        with sqlite3.connect(session) as db:
            rows = db.execute(
                "SELECT s.start_pos_row, s.start_pos_col, s.operator_name, r.worker_outcome,"
                " r.test_outcome, r.diff FROM mutation_specs s"
                " LEFT JOIN work_results r USING (job_id) ORDER BY s.start_pos_row"
            ).fetchall()
        spans = _annotation_spans(TARGETS[name].module)
        for line, column, operator, worker, outcome, diff in rows:
            reason = EQUIVALENT.get(name, {}).get((line, operator))
            if any(start <= (line, column) < end for start, end in spans):
                reason = "a type annotation: never evaluated (from __future__ import annotations)"
            worker, outcome = (worker or "").lower() or None, (outcome or "").lower()
            if worker is None:
                tally.pending += 1
            elif outcome == "incompetent" or worker == "exception":
                tally.incompetent += 1
            elif outcome == "killed" or worker == "abnormal":
                tally.killed += 1
            elif reason is not None:
                tally.equivalent += 1
            else:
                tally.survived += 1
                survivors.append(f"--- {name}:{line} {operator}\n{diff}")
        total = len(rows)
        print(f"{name:<16}{total:>8}{tally.killed:>8}{tally.survived:>9}{tally.equivalent:>8}"
              f"{tally.pending:>9}{tally.score:>7.1f}%")  # fmt: skip
    if survivors:
        print("\nSurviving mutants:")
        print("\n".join(survivors))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("modules", nargs="*", help=f"among {', '.join(TARGETS)}")
    parser.add_argument("--report", action="store_true", help="report only, run nothing")
    parser.add_argument("--list", action="store_true", help="the modules and their tests")
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
            run(name)
    return report(names)


if __name__ == "__main__":
    sys.exit(main())
