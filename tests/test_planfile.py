"""Saved plan files: `apply FILE` refuses anything that is not one, with a clear error."""

from __future__ import annotations

from pathlib import Path

import pytest

from octoplan.errors import OctoplanError
from octoplan.planfile import load


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"\x00\xff" * 100, "UnicodeDecodeError"),
        (b"", "JSONDecodeError"),
        (b"[" * 100_000 + b"]" * 100_000, "RecursionError"),
        (b"[1, 2]", "TypeError"),
        (b'{"format_version": "1"}', "KeyError"),
        (b'{"format_version": "1", "state": {"lineage": "x", "serial": "ten"}}', "ValueError"),
    ],
    ids=["binary", "empty", "deep", "list", "no-state", "bad-serial"],
)
def test_what_is_not_a_plan_file_is_refused(tmp_path: Path, data: bytes, kind: str) -> None:
    (tmp_path / "plan.json").write_bytes(data)
    with pytest.raises(OctoplanError) as caught:
        load(tmp_path / "plan.json")
    assert str(caught.value) == (
        f"{tmp_path / 'plan.json'}: not a plan file written by `octoplan plan -o` ({kind})"
    )


def test_a_plan_file_of_another_version_is_refused(tmp_path: Path) -> None:
    (tmp_path / "plan.json").write_text('{"format_version": "9"}')
    with pytest.raises(OctoplanError) as caught:
        load(tmp_path / "plan.json")
    assert str(caught.value) == (
        f"{tmp_path / 'plan.json'}: plan format version '9' is not supported (this octoplan "
        f"reads '1'); run `octoplan plan -o {tmp_path / 'plan.json'}` again"
    )
