"""The CI examples load as YAML and use only octoplan flags that exist (parsed by the real CLI)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import click
import pytest
from ruamel.yaml import YAML

from octoplan import __version__
from octoplan.cli import cli
from octoplan.commands.context import AppContext
from octoplan.markdown import MARKER

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "ci"


GITLAB_SCRIPTS = ("before_script", "script", "after_script")


def scripts(node: Any) -> list[str]:
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("run", *GITLAB_SCRIPTS) and isinstance(value, str):
                found.append(value)
            elif key in GITLAB_SCRIPTS and isinstance(value, list):
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
        try:
            tokens = [*lexer, ";"]
        except ValueError:  # a line of a quoted program (jq) spanning lines: not a command
            continue
        words: list[str] = []
        for token in tokens:
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
    # The group's own callback does not run: the context object it makes is given (the
    # commands' --env records itself in it).
    ctx = cli.make_context("octoplan", list(args), resilient_parsing=False, obj=AppContext())
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


ALL = ["github-actions.yml", "gitlab-ci.yml", "github-rollouts.yml", "gitlab-rollouts.yml"]


@pytest.mark.parametrize("name", ALL)
def test_ci_example_loads_and_uses_only_documented_flags(name: str) -> None:
    commands = commands_of(name)
    assert len(commands) >= 3  # validate, plan, apply
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
    for name in ("github-actions.yml", "gitlab-ci.yml"):
        found = {
            (args[0], opt) for args in commands_of(name) for o in parse(args) for opt in o.opts[-1:]
        }
        expected = {
            ("plan", "--format"),
            ("plan", "--out"),
            ("apply", "--format"),
            ("apply", "--lock-timeout"),
            ("status", "--format"),
        }
        if name == "github-actions.yml":
            expected.add(("plan", "--detailed-exitcode"))
        assert {f for f in found if f[0] in ("plan", "apply", "status")} == expected, name


def test_both_platforms_plan_and_apply_the_same_way() -> None:
    def sends(name: str) -> list[list[str]]:
        return [c for c in commands_of(name) if c[0] in ("plan", "apply")]

    github = sends("github-actions.yml")
    assert github == [
        ["plan", "--detailed-exitcode", "--format", "markdown", "-o", "plan.json"],
        ["apply", "reviewed/plan.json", "--format", "json", "--lock-timeout", "600"],
    ]
    assert sends("gitlab-ci.yml") == [
        [w for w in github[0] if w != "--detailed-exitcode"],  # GitLab would fail the job on 2
        github[1],
    ]


def load(name: str) -> Any:
    return YAML(typ="safe").load((EXAMPLES / name).read_text(encoding="utf-8"))


def test_github_workflow_plans_on_prs_applies_the_reviewed_plan_on_main() -> None:
    data = load("github-actions.yml")
    assert set(data[True] if True in data else data["on"]) == {
        "pull_request",
        "push",
        "workflow_dispatch",
    }
    # Least privilege: nothing for the workflow, each job its own few scopes.
    assert data["permissions"] == {}
    assert data["env"]["OCTOPLAN_STATE"] == "${{ secrets.OCTOPLAN_STATE }}"
    plan, apply = data["jobs"]["plan"], data["jobs"]["apply"]
    assert plan["permissions"] == {"contents": "read", "pull-requests": "write"}
    assert apply["permissions"] == {"contents": "read", "actions": "read", "pull-requests": "write"}
    assert plan["if"] == "github.event_name != 'push'"
    assert "github.ref == 'refs/heads/main'" in apply["if"]
    # One apply at a time, never cancelled midway; a newer push cancels an obsolete plan.
    assert apply["concurrency"] == {"group": "octoplan-apply", "cancel-in-progress": False}
    assert plan["concurrency"]["cancel-in-progress"] is True
    # Credentials only where messages are sent, from the secret store.
    assert "OCTOPUSH_API_KEY" not in str(plan)
    assert apply["env"]["OCTOPUSH_API_KEY"] == "${{ secrets.OCTOPUSH_API_KEY }}"
    steps = {step.get("name"): step for step in plan["steps"]}
    assert "-o plan.json" in steps["Plan"]["run"]
    assert steps["Save the reviewed plan"]["with"]["path"] == "plan.json"
    # One comment, found again by the marker the Markdown output starts with.
    assert (
        f"const marker = '{MARKER}';" in steps["Post or update the plan comment"]["with"]["script"]
    )
    assert steps["Fail on plan errors"]["run"] == "exit 1"
    applying = {step.get("name"): step for step in apply["steps"]}
    assert '-n "octoplan-plan-$pr"' in applying["Fetch the reviewed plan"]["run"]
    assert "octoplan plan" not in " ".join(scripts(apply))  # never a new, unreviewed plan
    assert applying["Post the outcome to the pull request"]["if"] == (
        "always() && steps.reviewed.outputs.pr != ''"
    )


def test_gitlab_applies_the_merge_request_plan_one_at_a_time() -> None:
    data = load("gitlab-ci.yml")
    for line in scripts(data):
        if line.startswith("octoplan "):
            assert "|" not in line, line  # a pipe would report tee's exit code
    apply = data["apply"]
    assert apply["resource_group"] == "octoplan-apply"
    assert apply["interruptible"] is False
    assert "plan.json" in data["plan"]["artifacts"]["paths"]
    assert "octoplan plan" not in " ".join(scripts(apply))  # never a new, unreviewed plan
    assert apply["needs"] == [{"job": "plan", "artifacts": True, "optional": True}]
    assert "/notes" in apply["after_script"][0]  # the outcome, on the merge request


def jobs(name: str) -> dict[str, Any]:
    data = load(name)
    if name.startswith("github"):
        return dict(data["jobs"])
    return {k: v for k, v in data.items() if isinstance(v, dict) and "script" in v}


@pytest.mark.parametrize("name", ALL)
def test_every_job_has_a_timeout(name: str) -> None:
    key = "timeout-minutes" if name.startswith("github") else "timeout"
    found = jobs(name)
    assert len(found) >= 2
    assert [job for job, spec in found.items() if key not in spec] == []


@pytest.mark.parametrize(("name", "least"), [("github-actions.yml", 6), ("github-rollouts.yml", 4)])
def test_every_action_is_pinned_by_commit_with_its_version(name: str, least: int) -> None:
    text = (EXAMPLES / name).read_text(encoding="utf-8")
    uses = re.findall(r"^\s*(?:- )?uses: (.*)$", text, re.M)
    assert len(uses) >= least
    for line in uses:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}  # v\d+\.\d+\.\d+", line), line


# (gitlab-rollouts.yml is included by gitlab-ci.yml, whose variables and install it uses.)
@pytest.mark.parametrize("name", ["github-actions.yml", "gitlab-ci.yml", "github-rollouts.yml"])
def test_the_examples_install_this_version_and_say_how_before_it_is_published(name: str) -> None:
    text = (EXAMPLES / name).read_text(encoding="utf-8")
    data = load(name)
    variables = data["env"] if name.startswith("github") else data["variables"]
    assert variables["OCTOPLAN_PACKAGE"] == f"octoplan=={__version__}"
    assert re.search(rf'#   OCTOPLAN_PACKAGE: "octoplan @ git\+https://\S+@v{__version__}"', text)
    wheel = f"octoplan-{__version__}-py3-none-any.whl"
    assert re.search(rf'#   OCTOPLAN_PACKAGE: "octoplan @ https://\S+/{re.escape(wheel)}"', text)
    installs = [s for s in scripts(data) if "pip install" in s]
    assert installs
    assert all(s == 'pip install "$OCTOPLAN_PACKAGE"' for s in installs), installs


SCHEMAS = [
    ("github-actions.yml", "vendor.github-workflows"),
    ("github-actions.yml", "custom.github-workflows-require-timeout"),
    ("gitlab-ci.yml", "vendor.gitlab-ci"),
    ("github-rollouts.yml", "vendor.github-workflows"),
    ("github-rollouts.yml", "custom.github-workflows-require-timeout"),
    ("gitlab-rollouts.yml", "vendor.gitlab-ci"),
]
# Any attempt to reach the network goes to a closed port: the schemas must be the vendored ones.
OFFLINE = {
    **{k: v for k, v in os.environ.items() if "proxy" not in k.lower()},
    **{k: "http://127.0.0.1:9" for k in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")},
}


def check_jsonschema(schema: str, file: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, str(file)],
        capture_output=True,
        text=True,
        env=OFFLINE,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(("name", "schema"), SCHEMAS, ids=[f"{n}-{s}" for n, s in SCHEMAS])
def test_the_examples_pass_their_platforms_own_schemas(name: str, schema: str) -> None:
    result = check_jsonschema(schema, EXAMPLES / name)
    assert (result.returncode, result.stdout) == (0, "ok -- validation done\n"), result.stderr


def test_the_schema_check_fails_on_a_job_without_a_timeout(tmp_path: Path) -> None:
    # The check above can fail: a job without timeout-minutes (like the old example) does.
    text = (EXAMPLES / "github-actions.yml").read_text(encoding="utf-8")
    broken = tmp_path / "workflow.yml"
    broken.write_text(text.replace("    timeout-minutes: 60\n", ""), encoding="utf-8")
    result = check_jsonschema("custom.github-workflows-require-timeout", broken)
    assert result.returncode == 1
    assert "$.jobs.apply: 'timeout-minutes' is a required property" in result.stdout


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


ROLLOUT_APPLY = ["apply", "--env", "production", "--auto-approve", "--lock-timeout", "600"]
SEND_TEST = ["send-test", "$id", "--env", "staging", "--to", "$TEST_PHONE"]


def test_github_rehearses_on_the_pr_and_moves_rollouts_on_a_schedule() -> None:
    data = load("github-rollouts.yml")
    assert set(data[True] if True in data else data["on"]) == {
        "pull_request",
        "schedule",
        "workflow_dispatch",
    }
    assert data["permissions"] == {}
    send, advance = data["jobs"]["send-test"], data["jobs"]["advance-rollouts"]
    # Least privilege: read the code, nothing else; each job only its own credentials.
    assert send["permissions"] == advance["permissions"] == {"contents": "read"}
    assert "secrets.OCTOPUSH_API_KEY" not in str(send) and "STAGING" not in str(advance)
    assert advance["env"]["OCTOPUSH_API_KEY"] == "${{ secrets.OCTOPUSH_API_KEY }}"
    # A rehearsal only when a reviewer asks for it; the schedule never on a pull request.
    assert "github.event.label.name == 'send-test'" in send["if"]
    assert advance["if"] == "github.event_name != 'pull_request'"
    # One apply at a time with the merge's apply, never cancelled midway.
    main_apply = load("github-actions.yml")["jobs"]["apply"]
    assert advance["concurrency"] == main_apply["concurrency"]
    commands = [c for c in commands_of("github-rollouts.yml") if c[0] in ("apply", "send-test")]
    # Rollout campaigns only, one apply each, in the environment; tests to the team only.
    assert commands == [SEND_TEST, [*ROLLOUT_APPLY, "--campaign", "$id"]]


def test_gitlab_rehearses_on_the_mr_and_moves_rollouts_on_a_schedule() -> None:
    data = load("gitlab-rollouts.yml")
    send, advance = data["send-test"], data["advance-rollouts"]
    assert send["when"] == "manual"
    assert send["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'}]
    assert advance["rules"] == [
        {"if": '$CI_PIPELINE_SOURCE == "schedule" && $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH'}
    ]
    assert advance["resource_group"] == load("gitlab-ci.yml")["apply"]["resource_group"]
    assert advance["interruptible"] is False
    commands = [c for c in commands_of("gitlab-rollouts.yml") if c[0] in ("apply", "send-test")]
    assert commands == [SEND_TEST, [*ROLLOUT_APPLY, "--campaign", "$id"]]
