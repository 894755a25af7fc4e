from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from ruamel.yaml import YAML

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


def test_init_refuses_an_existing_project_and_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "octoplan.yaml").write_text("region: BE\n")
    result = run_cli("init", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"error: {tmp_path} is already an octoplan project: init writes nothing there\n"
        "  hint: init never overwrites or brings back a file. To refresh the editors' JSON "
        "Schemas after an upgrade: octoplan init --schemas\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["octoplan.yaml"]
    assert (tmp_path / "octoplan.yaml").read_text() == "region: BE\n"


def test_a_second_init_never_brings_back_a_deleted_campaign(tmp_path: Path) -> None:
    assert run_cli("init", cwd=tmp_path).returncode == 0
    (tmp_path / "campaigns" / "welcome.yaml").unlink()
    again = run_cli("init", cwd=tmp_path)
    assert again.returncode == 1
    assert "is already an octoplan project: init writes nothing there" in again.stderr
    assert list((tmp_path / "campaigns").iterdir()) == []
    # Nor from inside the project (a nested scaffold would be loaded as campaigns).
    inside = run_cli("init", cwd=tmp_path / "campaigns")
    assert inside.returncode == 1
    assert inside.stderr.startswith(
        f"error: {tmp_path / 'campaigns'} is inside the octoplan project at {tmp_path}: "
        "init writes nothing there\n"
    )
    assert list((tmp_path / "campaigns").iterdir()) == []


def test_a_campaigns_folder_alone_is_a_project_too(tmp_path: Path) -> None:
    (tmp_path / "campaigns").mkdir()
    result = run_cli("init", cwd=tmp_path)
    assert result.returncode == 1
    assert not (tmp_path / "octoplan.yaml").exists()


def test_init_keeps_the_files_of_a_directory_that_is_no_project_yet(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("node_modules/\n")
    result = run_cli("init", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "kept    .gitignore (already there)" in result.stdout
    assert (tmp_path / ".gitignore").read_text() == "node_modules/\n"


def test_init_schemas_rewrites_only_the_schemas_of_an_existing_project(tmp_path: Path) -> None:
    assert run_cli("init", cwd=tmp_path).returncode == 0
    (tmp_path / "campaigns" / "welcome.yaml").unlink()
    (tmp_path / "campaign.schema.json").write_text("{}")
    result = run_cli("init", "--schemas", cwd=tmp_path / "templates")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "wrote   campaign.schema.json\nwrote   octoplan.schema.json\n"
    schema = run_cli("schema", cwd=tmp_path).stdout
    assert (tmp_path / "campaign.schema.json").read_text(encoding="utf-8") == schema
    assert list((tmp_path / "campaigns").iterdir()) == []
    elsewhere = run_cli("init", "--schemas", cwd=tmp_path.parent)
    assert elsewhere.returncode == 1
    assert elsewhere.stderr == (
        f"error: {tmp_path.parent} is not an octoplan project; `octoplan init` creates one, "
        "schemas included\n"
    )


def modeline_target(file: Path) -> Path:
    first = file.read_text(encoding="utf-8").splitlines()[0]
    match = re.fullmatch(r"# yaml-language-server: \$schema=(\S+)", first)
    assert match, first
    return (file.parent / match.group(1)).resolve()


@pytest.mark.parametrize(
    ("file", "kind"), [("campaigns/welcome.yaml", "campaign"), ("octoplan.yaml", "config")]
)
def test_init_wires_the_schema_for_editors(tmp_path: Path, file: str, kind: str) -> None:
    assert run_cli("init", cwd=tmp_path).returncode == 0
    # The modeline names a file written by init, which is `octoplan schema --kind KIND`.
    schema_file = modeline_target(tmp_path / file)
    assert schema_file.parent == tmp_path.resolve()
    printed = run_cli("schema", "--kind", kind, cwd=tmp_path)
    assert schema_file.read_text(encoding="utf-8") == printed.stdout
    # ...and the scaffolded file is valid against it, as an editor would check it.
    schema = json.loads(printed.stdout)
    document = YAML(typ="safe").load((tmp_path / file).read_text(encoding="utf-8"))
    assert list(Draft202012Validator(schema).iter_errors(document)) == []
