"""`octoplan schema`: a JSON Schema that editors can use and that accepts the example project."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from octoplan.yamlsource import read_yaml
from tests.fixtures.project import REPO, run_cli

EXAMPLES = sorted((REPO / "campaigns").rglob("*.yaml"))


def schema_of(kind: str, cwd: Path) -> dict[str, Any]:
    result = run_cli("schema", "--kind", kind, cwd=cwd)
    assert (result.returncode, result.stderr) == (0, "")
    schema: dict[str, Any] = json.loads(result.stdout)
    Draft202012Validator.check_schema(schema)
    return schema


@pytest.fixture(scope="module")
def campaign_schema(tmp_path_factory: pytest.TempPathFactory) -> Draft202012Validator:
    return Draft202012Validator(schema_of("campaign", tmp_path_factory.mktemp("schema")))


def test_schema_header(tmp_path: Path) -> None:
    schema = schema_of("campaign", tmp_path)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == "https://octoplan.dev/schema/campaign.json"
    assert schema["title"] == "octoplan campaign file"
    assert schema["required"] == ["channel"]
    assert schema["additionalProperties"] is False


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_the_example_campaigns_validate(campaign_schema: Draft202012Validator, path: Path) -> None:
    data = read_yaml(path, path.name).data
    assert list(campaign_schema.iter_errors(data)) == []


def test_there_are_examples_for_every_channel() -> None:
    channels = {read_yaml(p, p.name).data["channel"] for p in EXAMPLES}
    assert channels == {"sms", "voice_sms", "rcs", "email", "live_chat"}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"channel": "sms", "sendr": "x"}, "Additional properties are not allowed ('sendr' was"),
        ({"channel": "smss"}, "'smss' is not one of ['sms', 'voice_sms', 'rcs', 'email'"),
        ({"text": "x"}, "'channel' is a required property"),
        ({"channel": "sms", "batch_size": 501}, "501 is greater than the maximum of 500"),
        ({"channel": "sms", "metadata": {"voice_language": "fr-CA"}}, "'fr-CA' is not valid"),
    ],
)
def test_the_schema_catches_mistakes(
    campaign_schema: Draft202012Validator, data: dict[str, Any], message: str
) -> None:
    messages = [e.message for e in campaign_schema.iter_errors(data)]
    assert any(m.startswith(message) for m in messages), messages


def test_config_schema_accepts_the_example_config(tmp_path: Path) -> None:
    schema = schema_of("config", tmp_path)
    assert schema["$id"] == "https://octoplan.dev/schema/config.json"
    validator = Draft202012Validator(schema)
    config = read_yaml(REPO / "octoplan.yaml", "octoplan.yaml").data
    assert list(validator.iter_errors(config)) == []
    bad = {**config, "defaults": {"sendr": "x"}}
    assert [e.message for e in validator.iter_errors(bad)] == [
        "Additional properties are not allowed ('sendr' was unexpected)"
    ]
