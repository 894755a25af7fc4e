"""The CI examples load as YAML and use only octoplan flags that exist (parsed by the real CLI)."""

from __future__ import annotations

import re
import shlex
import warnings
from pathlib import Path
from typing import Any

import click
import pytest
from ruamel.yaml import YAML

from octoplan.cli import cli

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "ci"


def scripts(node: Any) -> list[str]:
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("run", "script") and isinstance(value, str):
                found.append(value)
            elif key == "script" and isinstance(value, list):
                found.extend(str(v) for v in value)
            else:
                found.extend(scripts(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(scripts(item))
    return found


def octoplan_commands(text: str) -> list[list[str]]:
    text = text.replace("\\\n", " ")
    # CI expressions and variables become plain words for parsing.
    text = re.sub(r"\$\{\{[^}]*\}\}", "X", text)
    commands = []
    for line in text.splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        words: list[str] = []
        for token in [*lexer, ";"]:
            if token and set(token) <= set("|&;<>()"):
                if words[:1] == ["octoplan"]:
                    commands.append(words[1:])
                words = []
            else:
                words.append(token)
    return commands


def _rest(ctx: click.Context) -> list[str]:
    # click 8 keeps a group's subcommand in protected_args (deprecated, merged in click 9).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return [*getattr(ctx, "protected_args", []), *ctx.args]


def parse(args: list[str]) -> None:
    """Parse like the real CLI would, without running anything."""
    ctx = cli.make_context("octoplan", list(args), resilient_parsing=False)
    group: click.Group = cli
    rest = _rest(ctx)
    while rest:
        name, rest = rest[0], rest[1:]
        command = group.get_command(ctx, name)
        assert command is not None, f"unknown command {name!r} in {args}"
        ctx = command.make_context(name, list(rest), parent=ctx)
        if not isinstance(command, click.Group):
            return
        group = command
        rest = _rest(ctx)


@pytest.mark.parametrize("name", ["github-actions.yml", "gitlab-ci.yml"])
def test_ci_example_loads_and_uses_real_flags(name: str) -> None:
    data = YAML(typ="safe").load((EXAMPLES / name).read_text(encoding="utf-8"))
    commands = [c for s in scripts(data) for c in octoplan_commands(s)]
    assert len(commands) >= 3
    for args in commands:
        parse(args)


def test_github_workflow_plans_on_prs_applies_on_main_without_races() -> None:
    data = YAML(typ="safe").load((EXAMPLES / "github-actions.yml").read_text(encoding="utf-8"))
    assert set(data[True] if True in data else data["on"]) == {"pull_request", "push"}
    assert data["concurrency"]["cancel-in-progress"] is False
    assert data["env"]["OCTOPLAN_STATE"] == "${{ secrets.OCTOPLAN_STATE }}"
    apply_steps = " ".join(scripts(data["jobs"]["apply"]))
    assert "octoplan apply plan.json" in apply_steps
    assert "--detailed-exitcode" in " ".join(scripts(data["jobs"]["plan"]))


def test_parse_rejects_an_undocumented_flag() -> None:
    with pytest.raises(click.UsageError):
        parse(["plan", "--no-such-flag"])


def test_pre_commit_hooks_name_real_commands() -> None:
    hooks = YAML(typ="safe").load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert [h["id"] for h in hooks] == ["octoplan-validate", "octoplan-fmt"]
    for hook in hooks:
        words = shlex.split(hook["entry"])
        assert words[0] == "octoplan"
        parse(words[1:])
