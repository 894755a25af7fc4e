"""Core promises pinned where a small slip in the code would break them (issue 22).

Each test here kills one of the hand-made mutants that the rest of the suite let live
(bench/bite_mutants.py applies them and runs these tests): a 401 that no longer stops the apply,
the request_id window's boundary and its 23 h margin, a request_id that no longer depends on
the campaign, a ticket erased by a later outcome. The real CLI, the real sandbox over HTTP and
the real state; every count of what was sent is read back from the sandbox.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from octoplan.sandbox import SandboxServer
from octoplan.state.base import BatchStatus
from tests.conftest import TEST_NOW
from tests.fixtures.project import MakeProject, run_cli
from tests.test_apply_edges import (
    CONFIG,
    batches,
    campaign,
    contacts,
    delivered_once,
    expected,
    kill_in_flight,
    numbers,
    sends,
)

MINUTE = 60


def apply(root: Path, server: SandboxServer, *args: str, **env: str) -> Any:
    return run_cli("apply", "--auto-approve", *args, cwd=root, env={**server.env(), **env})


# -- A refused login stops the apply --------------------------------------------------------


def test_a_401_stops_the_apply_and_nothing_after_it_is_journaled_or_sent(
    make_project: MakeProject, sandbox: SandboxServer
) -> None:
    root = make_project(
        {
            "campaigns/promo.yaml": campaign("promo", "c.csv", batch_size=1),
            "contacts/c.csv": contacts(0, 4),
        },
        config=CONFIG,
    )
    # The first send is refused, the next ones would not be (faults wait for a send: the
    # credit read goes through).
    sandbox.inject("deny401")

    refused = apply(root, sandbox, "--concurrency", "1")

    assert refused.returncode == 1, refused.stdout + refused.stderr
    [first] = sends(sandbox)
    assert f"  refused: promo request {first} (1 recipient): HTTP 401 code 101" in refused.stdout
    assert "  3 requests not started: run `octoplan apply` again.\n" in refused.stdout
    # In state: the refused request, and the next one, journaled while the first was on the
    # wire, its attempt withdrawn. None after them.
    recorded = batches(root, "promo")
    assert len(recorded) == 2
    assert (first, BatchStatus.REFUSED, 1) in recorded
    assert [(s, a) for r, s, a in recorded if r != first] == [(BatchStatus.INTENT, 0)]
    assert sandbox.deliveries() == []

    again = apply(root, sandbox, "--concurrency", "1")

    assert again.returncode == 0, again.stdout + again.stderr
    assert delivered_once(sandbox) == expected(0, 4)
    assert first not in sends(sandbox)[1:]  # refused: its recipients went under new ids


# -- The request_id window: resent under the same id before 23 h, in doubt from 23 h on -----


def test_the_23_h_margin_to_the_minute(make_project: MakeProject, sandbox: SandboxServer) -> None:
    root = make_project(
        {"campaigns/promo.yaml": campaign("promo", "c.csv"), "contacts/c.csv": contacts(0, 3)},
        config=CONFIG,
    )
    # Journaled and sent at TEST_NOW; its answer never came (the apply was killed).
    env = {**sandbox.env(), "OCTOPLAN_NOW": TEST_NOW}
    request_id = kill_in_flight(root, env, sandbox)
    resend = f"    ~ resend unconfirmed request {request_id} (3 recipients, same request_id)\n"
    doubt = (
        f"    in doubt: request {request_id} (3 recipients) was sent more than 23 h ago with no "
        "confirmation; it is never resent automatically."
    )

    def plan_after(minutes: int) -> str:
        moved = {**env, "OCTOPLAN_CLOCK_OFFSET": str(minutes * MINUTE)}
        result = run_cli("plan", cwd=root, env=moved)
        assert result.returncode in (0, 2), result.stdout + result.stderr
        return result.stdout

    at_22_59, at_23_00, at_23_01 = (plan_after(m) for m in (22 * 60 + 59, 23 * 60, 23 * 60 + 1))

    assert resend in at_22_59
    assert doubt not in at_22_59
    for past in (at_23_00, at_23_01):
        assert doubt in past
        assert resend not in past

    # Applied at 23:00 exactly: marked in doubt, nothing resent.
    done = apply(root, sandbox, OCTOPLAN_CLOCK_OFFSET=str(23 * 60 * MINUTE))
    assert done.returncode == 0, done.stdout + done.stderr
    assert (
        "  1 request is in doubt (unconfirmed for over 23 h): see `octoplan plan` and "
        "`octoplan state resolve`.\n"
    ) in done.stdout
    assert sends(sandbox) == [request_id]  # the killed apply's attempt only
    assert batches(root, "promo") == [(request_id, BatchStatus.IN_DOUBT, 1)]


# -- A request_id is the campaign's own --------------------------------------------------------


def test_two_campaigns_with_the_same_body_are_two_requests_both_delivered(
    make_project: MakeProject, sandbox: SandboxServer
) -> None:
    # Same text, same recipients, same options: only the campaign tells the requests apart.
    same = campaign("{id}", "c.csv") + "allow_repeat: true\n"
    root = make_project(
        {
            "campaigns/first.yaml": same.replace("{id}", "first"),
            "campaigns/second.yaml": same.replace("{id}", "second"),
            "contacts/c.csv": contacts(0, 3),
        },
        config=CONFIG,
    )

    done = apply(root, sandbox)

    assert done.returncode == 0, done.stdout + done.stderr
    [(first, first_status, _)] = batches(root, "first")
    [(second, second_status, _)] = batches(root, "second")
    assert first != second
    assert (first_status, second_status) == (BatchStatus.ACCEPTED, BatchStatus.ACCEPTED)
    assert sorted(sends(sandbox)) == sorted([first, second])
    # Each recipient got both messages: the API took the second request as a new one.
    received = Counter((d.recipient, d.request_id) for d in sandbox.deliveries())
    assert received == Counter({(n, r): 1 for n in numbers(0, 3) for r in (first, second)})


# -- An outcome keeps what earlier ones recorded ----------------------------------------------


SCHEDULED = (
    "id: promo\nchannel: sms\npurpose: alert\nsend_at: 2027-01-05T10:00:00+01:00\n"
    'text: "Rendez-vous demain"\ncontacts: [contacts/c.csv]\n'
)


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_a_cancelled_scheduled_send_keeps_its_ticket(
    make_project: MakeProject, sandbox: SandboxServer, backend: str, request: pytest.FixtureRequest
) -> None:
    env: dict[str, str] = {}
    if backend == "postgres":
        env["OCTOPLAN_STATE"] = request.getfixturevalue("pg_url")
    root = make_project(
        {"campaigns/promo.yaml": SCHEDULED, "contacts/c.csv": contacts(0, 2)}, config=CONFIG
    )
    assert apply(root, sandbox, **env).returncode == 0
    [scheduled] = run_state(root, env)
    ticket = scheduled["ticket"]
    assert (scheduled["status"], ticket) == ("accepted", sandbox.deliveries()[0].ticket)
    (root / "campaigns/promo.yaml").unlink()

    cancelled = apply(root, sandbox, **env)

    assert cancelled.returncode == 0, cancelled.stdout + cancelled.stderr
    assert {d.status for d in sandbox.deliveries()} == {"cancelled"}
    [record] = run_state(root, env)
    # The cancellation's outcome carries no ticket: the one the API gave is still there.
    assert (record["status"], record["ticket"]) == ("cancelled", ticket)
    explained = run_cli("explain", numbers(0, 1)[0], cwd=root, env=env)
    assert f"(ticket {ticket}) was cancelled, scheduled for" in explained.stdout, (
        explained.stdout + explained.stderr
    )


def run_state(root: Path, env: dict[str, str]) -> list[dict[str, Any]]:
    shown = run_cli("state", "show", "promo", "--format", "json", cwd=root, env=env)
    assert shown.returncode == 0, shown.stderr
    found: list[dict[str, Any]] = json.loads(shown.stdout)["batches"]
    return found
