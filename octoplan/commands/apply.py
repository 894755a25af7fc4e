"""`octoplan apply`: plan (or load a saved plan), confirm, lock, send exactly once, report."""

from __future__ import annotations

import contextlib
import getpass
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import NoReturn

from octoplan import clock, planfile
from octoplan.apply import ApplyReport, Progress, apply_plan
from octoplan.commands.context import AppContext, seconds_since
from octoplan.commands.session import ClientSender, connect, require_credentials
from octoplan.commands.store import open_store
from octoplan.errors import Diagnostic, OctoplanError, UsageError
from octoplan.pipeline import Selection, all_errors, campaign_specs, load, make_plan
from octoplan.plan import Plan
from octoplan.planview import money, plan_text, summary_line
from octoplan.words import plural

EXIT_INTERRUPTED = 130


def run(
    app: AppContext,
    *,
    plan_file: Path | None,
    auto_approve: bool,
    sandbox: bool,
    campaigns: list[str],
    lock_timeout: float,
    concurrency: int,
) -> int:
    app.project_root()  # before anything is read or created
    saved = planfile.load(plan_file) if plan_file is not None else None
    if saved is not None:
        planfile.check_sandbox(saved, sandbox)
    if not sandbox:
        require_credentials()
    if saved is not None and campaigns:
        raise UsageError("--campaign cannot be combined with a plan file (the plan has its scope)")
    selection = Selection(campaigns=saved.scope if saved else tuple(campaigns))
    start = time.perf_counter()
    project = load(app.root, selection)
    app.detail(f"loaded {plural(len(project.campaigns), 'campaign')} in {seconds_since(start)}")
    # Contacts and templates are read before the state is opened: bad input creates, locks and
    # writes nothing. (They depend on the files only, so reading them under the lock would
    # change nothing.)
    specs = campaign_specs(project)
    errors = [d for spec in specs for d in spec.errors]
    if errors:
        _refuse(app, errors)

    holder = f"octoplan apply by {_user()}"
    # Like Terraform, lock first and plan under the lock: what is shown is what gets sent,
    # and a second apply waiting for the lock plans only after the first one has finished.
    with (
        open_store(app.root, project, sandbox=sandbox) as store,
        store.locked(holder, lock_timeout),
    ):
        start = time.perf_counter()
        plan = make_plan(project, store, clock.now(), selection, specs)
        app.detail(
            f"planned against state {plan.state.url} (serial {plan.state.serial}) "
            f"in {seconds_since(start)}"
        )
        if saved is not None:
            planfile.check_fresh(saved, plan)
        if plan.blocked:
            _refuse(app, all_errors(plan))
        if not plan.has_changes:
            app.echo(summary_line(plan) if app.quiet else plan_text(plan, requests=app.verbose))
            return 0
        _check_cost(plan, project.config.policies.max_cost)
        if saved is None:
            asks = not auto_approve
            # --quiet hides the plan, unless the question needs it to be answered.
            if asks or not app.quiet:
                app.echo(plan_text(plan, requests=app.verbose))
            if asks and not _confirm(app, sandbox):
                app.error("Apply cancelled: nothing was sent.")
                return 1
        start = time.perf_counter()
        with connect(app.root, project, sandbox=sandbox) as client:
            stop = threading.Event()
            with _interrupts(app, stop), _progress(app, plan) as on_progress:
                sending = time.perf_counter()  # the client is set up: from here, per request
                report = apply_plan(
                    plan,
                    store,
                    ClientSender(client),
                    now=clock.now,
                    concurrency=concurrency,
                    stop=stop,
                    on_progress=on_progress,
                )
            elapsed = time.perf_counter() - sending
            trips, waited = client.round_trips, client.round_trip_seconds
    app.detail(f"sent in {seconds_since(start)}")
    if trips and concurrency == 1:
        # One request at a time: what is not an HTTP round trip is time octoplan adds (the
        # journal writes and bodies that could not be done while a request was on the wire).
        own = (elapsed - waited) / trips * 1000
        app.detail(
            f"{plural(trips, 'HTTP round trip')} took {waited:.2f} s; "
            f"octoplan's own time: {own:.2f} ms per request"
        )
    _print_report(app, report, plan.currency, sandbox)
    if report.interrupted:
        return EXIT_INTERRUPTED
    return 0 if report.ok else 1


def _refuse(app: AppContext, errors: list[Diagnostic]) -> NoReturn:
    for diagnostic in errors:
        app.error(diagnostic.format())
    raise OctoplanError("the plan has errors: nothing was sent")


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown user"


def _check_cost(plan: Plan, max_cost: float | None) -> None:
    cost = plan.summary.estimated_cost
    if max_cost is not None and cost > max_cost:
        raise OctoplanError(
            f"estimated cost {money(cost, plan.currency)} is above policies.max_cost "
            f"({money(max_cost, plan.currency)}) in octoplan.yaml: nothing was sent. "
            "Split the campaign or raise max_cost."
        )


def _confirm(app: AppContext, sandbox: bool) -> bool:
    if not sys.stdin.isatty():
        raise UsageError(
            "apply needs confirmation but there is no terminal: "
            "review `octoplan plan` and rerun with --auto-approve, or apply a saved plan file"
        )
    target = "the local sandbox" if sandbox else "Octopush (real messages, real money)"
    app.err.file.write(f"\nSend these messages to {target}? Only 'yes' is accepted: ")
    app.err.file.flush()
    return sys.stdin.readline().strip() == "yes"


@contextlib.contextmanager
def _interrupts(app: AppContext, stop: threading.Event) -> Iterator[None]:
    """First Ctrl-C: finish and record the requests in flight, start no more. Second: abort."""

    def handler(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        app.error("\nInterrupted: finishing the requests in flight (Ctrl-C again to abort)...")

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def _progress(app: AppContext, plan: Plan) -> Iterator[Callable[[Progress], None]]:
    total_messages = plan.summary.messages_to_send
    if app.quiet:
        yield lambda p: None
        return
    if app.live:
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
        from rich.progress import Progress as Bar

        with Bar(
            TextColumn("sending"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("requests"),
            TextColumn("{task.fields[outcome]}"),
            TimeRemainingColumn(),
            console=app.err,
            transient=True,
        ) as bar:
            task = bar.add_task("send", total=None, outcome="")

            def update(p: Progress) -> None:
                outcome = progress_line(p).split(": ", 1)[1]
                bar.update(task, completed=p.done, total=p.total, outcome=f"({outcome})")

            yield update
        return
    last = [0.0]

    def lines(p: Progress) -> None:
        now = time.monotonic()
        # Every two seconds at most, or after every request with --verbose.
        if p.done == p.total or app.verbose or now - last[0] >= 2.0:
            last[0] = now
            app.note(f"{progress_line(p)} ({p.messages_sent:,}/{total_messages:,} messages sent)")

    yield lines


def progress_line(p: Progress) -> str:
    """`3/5 requests: 2 sent, 1 refused`: a refused request is not counted as sent."""
    sent = p.done - p.refused - p.unconfirmed
    line = f"{p.done:,}/{p.total:,} requests: {sent:,} sent"
    if p.refused:
        line += f", {p.refused:,} refused"
    if p.unconfirmed:
        line += f", {p.unconfirmed:,} without an answer"
    return line


def _print_report(app: AppContext, report: ApplyReport, currency: str, sandbox: bool) -> None:
    where = " to the sandbox" if sandbox else ""
    if not app.quiet:
        app.echo("")  # after the plan and the progress lines
    outcome = "Apply complete" if report.ok else "Apply finished with problems"
    app.echo(
        f"{outcome}{where}: {plural(report.messages_sent, 'message')} sent in "
        f"{plural(report.requests_accepted, 'request')}, cost {money(report.cost, currency)}."
    )
    if report.confirmed_by_request_id:
        app.echo(
            f"  {plural(report.confirmed_by_request_id, 'request')} "
            f"{'was' if report.confirmed_by_request_id == 1 else 'were'} confirmed by the API as "
            "already received (same request_id): not sent twice."
        )
    if report.cancelled:
        app.echo(f"  {plural(report.cancelled, 'scheduled request')} cancelled.")
    if report.marked_in_doubt:
        app.echo(
            f"  {plural(report.marked_in_doubt, 'request')} "
            f"{'is' if report.marked_in_doubt == 1 else 'are'} in doubt (unconfirmed for over "
            "23 h): see `octoplan plan` and `octoplan state resolve`."
        )
    for refusal in report.refusals:
        code = f" code {refusal.code}" if refusal.code is not None else ""
        app.echo(
            f"  refused: {refusal.campaign_id} request {refusal.request_id} "
            f"({plural(refusal.recipients, 'recipient')}): HTTP {refusal.status}{code}: "
            f"{refusal.message}"
        )
    if report.unconfirmed:
        app.echo(
            f"  {plural(len(report.unconfirmed), 'request')} got no answer after retries: "
            "they are journaled; run `octoplan apply` again to resend them under the same "
            "request_id (the API drops duplicates)."
        )
    if report.skipped:
        app.echo(f"  {plural(report.skipped, 'request')} not started: run `octoplan apply` again.")
    if report.residual_credit is not None:
        app.echo(f"  Residual credit: {report.residual_credit:,.2f}.")
