"""The coverage gate's two targets (tests/fixtures/coverage_gate.py): each figure judged on its
own, floored as coverage floors fail_under, and read from pyproject.toml."""

from __future__ import annotations

from pathlib import Path

from tests.fixtures import coverage_gate
from tests.fixtures.coverage_gate import Targets, Totals

TARGETS = Targets(lines=97, branches=93)
SOURCE = "target {}% ([tool.octoplan.coverage] in pyproject.toml)"


def test_both_figures_at_their_targets_pass_and_are_shown() -> None:
    lines = coverage_gate.verdict(Totals(9_700, 10_000, 930, 1_000), TARGETS)
    assert lines == [
        f"Coverage of lines: 97.00% (9,700 of 10,000), {SOURCE.format(97)}",
        f"Coverage of branches: 93.00% (930 of 1,000), {SOURCE.format(93)}",
    ]
    assert not coverage_gate.failed(lines)


def test_branches_under_their_target_fail_however_high_the_lines_are() -> None:
    # 99.99% of lines with 92.99% of branches: coverage's combined total would pass 95.
    lines = coverage_gate.verdict(Totals(9_999, 10_000, 9_299, 10_000), TARGETS)
    assert lines == [
        f"Coverage of lines: 99.99% (9,999 of 10,000), {SOURCE.format(97)}",
        f"FAIL Coverage of branches: 92.99% (9,299 of 10,000), {SOURCE.format(93)}",
    ]
    assert coverage_gate.failed(lines)


def test_a_figure_just_under_its_target_is_not_rounded_up_to_it() -> None:
    # 96.999% would print as 97.00% rounded: it is floored, and fails.
    lines = coverage_gate.verdict(Totals(96_999, 100_000, 93, 100), TARGETS)
    assert lines[0] == f"FAIL Coverage of lines: 96.99% (96,999 of 100,000), {SOURCE.format(97)}"
    assert coverage_gate.failed(lines)


def test_the_targets_are_read_from_pyproject(tmp_path: Path) -> None:
    assert coverage_gate.targets() == Targets(lines=97, branches=93)
    other = tmp_path / "pyproject.toml"
    other.write_text("[tool.octoplan.coverage]\nlines = 96.5\nbranches = 90\n")
    assert coverage_gate.targets(other) == Targets(lines=96.5, branches=90)
