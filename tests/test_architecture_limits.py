"""The size and coupling limits of docs/architecture.md hold (`bench/architecture.py --limits`):
no module over 600 lines, no function over 80, no import cycle, channel names as literals in at
most 3 core modules, `os.environ` read in at most 2. A refactor that breaks one fails here, not
in a review months later."""

from __future__ import annotations

import subprocess
import sys

from tests.fixtures.project import REPO


def test_the_architecture_limits_are_met() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "bench" / "architecture.py"), "--limits"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.rstrip().endswith("limits: met"), result.stdout
