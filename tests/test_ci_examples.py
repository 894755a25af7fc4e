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
from octoplan.markdown import MARKER

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


def parse(args: list[str]) -> list[click.Option]:
    """Parse like the real CLI would, without running anything; the options given."""
    ctx = cli.make_context("octoplan", list(args), resilient_parsing=False)
    group: click.Group = cli
    rest = _rest(ctx)
    used = _options(cli, args[: len(args) - len(rest)])
    while rest:
        name, rest = rest[0], rest[1:]
        command = group.get_command(ctx, name)
        assert command is not None, f"unknown command {name!r} in {args}"
        ctx = command.make_context(name, list(rest), parent=ctx)
        if not isinstance(command, click.Group):
            return used + _options(command, rest)
        group = command
        given = rest
        rest = _rest(ctx)
        used += _options(command, given[: len(given) - len(rest)])
    return used


def _options(command: click.Command, args: list[str]) -> list[click.Option]:
    names = {arg.split("=", 1)[0] for arg in args if arg.startswith("-")}
    return [
        p
        for p in command.params
        if isinstance(p, click.Option) and names & {*p.opts, *p.secondary_opts}
    ]


def commands_of(name: str) -> list[list[str]]:
    data = YAML(typ="safe").load((EXAMPLES / name).read_text(encoding="utf-8"))
    return [c for s in scripts(data) for c in octoplan_commands(s)]


@pytest.mark.parametrize("name", ["github-actions.yml", "gitlab-ci.yml"])
def test_ci_example_loads_and_uses_only_documented_flags(name: str) -> None:
    commands = commands_of(name)
    assert len(commands) >= 4
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for args in commands:
        for option in parse(args):  # parse fails on a flag the command does not have
            assert not option.hidden, (args, option.opts)
            assert option.help, (args, option.opts)  # shown in --help
            assert any(re.search(rf"`[^`]*{re.escape(o)}\b", readme) for o in option.opts), (
                f"{option.opts} is not in README.md"
            )


def test_the_flags_of_the_examples_are_found() -> None:
    # The check above is only as good as its parsing: the plan and apply commands are seen whole.
    found = {
        (args[0], opt)
        for args in commands_of("github-actions.yml")
        for o in parse(args)
        for opt in o.opts[-1:]
    }
    assert found == {
        ("plan", "--detailed-exitcode"),
        ("plan", "--format"),
        ("plan", "--changed-since"),
        ("plan", "--out"),
        ("apply", "--lock-timeout"),
        ("status", "--format"),
    }


def test_github_workflow_plans_on_prs_applies_on_main_without_races() -> None:
    data = YAML(typ="safe").load((EXAMPLES / "github-actions.yml").read_text(encoding="utf-8"))
    assert set(data[True] if True in data else data["on"]) == {"pull_request", "push"}
    assert data["concurrency"]["cancel-in-progress"] is False
    assert data["concurrency"]["group"] == "octoplan-${{ github.ref }}"  # main: one at a time
    assert data["env"] == {"OCTOPLAN_STATE": "${{ secrets.OCTOPLAN_STATE }}"}
    plan, apply = data["jobs"]["plan"], data["jobs"]["apply"]
    assert plan["if"] == "github.event_name == 'pull_request'"
    assert apply["if"] == "github.event_name == 'push' && github.ref == 'refs/heads/main'"
    # Credentials only where messages are sent, from the secret store.
    assert "OCTOPUSH_API_KEY" not in str(plan)
    assert apply["env"]["OCTOPUSH_API_KEY"] == "${{ secrets.OCTOPUSH_API_KEY }}"
    apply_steps = " ".join(scripts(apply))
    assert "octoplan apply plan.json" in apply_steps
    steps = {step.get("name"): step for step in plan["steps"]}
    assert "--detailed-exitcode" in steps["Plan"]["run"]
    # One comment, found again by the marker the Markdown output starts with.
    assert (
        f"const marker = '{MARKER}';" in steps["Post or update the plan comment"]["with"]["script"]
    )
    assert steps["Fail on plan errors"]["run"] == "exit 1"


def test_gitlab_plan_keeps_octoplan_exit_code() -> None:
    data = YAML(typ="safe").load((EXAMPLES / "gitlab-ci.yml").read_text(encoding="utf-8"))
    for line in scripts(data):
        if line.startswith("octoplan "):
            assert "|" not in line, line  # a pipe would report tee's exit code
    assert data["apply"]["resource_group"] == "octoplan-apply"


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
