"""`octoplan apply`: plan (or load a saved plan), confirm, lock, send exactly once, report."""

from __future__ import annotations

import contextlib
import getpass
import json
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, NoReturn

from octoplan import applyview, clock, planfile
from octoplan.apply import ApplyReport, Progress, apply_plan
from octoplan.commands.applyreport import print_report
from octoplan.commands.context import AppContext, seconds_since
from octoplan.commands.credit import read_credit
from octoplan.commands.session import connect, require_credentials
from octoplan.commands.store import open_store
from octoplan.commands.targets import config_target
from octoplan.compliance import HoursGate, with_credit
from octoplan.errors import Diagnostic, OctoplanError, StateError, UsageError
from octoplan.hours import Hours, local_time
from octoplan.loader import Project
from octoplan.partition import Partition
from octoplan.pipeline import Selection, all_errors, campaign_specs, load, make_plan
from octoplan.plan import CampaignSpec, Plan
from octoplan.planfile import SavedPlan
from octoplan.planview import budget_lines, plan_text, summary_line
from octoplan.sender import ClientSender
from octoplan.state.base import StateStore
from octoplan.target import Choice, Destination, Target
from octoplan.words import plural

if TYPE_CHECKING:
    from octoplan.client import OctopushClient

# A plan answered later than this after it was shown is planned again before anything is sent.
REPLAN_AFTER = timedelta(minutes=10)


@dataclass(frozen=True)
class _Options:
    plan_file: Path | None
    auto_approve: bool
    campaigns: list[str]
    lock_timeout: float
    concurrency: int
    partition: Partition | None = None  # --shard I/N


@dataclass
class _JsonOut:
    digest: str | None = None  # of the saved plan, once read
    report: dict[str, Any] | None = None


def run(
    app: AppContext,
    *,
    plan_file: Path | None,
    auto_approve: bool,
    campaigns: list[str],
    lock_timeout: float,
    concurrency: int,
    fmt: str = "text",
    partition: Partition | None = None,
) -> int:
    options = _Options(plan_file, auto_approve, campaigns, lock_timeout, concurrency, partition)
    if fmt != "json":
        return _guarded(app, options, None)
    # JSON: stdout holds one report whatever happens, the error too; stderr as in text.
    out = _JsonOut()
    try:
        return _guarded(app, options, out)
    except OctoplanError as e:
        shown = None if plan_file is None else str(plan_file)
        out.report = applyview.error_json(str(e), plan_file=shown, digest=out.digest)
        raise
    finally:
        if out.report is not None:  # None after a crash or a second Ctrl-C
            app.echo(json.dumps(out.report, indent=2, ensure_ascii=False))


def _guarded(app: AppContext, options: _Options, json_out: _JsonOut | None) -> int:
    app.project_root()  # before anything is read or created
    target = config_target(app)
    if options.plan_file is not None:  # read again by _run: cheap, and checked first
        saved = planfile.load(options.plan_file)
        planfile.check_destination(saved, target.destination)
        planfile.check_shard(saved, options.partition)
    if not target.sandbox:
        require_credentials(target)
    told: list[ApplyReport] = []  # a report that told a storage fault
    with _signals(app) as signals:
        try:
            return _run(app, signals, told, options, target, json_out)
        except StateError:
            if told:
                return 1  # releasing the lock failed as the apply's writes did: told already
            raise


@dataclass(frozen=True)
class _Inputs:
    """What the apply plans from, read before the state is opened."""

    saved: SavedPlan | None  # the reviewed plan file, when one is applied
    shown_file: str | None  # its path, as reports name it
    selection: Selection
    project: Project
    specs: list[CampaignSpec]


@dataclass(frozen=True)
class _Sent:
    report: ApplyReport
    gate: HoursGate
    elapsed: float  # seconds from the first request to the last answer
    trips: int  # HTTP round trips
    waited_http: float  # seconds spent in them


def _run(
    app: AppContext,
    signals: _Signals,
    told: list[ApplyReport],
    options: _Options,
    target: Target,
    json_out: _JsonOut | None,
) -> int:
    """`json_out`: gets the JSON report instead of printing the text one."""
    inputs = _inputs(app, options, target, json_out)
    part = inputs.selection.partition
    holder = f"octoplan apply{'' if part is None else ' --shard ' + part.label} by {_user()}"
    # Like Terraform, lock first and plan under the lock: what is shown is what gets sent,
    # and a second apply waiting for the lock plans only after the first one has finished.
    with (
        open_store(app.root, target, inputs.project.config.region) as store,
        store.locked(holder, options.lock_timeout, part),
    ):
        approved = _approved(app, options, inputs, store, target.destination, json_out)
        if isinstance(approved, int):
            return approved
        plan = approved
        start = time.perf_counter()
        sent = _send(app, signals, told, options, target, inputs, store, plan, json_out)
    if sent.report.storage_fault:
        return 1
    app.detail(f"sent in {seconds_since(start)}")
    return _reported(app, signals, options, inputs, plan, sent, json_out)


def _inputs(
    app: AppContext, options: _Options, target: Target, json_out: _JsonOut | None
) -> _Inputs:
    """The saved plan (if any), the project and every campaign's messages; refused on errors."""
    plan_file = options.plan_file
    saved = planfile.load(plan_file) if plan_file is not None else None
    shown_file = None if plan_file is None else str(plan_file)
    if saved is not None and json_out is not None:
        json_out.digest = saved.digest
    if saved is not None and options.campaigns:
        raise UsageError("--campaign cannot be combined with a plan file (the plan has its scope)")
    selection = Selection(
        campaigns=saved.scope if saved else tuple(options.campaigns),
        partition=planfile.check_shard(saved, options.partition) if saved else options.partition,
    )
    start = time.perf_counter()
    project = load(app.root, selection, Choice(target.name, "--env"))
    app.detail(f"loaded {plural(len(project.campaigns), 'campaign')} in {seconds_since(start)}")
    if saved is not None:
        # Files first: a changed contact list is named before any contact is read.
        planfile.check_inputs(saved, project)
    # Contacts and templates are read before the state is opened: bad input creates, locks and
    # writes nothing. (They depend on the files only, so reading them under the lock would
    # change nothing.)
    specs = campaign_specs(project)
    errors = [d for spec in specs for d in spec.errors]
    if errors:
        _refuse(app, errors)
    return _Inputs(saved, shown_file, selection, project, specs)


def _approved(
    app: AppContext,
    options: _Options,
    inputs: _Inputs,
    store: StateStore,
    destination: Destination,
    json_out: _JsonOut | None,
) -> Plan | int:
    """The plan to send, planned under the lock, shown and confirmed; or the exit code when
    there is nothing to send or the answer was no."""
    saved, shown_file = inputs.saved, inputs.shown_file
    plan = _planned(app, inputs, store, destination)
    if saved is not None:
        planfile.check_fresh(saved, plan)
        app.note(f"Applying the reviewed plan {saved.path} (digest {saved.digest[:12]}).")
    asks = saved is None and not options.auto_approve
    # With JSON on stdout, the plan goes to stderr with the question.
    show = app.error if json_out is not None else app.echo
    while True:
        if plan.blocked:
            _refuse(app, all_errors(plan))
        if not plan.has_changes:
            if json_out is not None:
                json_out.report = applyview.apply_json(plan, None, plan_file=shown_file)
            else:
                app.echo(summary_line(plan) if app.quiet else plan_text(plan, requests=app.verbose))
            return 0
        # --quiet hides the plan, unless the question needs it to be answered.
        if saved is None and (asks or not app.quiet):
            show(plan_text(plan, requests=app.verbose))
        if not asks:
            return plan
        shown = time.monotonic()
        if not _confirm(app, destination):
            app.error("Apply cancelled: nothing was sent.")
            if json_out is not None:
                json_out.report = applyview.cancelled_json(plan, shown_file)
            return 1
        # Answered long after it was shown, the plan may be wrong by now (a request_id
        # past the API's window): it is made again, and shown again if it changed.
        waited = max(timedelta(seconds=time.monotonic() - shown), clock.now() - plan.created_at)
        if waited <= REPLAN_AFTER:
            return plan
        fresh = replace(
            make_plan(inputs.project, store, clock.now(), inputs.selection, inputs.specs),
            destination=destination,
        )
        minutes = int(waited.total_seconds() // 60)
        if fresh.digest == plan.digest:
            app.note(f"Planned again ({minutes} minutes after it was shown): unchanged.")
            return fresh
        show(
            f"\nThe plan above was shown {minutes} minutes ago; planned again, it changed. "
            "The new plan:\n"
        )
        plan = fresh


def _planned(app: AppContext, inputs: _Inputs, store: StateStore, destination: Destination) -> Plan:
    start = time.perf_counter()
    plan = replace(
        make_plan(inputs.project, store, clock.now(), inputs.selection, inputs.specs),
        destination=destination,
    )
    app.detail(
        f"planned against state {plan.state.url} (serial {plan.state.serial}) "
        f"in {seconds_since(start)}"
    )
    return plan


def _send(
    app: AppContext,
    signals: _Signals,
    told: list[ApplyReport],
    options: _Options,
    target: Target,
    inputs: _Inputs,
    store: StateStore,
    plan: Plan,
    json_out: _JsonOut | None,
) -> _Sent:
    """Send the plan; a storage fault is told at once, before the lock is released."""
    project = inputs.project
    report: ApplyReport | None = None
    try:
        with connect(app.root, project, target) as client:
            _check_credit(app, plan, client, project)
            gate = HoursGate(
                plan,
                Hours(project.config.policies.marketing_hours, project.config.region),
                clock.now,
            )
            with signals.sending(), _progress(app, plan) as on_progress:
                sending = time.perf_counter()  # the client is set up: from here, per request
                report = apply_plan(
                    plan,
                    store,
                    ClientSender(client),
                    now=clock.now,
                    concurrency=options.concurrency,
                    stop=signals.stop,
                    on_progress=on_progress,
                    hold=gate,
                )
            elapsed = time.perf_counter() - sending
            trips, waited_http = client.round_trips, client.round_trip_seconds
    finally:
        if report is not None and report.storage_fault:
            # Told before anything else can fail on the broken state (releasing the lock).
            if json_out is not None:
                json_out.report = applyview.apply_json(plan, report, plan_file=inputs.shown_file)
            else:
                print_report(app, report, plan)
            told.append(report)
    return _Sent(report, gate, elapsed, trips, waited_http)


def _reported(
    app: AppContext,
    signals: _Signals,
    options: _Options,
    inputs: _Inputs,
    plan: Plan,
    sent: _Sent,
    json_out: _JsonOut | None,
) -> int:
    """The report of a finished apply, and its exit code."""
    report, trips, waited_http = sent.report, sent.trips, sent.waited_http
    if trips and options.concurrency == 1:
        # One request at a time: what is not an HTTP round trip is time octoplan adds (the
        # journal writes and bodies that could not be done while a request was on the wire).
        own = (sent.elapsed - waited_http) / trips * 1000
        app.detail(
            f"{plural(trips, 'HTTP round trip')} took {waited_http:.2f} s; "
            f"octoplan's own time: {own:.2f} ms per request"
        )
    if json_out is not None:
        json_out.report = applyview.apply_json(plan, report, plan_file=inputs.shown_file)
    else:
        print_report(app, report, plan)
        _print_waiting(app, report, plan, sent.gate)
    if signals.signum is not None:
        return 128 + signals.signum
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


def _check_credit(app: AppContext, plan: Plan, client: OctopushClient, project: Project) -> None:
    """Refuse before the first request when the plan costs more than the account's credit;
    a balance that cannot be read is said, and the apply goes on."""
    if plan.summary.estimated_cost <= 0:
        return
    checked = with_credit(plan, read_credit(client, project))
    for diagnostic in checked.warnings[len(plan.warnings) :]:
        app.error(diagnostic.format())
    if checked.errors[len(plan.errors) :]:
        _refuse(app, list(checked.errors[len(plan.errors) :]))
    for line in budget_lines(checked):
        if line.startswith("Credit"):
            app.detail(line)


def _print_waiting(app: AppContext, report: ApplyReport, plan: Plan, gate: HoursGate) -> None:
    """Requests held at the end of marketing hours: a waiting state, not an error (exit 0):
    the line starts with "Waiting:" for scripts."""
    if not report.waiting:
        return
    by_campaign: dict[str, list[int]] = {}
    ids = {b.request_id: c.id for c in plan.campaigns for b in c.batches}
    for batch in report.waiting:
        counts = by_campaign.setdefault(ids[batch.request_id], [0, 0])
        counts[0] += 1
        counts[1] += len(batch.recipients)
    zone = gate.hours.policy.timezone
    for campaign_id, (requests, messages) in by_campaign.items():
        opens = gate.opens(campaign_id)
        when = f"opens {local_time(opens, zone)}" if opens else "is not within a month"
        app.echo(
            f"Waiting: marketing hours ended: {plural(requests, 'request')} "
            f"({plural(messages, 'message')}) of {campaign_id} left for the next window, which "
            f"{when}; run `octoplan apply` again then."
        )


def _confirm(app: AppContext, destination: Destination) -> bool:
    if not sys.stdin.isatty():
        raise UsageError(
            "apply needs confirmation but there is no terminal: "
            "review `octoplan plan` and rerun with --auto-approve, or apply a saved plan file"
        )
    target = destination.label
    if not destination.local:
        target += ": real messages, real money"
    app.err.file.write(f"\nSend these messages to {target}? Only 'yes' is accepted: ")
    app.err.file.flush()
    return sys.stdin.readline().strip() == "yes"


class _Signals:
    """SIGINT, SIGTERM and SIGHUP during apply.

    From the first request on (`sending()`), the first one stops apply in order: requests in
    flight finish and are recorded, none other starts, the lock is released and the report
    printed; apply then exits 128 + the signal's number (130, 143, 129). A second one aborts
    at once (the requests in flight stay journaled, resent under their request_id by the next
    apply). Before that, SIGTERM and SIGHUP end apply at once like Ctrl-C does: nothing was
    sent, and the lock is released on the way out.
    """

    HANDLED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

    def __init__(self, app: AppContext) -> None:
        self.app = app
        self.stop = threading.Event()
        self.signum: int | None = None
        self._sending = False

    def handle(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if not self._sending:
            if signum == signal.SIGINT:
                raise KeyboardInterrupt
            self.app.error(f"\nStopped by {name}: nothing was sent.")
            raise SystemExit(128 + signum)
        if self.stop.is_set():
            # Ctrl-C too: said plainly, not click's bare "Aborted." for a KeyboardInterrupt.
            self.app.error(
                f"\nAborted by {name}: the requests in flight stay journaled; the next apply "
                "resends them under the same request_id."
            )
            raise SystemExit(128 + signum)
        self.signum = signum
        self.stop.set()
        if signum == signal.SIGINT:
            self.app.error(
                "\nInterrupted: finishing the requests in flight (Ctrl-C again to abort)..."
            )
        else:
            self.app.error(
                f"\n{name} received: finishing the requests in flight, starting no more "
                f"(another {name} aborts)..."
            )

    @contextlib.contextmanager
    def sending(self) -> Iterator[None]:
        self._sending = True
        yield


@contextlib.contextmanager
def _signals(app: AppContext) -> Iterator[_Signals]:
    signals = _Signals(app)
    if threading.current_thread() is not threading.main_thread():
        yield signals
        return
    previous = {signum: signal.signal(signum, signals.handle) for signum in signals.HANDLED}
    try:
        yield signals
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


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
