"""The command line: parse, call one function in octoplan.commands, exit with its code.

Exit codes (SPEC section 3): 0 success, 1 any error (usage errors included), 2 only for
`plan --detailed-exitcode` with changes, 130 interrupted (SIGINT), 143 and 129 stopped by
SIGTERM and SIGHUP (octoplan/signals.py). Click's own usage errors exit 2, so `main` runs
click in non-standalone mode and maps every outcome itself.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from octoplan import __version__, signals
from octoplan.cli_options import app_of as _app
from octoplan.cli_options import environment_options, shard_option
from octoplan.commands.context import AppContext
from octoplan.errors import OctoplanError, ValidationFailed
from octoplan.partition import Partition
from octoplan.target import ENV_VAR

FORMATS = click.Choice(["text", "json"])
PLAN_FORMATS = click.Choice(["text", "json", "markdown"])


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "-C",
    "--project",
    "project_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Run as if started in this project directory.",
)
@click.option("--debug", is_flag=True, help="Show tracebacks for internal errors.")
@click.option(
    "-q", "--quiet", is_flag=True, help="Only errors and the result: no notes, warnings, progress."
)
@click.option(
    "-v", "--verbose", count=True, help="Also the state used, timings and one line per request."
)
@click.option(
    "--env",
    "env",
    metavar="NAME",
    help=f"Environment of octoplan.yaml to work on (else ${ENV_VAR}, else its default).",
)
@click.version_option(__version__, prog_name="octoplan")
@click.pass_context
def cli(
    ctx: click.Context,
    project_dir: Path | None,
    debug: bool,
    quiet: bool,
    verbose: int,
    env: str | None,
) -> None:
    """Campaigns-as-code for the Octopush messaging API."""
    ctx.obj = AppContext(project_dir=project_dir, debug=debug, verbosity=-1 if quiet else verbose)
    if env:
        ctx.obj.choose_env(env, "--env")


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--format", "fmt", type=FORMATS, default="text", show_default=True, help="Output format."
)
@environment_options("The built-in sandbox environment (same as --env sandbox).")
@click.pass_context
def validate(ctx: click.Context, paths: tuple[Path, ...], fmt: str) -> int:
    """Load, validate and render every campaign; no network."""
    from octoplan.commands import validate as cmd

    return cmd.run(_app(ctx), list(paths), fmt)


@cli.command()
@click.argument("campaign")
@click.option("--recipient", "-r", help="Only this recipient (number, e-mail or id).")
@click.option("--limit", "-n", type=click.IntRange(min=0), help="At most N recipients.")
@click.option(
    "--format", "fmt", type=FORMATS, default="text", show_default=True, help="Output format."
)
@environment_options("The built-in sandbox environment (same as --env sandbox).")
@click.pass_context
def render(
    ctx: click.Context, campaign: str, recipient: str | None, limit: int | None, fmt: str
) -> int:
    """Show the exact text each recipient of CAMPAIGN will receive."""
    from octoplan.commands import render as cmd

    return cmd.run(_app(ctx), campaign, recipient, limit, fmt)


@cli.command()
@click.argument("text", required=False)
@click.option(
    "--format", "fmt", type=FORMATS, default="text", show_default=True, help="Output format."
)
@click.pass_context
def count(ctx: click.Context, text: str | None, fmt: str) -> int:
    """Encoding, characters and SMS parts of TEXT (or stdin with '-' or no argument)."""
    from octoplan.commands import count as cmd

    return cmd.run(_app(ctx), text, fmt)


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--campaign", "campaigns", multiple=True, help="Only this campaign id (repeatable).")
@click.option(
    "-o",
    "--out",
    "out_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the plan to FILE for a later `apply FILE`.",
)
@click.option(
    "--format",
    "fmt",
    type=PLAN_FORMATS,
    default="text",
    show_default=True,
    help="Output format (markdown: a pull-request comment).",
)
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 2 when there are changes to apply, 0 when none, 1 on error.",
)
@click.option(
    "--changed-since",
    "changed_since",
    metavar="GITREF",
    help="Only campaigns whose inputs changed since this git ref.",
)
@shard_option
@environment_options("Plan for the local sandbox (the built-in environment sandbox).")
@click.pass_context
def plan(
    ctx: click.Context,
    paths: tuple[Path, ...],
    campaigns: tuple[str, ...],
    out_file: Path | None,
    fmt: str,
    detailed_exitcode: bool,
    changed_since: str | None,
    shard: Partition | None,
) -> int:
    """Show what apply would send: per campaign, recipients, parts and cost."""
    from octoplan.commands import plan as cmd

    return cmd.run(
        _app(ctx),
        paths=list(paths),
        campaigns=list(campaigns),
        out_file=out_file,
        fmt=fmt,
        detailed_exitcode=detailed_exitcode,
        changed_since=changed_since,
        partition=shard,
    )


@cli.command()
@click.argument("plan_file", type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=PLAN_FORMATS,
    default="text",
    show_default=True,
    help="Output format (markdown: a pull-request comment).",
)
@environment_options("The built-in sandbox environment (same as --env sandbox).")
@click.pass_context
def show(ctx: click.Context, plan_file: Path, fmt: str) -> int:
    """Print a plan saved with `plan -o FILE` again."""
    from octoplan.commands import show as cmd

    return cmd.run(_app(ctx), plan_file, fmt)


@cli.command()
@click.argument("plan_file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--auto-approve", is_flag=True, help="Do not ask for confirmation.")
@environment_options("Send to the local sandbox (no credentials; the environment sandbox).")
@click.option("--campaign", "campaigns", multiple=True, help="Only this campaign id (repeatable).")
@click.option(
    "--lock-timeout",
    type=click.FloatRange(min=0),
    default=60.0,
    show_default=True,
    help="Seconds to wait for another apply to finish.",
)
@click.option(
    "--concurrency",
    type=click.IntRange(1, 64),
    default=4,
    show_default=True,
    help="Requests in flight at once.",
)
@click.option(
    "--format",
    "fmt",
    type=FORMATS,
    default="text",
    show_default=True,
    help="Output format (json: one report on stdout, errors included, for scripts).",
)
@shard_option
@click.pass_context
def apply(
    ctx: click.Context,
    plan_file: Path | None,
    auto_approve: bool,
    campaigns: tuple[str, ...],
    lock_timeout: float,
    concurrency: int,
    fmt: str,
    shard: Partition | None,
) -> int:
    """Send what the plan says, exactly once."""
    from octoplan.commands import apply as cmd

    return cmd.run(
        _app(ctx),
        plan_file=plan_file,
        auto_approve=auto_approve,
        campaigns=list(campaigns),
        lock_timeout=lock_timeout,
        concurrency=concurrency,
        fmt=fmt,
        partition=shard,
    )


# `state` subcommands work on an environment's own state, the sandbox's with --sandbox.
sandbox_state = environment_options(
    "The local sandbox's own state (what apply --sandbox recorded)."
)


@cli.command("send-test")
@click.argument("campaign")
@click.option(
    "--to",
    "to",
    multiple=True,
    required=True,
    metavar="ADDRESS",
    help="A number or e-mail to send the test to (repeatable).",
)
@click.option(
    "--as",
    "as_recipient",
    metavar="RECIPIENT",
    help="Render the text for this recipient of the campaign (default: its first).",
)
@environment_options("Send the test to the local sandbox (the environment sandbox).")
@click.pass_context
def send_test(
    ctx: click.Context, campaign: str, to: tuple[str, ...], as_recipient: str | None
) -> int:
    """Send CAMPAIGN's text to yourself now, as a test: never a send to its recipients."""
    from octoplan.commands import send_test as cmd

    return cmd.run(_app(ctx), campaign, list(to), as_recipient)


@cli.group()
def state() -> None:
    """Inspect and repair state."""


@state.command("list")
@sandbox_state
@click.option(
    "--format", "fmt", type=FORMATS, default="text", show_default=True, help="Output format."
)
@click.pass_context
def state_list(ctx: click.Context, fmt: str) -> int:
    """Campaigns recorded in state, with their counts."""
    from octoplan.commands import state as cmd

    return cmd.run_list(_app(ctx), fmt)


@state.command("show")
@sandbox_state
@click.argument("campaign_id")
@click.option(
    "--format", "fmt", type=FORMATS, default="text", show_default=True, help="Output format."
)
@click.pass_context
def state_show(ctx: click.Context, campaign_id: str, fmt: str) -> int:
    """Batches and recipients of one campaign (numbers masked)."""
    from octoplan.commands import state as cmd

    return cmd.run_show(_app(ctx), campaign_id, fmt)


@state.command("unlock")
@sandbox_state
@click.option("--force", is_flag=True, help="Remove the lock even if its holder looks alive.")
@click.pass_context
def state_unlock(ctx: click.Context, force: bool) -> int:
    """Remove a lock left behind (the removal is recorded in state)."""
    from octoplan.commands import state as cmd

    return cmd.run_unlock(_app(ctx), force)


@state.command("resolve")
@sandbox_state
@click.argument("request_id")
@click.option("--sent", "outcome", flag_value="sent", help="The API did send it.")
@click.option("--not-sent", "outcome", flag_value="not_sent", help="The API did not send it.")
@click.option(
    "--cancelled",
    "outcome",
    flag_value="cancelled",
    help="The API cancelled this scheduled request (an apply could not record it).",
)
@click.pass_context
def state_resolve(ctx: click.Context, request_id: str, outcome: str | None) -> int:
    """Settle a request in doubt (--sent or --not-sent), or a scheduled request the API
    cancelled without state knowing (--cancelled)."""
    from octoplan.commands import state as cmd

    return cmd.run_resolve(_app(ctx), request_id, outcome)


@state.command("mv")
@sandbox_state
@click.argument("old")
@click.argument("new")
@click.option("--merge", is_flag=True, help="NEW has history already: add OLD's to it.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def state_mv(ctx: click.Context, old: str, new: str, merge: bool, yes: bool) -> int:
    """Give campaign OLD's history to NEW (a renamed campaign; audited)."""
    from octoplan.commands import state as cmd

    return cmd.run_mv(_app(ctx), old, new, merge, yes)


@state.command("rm")
@sandbox_state
@click.argument("campaign_id")
@click.option(
    "--force", is_flag=True, help="Even with unconfirmed, in-doubt or scheduled requests."
)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def state_rm(ctx: click.Context, campaign_id: str, force: bool, yes: bool) -> int:
    """Forget a campaign's history (audited): its recipients can be sent again."""
    from octoplan.commands import state as cmd

    return cmd.run_rm(_app(ctx), campaign_id, force, yes)


@cli.group(invoke_without_command=True)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    default=8642,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to listen on (0: any free port).",
)
@click.option(
    "--data",
    "data_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="SQLite file for the sandbox (default .octoplan/sandbox.db).",
)
@click.option("--api-login", help="Require this api-login (default: any non-empty).")
@click.option("--api-key", help="Require this api-key (default: any non-empty).")
@click.option(
    "--credit", type=float, default=1000.0, show_default=True, help="Starting credit balance."
)
@click.option(
    "--fail-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    help="Fraction of requests answered with HTTP 500.",
)
@click.option(
    "--drop-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    help="Fraction of requests accepted, then answered by a dropped connection.",
)
@click.option(
    "--latency", type=click.FloatRange(min=0), default=0.0, help="Seconds added to every answer."
)
@click.option(
    "--callback-url",
    metavar="URL",
    help="Post delivery reports and replies here, as Octopush does (e.g. octoplan receive).",
)
@click.option(
    "--callback-delay",
    type=click.FloatRange(min=0),
    default=1.0,
    show_default=True,
    help="Seconds from acceptance to the delivery report (scheduled sends: at send time).",
)
@click.option(
    "--undelivered-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    help="Fraction of messages reported NOT_DELIVERED (the same ones on every run).",
)
@click.pass_context
def sandbox(ctx: click.Context, /, **options: Any) -> int:
    """Run the local Octopush-compatible API on loopback (`sandbox reply`: simulate a reply)."""
    if ctx.invoked_subcommand is not None:
        ctx.meta["sandbox_data"] = options["data_file"]
        return 0
    from octoplan.commands import sandbox as cmd

    return cmd.run(_app(ctx), **options)


@sandbox.command("reply")
@click.argument("number")
@click.argument("text")
@click.pass_context
def sandbox_reply(ctx: click.Context, number: str, text: str) -> int:
    """NUMBER answers TEXT (STOP: an opt-out); sent as a callback like delivery reports."""
    from octoplan.commands import sandbox as cmd

    return cmd.run_reply(_app(ctx), number, text, ctx.meta.get("sandbox_data"))


@cli.command()
@click.argument("campaigns", nargs=-1)
@click.option(
    "--format",
    "fmt",
    type=PLAN_FORMATS,
    default="text",
    show_default=True,
    help="Output format (markdown: a comment after the merge).",
)
@environment_options("The local sandbox's state (and its reports).")
@click.pass_context
def status(ctx: click.Context, campaigns: tuple[str, ...], fmt: str) -> int:
    """Per campaign: sent, delivered, not delivered, pending, STOP replies, replies."""
    from octoplan.commands import status as cmd

    return cmd.run(_app(ctx), list(campaigns), fmt)


@cli.command()
@click.argument("recipient")
@click.option(
    "--format", "fmt", type=FORMATS, default="text", show_default=True, help="Output format."
)
@environment_options("The local sandbox's state (and its reports).")
@click.pass_context
def explain(ctx: click.Context, recipient: str, fmt: str) -> int:
    """What octoplan did for RECIPIENT (a number in any format, or an e-mail), and why."""
    from octoplan.commands import explain as cmd

    return cmd.run(_app(ctx), recipient, fmt)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    default=8080,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to listen on (0: any free port).",
)
@environment_options("Write to the local sandbox's state.")
@click.pass_context
def receive(ctx: click.Context, host: str, port: int) -> int:
    """Receive Octopush callbacks (delivery reports, STOP, replies) into the target's state."""
    from octoplan.commands import receive as cmd

    return cmd.run(_app(ctx), host, port)


@cli.command()
@click.option(
    "--kind",
    type=click.Choice(["campaign", "config"]),
    default="campaign",
    show_default=True,
    help="Schema of campaign files or of octoplan.yaml.",
)
@click.pass_context
def schema(ctx: click.Context, kind: str) -> int:
    """Print the JSON Schema of campaign files (for editors)."""
    from octoplan.commands import schema as cmd

    return cmd.run(_app(ctx), kind)


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--check", is_flag=True, help="Change nothing; exit 1 if a file would change.")
@click.pass_context
def fmt(ctx: click.Context, paths: tuple[Path, ...], check: bool) -> int:
    """Rewrite campaign files in canonical form, keeping comments."""
    from octoplan.commands import fmt as cmd

    return cmd.run(_app(ctx), list(paths), check)


@cli.command()
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--schemas",
    is_flag=True,
    help="In an existing project: only rewrite the editors' JSON Schemas.",
)
@click.pass_context
def init(ctx: click.Context, directory: Path | None, schemas: bool) -> int:
    """Scaffold a new project (config, a campaign, a template, .gitignore).

    Refuses a directory that already is (or lies inside) an octoplan project."""
    from octoplan.commands import init as cmd

    return cmd.run(_app(ctx), directory, schemas)


def _fail(message: str, code: int = 1) -> NoReturn:
    sys.stderr.write(message.rstrip("\n") + "\n")
    sys.exit(code)


def main(argv: list[str] | None = None) -> NoReturn:
    signals.install()  # again for the `octoplan` script, which does not go through __main__
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        result = cli.main(args=argv, prog_name="octoplan", standalone_mode=False)
    except ValidationFailed as exc:
        _fail(str(exc))
    except OctoplanError as exc:
        _fail(f"error: {exc}", exc.exit_code)
    except click.exceptions.Abort:
        _fail("Aborted.", 130)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        # Usage errors are errors like any other: exit 1, never 2 (SPEC section 3).
        exc.show()
        sys.exit(1)
    except KeyboardInterrupt:
        _fail("Interrupted.", 130)
    except BrokenPipeError:
        sys.exit(1)
    except Exception as exc:  # a bug: say so plainly, details only with --debug
        if debug:
            import traceback  # only for a bug: every command starts without it

            traceback.print_exc()
        _fail(
            f"internal error: {type(exc).__name__}: {exc}\n"
            "This is a bug in octoplan; rerun with --debug for the traceback and report it."
        )
    sys.exit(result if isinstance(result, int) else 0)
