"""Commands run outside any project say so, exit 1 and create nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.project import run_cli


@pytest.mark.parametrize("command", [["validate"], ["plan"], ["apply", "--sandbox"]])
def test_outside_a_project_commands_refuse_and_create_nothing(
    tmp_path: Path, command: list[str]
) -> None:
    result = run_cli(*command, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"error: {tmp_path} is not an octoplan project: no octoplan.yaml here or above, and "
        "no campaigns/ folder\n"
        "  hint: run `octoplan init` to start a project here, or `octoplan -C DIR ...` to use "
        "the project in DIR\n"
    )
    assert list(tmp_path.iterdir()) == []


def test_a_campaigns_folder_without_config_is_a_project(tmp_path: Path) -> None:
    (tmp_path / "campaigns").mkdir()
    (tmp_path / "campaigns" / "a.yaml").write_text(
        'channel: sms\npurpose: alert\ntext: "Hi"\nrecipients: [{phone_number: "0612345678"}]\n'
    )
    result = run_cli("validate", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "1 campaign valid\n"


def test_a_subdirectory_of_a_project_finds_it(tmp_path: Path) -> None:
    assert run_cli("init", cwd=tmp_path).returncode == 0
    result = run_cli("validate", cwd=tmp_path / "templates")
    assert result.returncode == 0, result.stderr


def test_the_example_newsletter_carries_no_send_at_that_can_go_stale() -> None:
    from ruamel.yaml import YAML

    newsletter = Path(__file__).resolve().parent.parent / "campaigns" / "newsletter.yaml"
    assert "send_at" not in YAML(typ="safe").load(newsletter.read_text(encoding="utf-8"))
