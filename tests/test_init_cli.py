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


def test_init_never_overwrites(tmp_path: Path) -> None:
    (tmp_path / "octoplan.yaml").write_text("region: BE\n")
    result = run_cli("init", cwd=tmp_path)
    assert result.returncode == 0
    assert "kept    octoplan.yaml (already there)" in result.stdout
    assert (tmp_path / "octoplan.yaml").read_text() == "region: BE\n"


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
