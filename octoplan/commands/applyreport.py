"""The text report that ends `octoplan apply`: what was sent and recorded, what was refused or
left without an answer, and what each leftover means for the next run."""

from __future__ import annotations

from octoplan.apply import ApplyReport
from octoplan.commands.context import AppContext
from octoplan.plan import Plan
from octoplan.planview import destination_line, money
from octoplan.words import plural


def print_report(app: AppContext, report: ApplyReport, plan: Plan) -> None:
    currency = plan.currency
    if not app.quiet:
        app.echo("")  # after the plan and the progress lines
    outcome = "Apply complete" if report.ok else "Apply finished with problems"
    recorded = ""
    if report.storage_fault:
        app.error(f"error: {report.storage_fault}")
        outcome, recorded = "Apply stopped: the state could not be written", " and recorded"
    estimated = (
        f" ({money(report.estimated_cost, currency)} of it estimated: the API's answer was lost)"
        if report.estimated_cost
        else ""
    )
    app.echo(
        f"{outcome}: {plural(report.messages_sent, 'message')} sent{recorded} in "
        f"{plural(report.requests_accepted, 'request')}, cost {money(report.cost, currency)}"
        f"{estimated}."
    )
    app.echo(f"  {destination_line(plan.destination)}")
    if report.capped:
        app.echo(f"  {plural(report.capped, 'recipient')} skipped by the frequency cap.")
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
        what = "unconfirmed" if refusal.unconfirmed else "refused"
        line = (
            f"  {what}: {refusal.campaign_id} request {refusal.request_id} "
            f"({plural(refusal.recipients, 'recipient')}): HTTP {refusal.status}{code}: "
            f"{refusal.message}"
        )
        if refusal.unconfirmed:
            line += (
                "\n    an earlier attempt of it may have reached the API, so this refusal does "
                "not prove it was not sent: it stays journaled; the next apply resends it "
                "under the same request_id, and after 23 h it is in doubt (`octoplan state "
                "resolve`)"
            )
        elif refusal.cancel:
            line += (
                "\n    the scheduled send stays as state knows it, and this campaign's new "
                "sends wait. If the Octopush account shows it cancelled (an apply that could "
                "not record its cancel leaves it so), run `octoplan state resolve "
                f"{refusal.request_id} --cancelled`: the next apply sends to its recipients "
                "again"
            )
        app.echo(line)
    if report.unconfirmed:
        app.echo(
            f"  {plural(len(report.unconfirmed), 'request')} got no answer after retries: "
            "they are journaled; run `octoplan apply` again to resend them under the same "
            "request_id (the API drops duplicates)."
        )
    _print_unrecorded(app, report)
    if report.skipped:
        app.echo(f"  {plural(report.skipped, 'request')} not started: run `octoplan apply` again.")
    if report.residual_credit is not None:
        app.echo(f"  Residual credit: {report.residual_credit:,.2f}.")


def _print_unrecorded(app: AppContext, report: ApplyReport) -> None:
    for answer, consequence in (
        (
            "accepted",
            "the next apply resends them under the same request_id and the API confirms "
            "them as already received, without sending them again (within 23 h of their "
            "first attempt; after that they are in doubt, for `octoplan state resolve`)",
        ),
        (
            "refused",
            "they stay unconfirmed; after 23 h they are in doubt, for `octoplan state resolve`",
        ),
        (
            "cancelled",
            "the next apply tries to cancel them again, which the API refuses (they are "
            "cancelled already): once the Octopush account shows them cancelled, `octoplan "
            "state resolve REQUEST --cancelled` lets their recipients be sent again",
        ),
    ):
        found = [u for u in report.unrecorded if u.answer == answer]
        if found:
            messages = sum(u.recipients for u in found)
            app.echo(
                f"  {plural(len(found), 'request')} ({plural(messages, 'message')}) {answer} "
                f"by the API could not be recorded: {consequence}."
            )
