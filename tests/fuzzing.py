"""What every fuzz suite checks: a failure is ours, and it says where.

Library functions fed random input must either succeed or fail with ValidationFailed (or return
Diagnostics), each printed `path:line:col: error: message` (line and column when the input has
them). Any other exception escapes to the user as "internal error": a bug.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

from hypothesis import HealthCheck, settings

from octoplan.errors import Diagnostic

# Fuzz suites run in CI: a fixed seed keeps them reproducible, and 100 examples per test keep
# the whole of tests/test_fuzz_*.py around half a minute. For a long, random hunt:
#     OCTOPLAN_FUZZ_EXAMPLES=5000 .venv/bin/python -m pytest tests/test_fuzz_*.py
_HUNT = int(os.environ.get("OCTOPLAN_FUZZ_EXAMPLES", "0"))
FUZZ = settings(
    max_examples=_HUNT or 100,
    deadline=None,
    derandomize=not _HUNT,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def check_diagnostics(diagnostics: Iterable[Diagnostic], paths: set[str]) -> None:
    """Each diagnostic names one of `paths` and prints like a compiler's."""
    for diagnostic in diagnostics:
        assert diagnostic.path in paths, diagnostic
        assert diagnostic.message and "Traceback" not in diagnostic.message, diagnostic
        pattern = rf"{re.escape(diagnostic.path)}(:\d+(:\d+)?)?: (error|warning): \S"
        assert re.match(pattern, diagnostic.format()), diagnostic.format()
