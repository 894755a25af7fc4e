from __future__ import annotations

pytest_plugins = [
    "tests.fixtures.project",
    "tests.fixtures.sandbox",
    "tests.fixtures.postgres",
    "tests.fixtures.hostile",
    "tests.fixtures.receiver",
]


import gc  # noqa: E402

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _collector_as_usual() -> object:
    """A plan freezes what it built (octoplan/gcpause.py): fine for a command that ends with
    it, not for a test process that runs a thousand of them."""
    yield
    gc.unfreeze()
