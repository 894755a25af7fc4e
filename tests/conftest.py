from __future__ import annotations

pytest_plugins = [
    "tests.fixtures.project",
    "tests.fixtures.sandbox",
    "tests.fixtures.postgres",
    "tests.fixtures.hostile",
]
