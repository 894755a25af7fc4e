"""A pytest plugin for bench/mutation.py: every Python process a test starts (the CLI, a
sandbox, a receiver) records that test as its coverage context, and each test's duration is
kept, so that a mutant runs only the tests that run its line, fastest first.

    python -m pytest -p bench.covcontext --cov --cov-context=test ...

In the pytest process, pytest-cov's `--cov-context=test` names each test. A subprocess is
measured from the configuration coverage hands it in COVERAGE_PROCESS_CONFIG (pyproject's
`patch = ["subprocess"]`), serialized once when coverage starts: a `${VAR}` in the
configuration would be expanded then, once, not per test. So the fixture below rewrites that
configuration per test with the test's node id as the static `context`, and puts it back after.
Without this plugin nothing changes: the variable is coverage's own, as before.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from coverage.config import CoverageConfig

_DURATIONS = "MUTATION_BENCH_DURATIONS"  # where to write {node id: seconds}, if set
_durations: dict[str, float] = {}


@pytest.fixture(autouse=True)
def _subprocess_context(request: pytest.FixtureRequest) -> Iterator[None]:
    saved = os.environ.get("COVERAGE_PROCESS_CONFIG")
    if saved is None:  # no --cov: nothing measured, nothing to name
        yield
        return
    config = CoverageConfig.deserialize(saved)
    config.context = request.node.nodeid
    os.environ["COVERAGE_PROCESS_CONFIG"] = config.serialize()
    try:
        yield
    finally:
        os.environ["COVERAGE_PROCESS_CONFIG"] = saved


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    # Setup, call and teardown together: what running the test alone costs.
    _durations[report.nodeid] = _durations.get(report.nodeid, 0.0) + report.duration


def pytest_sessionfinish(session: pytest.Session) -> None:
    path = os.environ.get(_DURATIONS)
    if path and not hasattr(session.config, "workerinput"):  # xdist's controller sees them all
        Path(path).write_text(json.dumps(_durations, indent=0, sort_keys=True), encoding="utf-8")
