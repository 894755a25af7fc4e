from __future__ import annotations

from pathlib import Path

from tests.fixtures.project import run_cli


def test_init_scaffolds_a_project_that_validates_and_plans(tmp_path: Path) -> None:
    result = run_cli("init", "shop", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    root = tmp_path / "shop"
    assert (root / ".gitignore").read_text() == ".octoplan/\n"
    assert "created campaigns/welcome.yaml" in result.stdout
    validate = run_cli("validate", cwd=root)
    assert validate.returncode == 0, validate.stdout + validate.stderr
    assert validate.stdout.startswith("1 campaign valid")
    plan = run_cli("plan", "--sandbox", cwd=root)
    assert plan.returncode == 0, plan.stderr
    assert "+ welcome (sms, campaigns/welcome.yaml): create: 2 messages" in plan.stdout


def test_init_never_overwrites(tmp_path: Path) -> None:
    (tmp_path / "octoplan.yaml").write_text("region: BE\n")
    result = run_cli("init", cwd=tmp_path)
    assert result.returncode == 0
    assert "kept    octoplan.yaml (already there)" in result.stdout
    assert (tmp_path / "octoplan.yaml").read_text() == "region: BE\n"
