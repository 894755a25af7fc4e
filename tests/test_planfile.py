"""Saved plan files: `apply FILE` refuses anything that is not one, with a clear error."""

from __future__ import annotations

from pathlib import Path

import pytest

from octoplan.errors import OctoplanError
from octoplan.planfile import load

HEAD = b'{"format_version": "1", "created_at": "2026-12-02T10:00:00+00:00", "digest": "d", '


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"\x00\xff" * 100, "it is not UTF-8 text"),
        (b"", "not JSON (line 1, column 1: Expecting value)"),
        (b"[" * 100_000 + b"]" * 100_000, "its JSON nests too deeply"),
        (b"[1, 2]", "it holds no JSON object"),
        (b'{"format_version": "1"}', "created_at is missing (and 3 more problems)"),
        (HEAD + b'"campaigns": []}', "state is missing"),
        (
            HEAD + b'"campaigns": [], "state": {"lineage": "x", "serial": "ten"}}',
            "state.serial: input should be a valid integer, unable to parse string as an integer",
        ),
        (
            HEAD + b'"state": {"lineage": "x", "serial": 1}, "campaigns": [{"id": "a"}]}',
            "campaigns[0].file is missing (and 3 more problems)",
        ),
    ],
    ids=["binary", "empty", "deep", "list", "no-date", "no-state", "bad-serial", "bad-campaign"],
)
def test_what_is_not_a_plan_file_is_refused(tmp_path: Path, data: bytes, why: str) -> None:
    (tmp_path / "plan.json").write_bytes(data)
    with pytest.raises(OctoplanError) as caught:
        load(tmp_path / "plan.json")
    assert str(caught.value) == (
        f"{tmp_path / 'plan.json'}: not a plan file written by `octoplan plan -o`: {why}"
    )


def test_a_plan_file_of_another_version_is_refused(tmp_path: Path) -> None:
    (tmp_path / "plan.json").write_text('{"format_version": "9"}')
    with pytest.raises(OctoplanError) as caught:
        load(tmp_path / "plan.json")
    assert str(caught.value) == (
        f"{tmp_path / 'plan.json'}: plan format version '9' is not supported (this octoplan "
        f"reads '1'); run `octoplan plan -o {tmp_path / 'plan.json'}` again"
    )


def test_a_directory_or_a_name_the_system_refuses_is_not_read_as_a_plan(tmp_path: Path) -> None:
    (tmp_path / "plans").mkdir()
    with pytest.raises(OctoplanError) as caught:
        load(tmp_path / "plans")
    assert str(caught.value) == (
        f"{tmp_path / 'plans'}: not a plan file written by `octoplan plan -o`: it is a directory"
    )
    too_long = tmp_path / ("p" * 300 + ".json")  # over NAME_MAX (255)
    with pytest.raises(OctoplanError) as caught:
        load(too_long)
    assert str(caught.value) == f"{too_long}: cannot read: File name too long"
