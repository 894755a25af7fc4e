"""The command line as a whole: --version, exit codes of usage errors, shell completion, and
what reaches a terminal (colours, progress) with and without NO_COLOR. The real CLI, run as a
user would run it; terminals are real pseudo-terminals."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import click
import pytest

import octoplan
from octoplan.cli import cli
from tests.fixtures.project import REPO, run_cli, run_on_terminal

ESCAPE = "\x1b"
PROGRESS_LINE = "1/1 requests: 1 sent (2/2 messages sent)"


def test_version_prints_the_installed_version(tmp_path: Path) -> None:
    # A real `python -m octoplan`: the entry point itself, which the in-process runner skips.
    result = run_cli("--version", cwd=tmp_path, process=True)
    assert (result.returncode, result.stdout, result.stderr) == (
        0,
        f"octoplan, version {octoplan.__version__}\n",
        "",
    )
    assert octoplan.__version__ == version("octoplan")


def test_help_exits_0(tmp_path: Path) -> None:
    result = run_cli("plan", "--help", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.startswith("Usage: octoplan plan [OPTIONS] [PATHS]...\n")


@pytest.mark.parametrize(
    ("args", "usage", "error"),
    [
        ((), "octoplan [OPTIONS] COMMAND [ARGS]...", None),  # no command: help, exit 1
        (("nope",), "octoplan [OPTIONS] COMMAND [ARGS]...", "nope"),
        (("--nope", "plan"), "octoplan [OPTIONS] COMMAND [ARGS]...", "--nope"),
        (("plan", "--nope"), "octoplan plan [OPTIONS] [PATHS]...", "--nope"),
        (("plan", "--format", "xml"), "octoplan plan [OPTIONS] [PATHS]...", "--format"),
        (("plan", "--changed-since"), None, "--changed-since"),  # click shows no usage here
        (("render",), "octoplan render [OPTIONS] CAMPAIGN", "CAMPAIGN"),
        (("render", "x", "--limit", "-1"), "octoplan render [OPTIONS] CAMPAIGN", "--limit"),
        (("count", "a", "b"), "octoplan count [OPTIONS] [TEXT]", "(b)"),
        (("apply", "--concurrency", "0"), "octoplan apply [OPTIONS] [PLAN_FILE]", "0"),
        (("state", "resolve"), "octoplan state resolve [OPTIONS] REQUEST_ID", "REQUEST_ID"),
        (("state", "nope"), "octoplan state [OPTIONS] COMMAND [ARGS]...", "nope"),
        (
            ("sandbox", "--port", "70000"),
            "octoplan sandbox [OPTIONS] [COMMAND] [ARGS]...",
            "--port",
        ),
        (("schema", "--kind", "x"), "octoplan schema [OPTIONS]", "--kind"),
    ],
)
def test_every_usage_error_exits_1_never_2(
    tmp_path: Path, args: tuple[str, ...], usage: str | None, error: str | None
) -> None:
    result = run_cli(*args, cwd=tmp_path, process=True)  # the exit status a shell sees
    assert result.returncode == 1  # click alone would exit 2: read as "changes" by CI scripts
    output = result.stdout + result.stderr
    if usage is not None:
        assert output.startswith(f"Usage: {usage}\n")
    assert "Traceback" not in output
    if error is not None:  # click's own wording, so only its gist is checked
        last = result.stderr.splitlines()[-1]
        assert last.startswith("Error: ")
        assert error in last


def test_our_usage_errors_exit_1_with_our_message(tmp_path: Path) -> None:
    result = run_cli("-C", "nowhere", "validate", cwd=tmp_path, process=True)
    assert (result.returncode, result.stdout, result.stderr) == (
        1,
        "",
        "error: nowhere: not a directory (given with -C/--project)\n",
    )


# Shell completion: click's, driven by _OCTOPLAN_COMPLETE like the installed scripts do.


def complete(shell: str, words: str, cword: str, cwd: Path) -> list[str]:
    env = {"_OCTOPLAN_COMPLETE": f"{shell}_complete", "COMP_WORDS": words, "COMP_CWORD": cword}
    result = run_cli(cwd=cwd, env=env)
    assert (result.returncode, result.stderr) == (0, "")
    return result.stdout.splitlines()


@pytest.mark.parametrize(
    ("shell", "start"),
    [
        ("bash", "_octoplan_completion() {"),
        ("zsh", "#compdef octoplan"),
        ("fish", "function _octoplan_completion;"),
    ],
)
def test_completion_scripts_for_each_shell(tmp_path: Path, shell: str, start: str) -> None:
    result = run_cli(cwd=tmp_path, env={"_OCTOPLAN_COMPLETE": f"{shell}_source"})
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.lstrip().startswith(start)
    assert "_OCTOPLAN_COMPLETE" in result.stdout


def test_bash_completes_commands_options_and_choices(tmp_path: Path) -> None:
    assert complete("bash", "octoplan pl", "1", tmp_path) == ["plain,plan"]
    assert complete("bash", "octoplan state ", "2", tmp_path) == [
        "plain,list",
        "plain,mv",
        "plain,resolve",
        "plain,rm",
        "plain,show",
        "plain,unlock",
    ]
    assert "plain,--changed-since" in complete("bash", "octoplan plan --", "2", tmp_path)
    assert complete("bash", "octoplan plan --format ", "3", tmp_path) == [
        "plain,text",
        "plain,json",
        "plain,markdown",
    ]


def test_zsh_and_fish_complete_too(tmp_path: Path) -> None:
    # zsh and fish get each command's short help as a description.
    kind, value, description = complete("zsh", "octoplan pl", "1", tmp_path)
    assert (kind, value) == ("plain", "plan")
    assert description.startswith("Show what apply would send")
    # fish passes the word being completed, not its index.
    (line,) = complete("fish", "octoplan pl", "pl", tmp_path)
    assert line.startswith("plain,plan\tShow what apply would send")


def test_the_bash_script_completes_in_a_real_bash(tmp_path: Path) -> None:
    # What `eval "$(_OCTOPLAN_COMPLETE=bash_source octoplan)"` in ~/.bashrc sets up.
    octoplan_bin = tmp_path / "bin" / "octoplan"
    octoplan_bin.parent.mkdir()
    octoplan_bin.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m octoplan "$@"\n')
    octoplan_bin.chmod(0o755)
    setup = 'eval "$(_OCTOPLAN_COMPLETE=bash_source octoplan)"'
    assert setup in (REPO / "README.md").read_text(encoding="utf-8")  # what users are told
    script = (
        setup + "\n"
        "COMP_WORDS=(octoplan plan --for); COMP_CWORD=2\n"
        "_octoplan_completion octoplan\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    env = {**os.environ, "PATH": f"{octoplan_bin.parent}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "--format\n", "")


# What reaches a terminal.


def in_terminal(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, str]:
    """Run the CLI with stdin, stdout and stderr on a pseudo-terminal; (exit code, output)."""
    child_env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OCTOPUSH_", "OCTOPLAN_"))
        and k not in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE")
    }
    child_env.update(TERM="xterm-256color", COLUMNS="100", **env)
    return run_on_terminal(args, cwd, child_env)


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    assert run_cli("init", "shop", cwd=tmp_path).returncode == 0
    return tmp_path / "shop"


def test_a_terminal_gets_a_live_progress_bar_in_colour(shop: Path) -> None:
    # NO_COLOR set but empty does not count (no-color.org): colours stay on.
    code, output = in_terminal(["apply", "--sandbox", "--auto-approve"], shop, {"NO_COLOR": ""})
    assert code == 0, output
    assert re.search("\x1b\\[[0-9;]*m", output)  # colours
    assert "sending" in output
    assert PROGRESS_LINE not in output
    assert "Apply complete: 2 messages sent in 1 request" in output
    assert "  Environment: sandbox, the embedded local sandbox.\n" in output


def test_no_color_means_no_escape_sequence_even_on_a_terminal(shop: Path) -> None:
    code, output = in_terminal(["apply", "--sandbox", "--auto-approve"], shop, {"NO_COLOR": "1"})
    assert code == 0, output
    assert ESCAPE not in output
    # No live bar without escape sequences: progress comes as plain lines.
    assert PROGRESS_LINE in output.splitlines()
    code, output = in_terminal(["plan", "--nope"], shop, {"NO_COLOR": "1"})
    assert code == 1
    assert ESCAPE not in output


def test_output_that_is_not_a_terminal_has_no_escape_sequence(shop: Path) -> None:
    # Real pipes, not the in-process runner's streams.
    result = run_cli(
        "apply", "--sandbox", "--auto-approve", cwd=shop, env={"NO_COLOR": ""}, process=True
    )
    assert result.returncode == 0, result.stderr
    assert ESCAPE not in result.stdout + result.stderr
    assert result.stderr == PROGRESS_LINE + "\n"


def test_every_option_has_a_help_line() -> None:
    def options(command: click.Command, path: str) -> list[tuple[str, click.Option]]:
        found = [(path, p) for p in command.params if isinstance(p, click.Option)]
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                found += options(sub, f"{path} {name}")
        return found

    assert [(path, o.opts) for path, o in options(cli, "octoplan") if not o.help] == []


def test_a_plan_on_a_terminal_is_in_colour_and_nowhere_else(shop: Path) -> None:
    code, output = in_terminal(["plan"], shop, {"NO_COLOR": ""})
    assert code == 0, output
    # The headline's `+ welcome` in bold green, the summary in bold.
    assert "\x1b[1;32m+ welcome\x1b[0m" in output
    assert re.search("\x1b\\[1mPlan: 2 messages to send", output)
    code, output = in_terminal(["plan"], shop, {"NO_COLOR": "1"})
    assert code == 0 and ESCAPE not in output
    assert output.startswith("+ welcome (sms, campaigns/welcome.yaml): create: 2 messages")
    piped = run_cli("plan", cwd=shop, env={"NO_COLOR": ""}, process=True)  # real pipes
    assert ESCAPE not in piped.stdout + piped.stderr


def test_errors_on_a_terminal_are_in_colour(shop: Path) -> None:
    (shop / "campaigns" / "welcome.yaml").write_text("channel: sms\ntxt: hi\n")
    code, output = in_terminal(["validate"], shop, {"NO_COLOR": ""})
    assert code == 1
    assert "\x1b[1mcampaigns/welcome.yaml:2:1\x1b[0m: \x1b[1;31merror\x1b[0m: unknown key" in output
    code, output = in_terminal(["validate"], shop, {"NO_COLOR": "1"})
    assert ESCAPE not in output
    assert output.startswith("campaigns/welcome.yaml:2:1: error: unknown key 'txt'\n")
