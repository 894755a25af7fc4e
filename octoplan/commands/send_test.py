"""`octoplan send-test CAMPAIGN --to ADDRESS...`: the campaign's text for one recipient, sent
now to the given addresses through the target's API, recorded as a test (octoplan/sendtest.py).
"""

from __future__ import annotations

import getpass

from octoplan import channels, clock
from octoplan.client_errors import ApiError, TransientApiError
from octoplan.commands.context import AppContext
from octoplan.commands.session import connect, require_credentials
from octoplan.commands.store import open_store
from octoplan.commands.targets import project_target
from octoplan.errors import OctoplanError, UsageError
from octoplan.mask import mask_recipient
from octoplan.pipeline import Selection, load
from octoplan.sender import ClientSender
from octoplan.sendtest import audit_detail, prepare
from octoplan.words import plural


def run(app: AppContext, campaign: str, to: list[str], as_recipient: str | None) -> int:
    app.project_root()
    project = load(app.root, Selection(), app.choice())
    target = project_target(app, project)
    source = project.campaign(campaign)
    if source is None:
        known = ", ".join(sorted(c.id for c in project.campaigns)) or "none"
        raise UsageError(f"no campaign with id '{campaign}'; known: {known}")
    if not target.sandbox:
        require_credentials(target)
    with open_store(app.root, target, project.config.region) as store:
        now = clock.now()
        test = prepare(project, source, to, as_recipient, now, store.opted_out())
        for key, why in test.skipped:
            app.error(f"not sent to {mask_recipient(key)}: {why}")
        if not test.to:
            raise UsageError("no address left to send the test to: nothing was sent")
        per_part = channels.get(test.channel).bills_per_part
        parts = f", {plural(test.segments, 'SMS part')}" if per_part else ""
        app.note(
            f"Test of {test.campaign_id} ({test.channel}{parts}), the text of "
            f"{mask_recipient(test.as_key)}, to {plural(len(test.to), 'address', 'addresses')} "
            f"in {target.destination.label}:"
        )
        app.note(f"  {test.text!r}")
        actor = f"octoplan send-test by {_user()}"
        try:
            with connect(app.root, project, target) as client:
                result = ClientSender(client).send(test.endpoint, test.payload, test.request_id)
        except ApiError as exc:
            outcome = "no answer" if isinstance(exc, TransientApiError) else "refused"
            store.record_test(clock.now(), actor, audit_detail(test, f"{outcome}: {exc}"))
            raise OctoplanError(f"the test was not confirmed ({outcome}): {exc}") from None
        store.record_test(
            clock.now(), actor, audit_detail(test, f"accepted, ticket {result.ticket}")
        )
    to_list = ", ".join(mask_recipient(key) for key in test.to)
    app.echo(
        f"Test sent to {to_list} in {target.destination.label}: request {test.request_id}, "
        f"ticket {result.ticket}, cost {result.total_cost:,.3f}. Recorded as a test: no "
        f"recipient of {test.campaign_id} is marked as sent."
    )
    return 0


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown user"
