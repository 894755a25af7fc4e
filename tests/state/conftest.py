from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from octoplan.state.base import StateStore
from octoplan.state.open import open_state


@pytest.fixture
def store(state_url: str, tmp_path: Path) -> Iterator[StateStore]:
    opened = open_state(state_url, tmp_path)
    yield opened
    opened.close()
