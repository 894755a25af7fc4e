"""Options several commands share: --env/--sandbox and --shard (octoplan/cli.py uses them)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from octoplan.commands.context import AppContext
from octoplan.partition import Partition, parse
from octoplan.target import ENV_VAR, SANDBOX

F = TypeVar("F", bound=Callable[..., Any])


def app_of(ctx: click.Context) -> AppContext:
    app = ctx.find_object(AppContext)
    assert app is not None
    return app


def _env_flag(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value:
        app_of(ctx).choose_env(value, "--env")


def _sandbox_flag(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        app_of(ctx).choose_env(SANDBOX, "--sandbox")


def environment_options(sandbox_help: str) -> Callable[[F], F]:
    """--env NAME and --sandbox (the built-in environment sandbox), on a command."""

    def decorate(command: F) -> F:
        command = click.option(
            "--sandbox", is_flag=True, expose_value=False, callback=_sandbox_flag,
            help=sandbox_help,
        )(command)  # fmt: skip
        return click.option(
            "--env",
            metavar="NAME",
            expose_value=False,
            callback=_env_flag,
            help=f"Environment of octoplan.yaml (else ${ENV_VAR}, else its default).",
        )(command)

    return decorate


def _shard(ctx: click.Context, param: click.Parameter, value: str | None) -> Partition | None:
    # A UsageError, not click's BadParameter: its message is the whole sentence, exit 1.
    return None if value is None else parse(value)


shard_option = click.option(
    "--shard",
    metavar="I/N",
    callback=_shard,
    help="Only the recipients in shard I of N (N runners split a campaign; see README).",
)
