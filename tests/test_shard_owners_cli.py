"""Requests made before a split (journaled, scheduled) have exactly one owning shard: the
shard of their lowest recipient key resumes, reports or cancels and replaces them; the other
shards leave them alone. The real CLI, the real sandbox, SQLite state.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from octoplan.partition import shard_of
from octoplan.sandbox import SandboxServer
from octoplan.state.base import BatchStatus
from octoplan.state.open import open_state
from tests.fixtures.project import MakeProject, run_cli, write_files
from tests.state.helpers import at, intent

CONFIG = "region: FR\ndefaults: {sender: ShopX}\n"
NUMBERS = [f"+3361234{i:04d}" for i in range(0, 12 * 37, 37)]
ALERT = 'id: promo\nchannel: sms\npurpose: alert\ntext: "Hello"\ncontacts: [contacts/c.csv]\n'
CONTACTS = "phone_number\n" + "".join(f"{n}\n" for n in NUMBERS)


def plan(root: Path, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    result = run_cli("plan", "--format", "json", *args, cwd=root, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def owners(count: int, keys: list[str]) -> int:
    return shard_of(min(keys), count)


def test_journaled_requests_are_resumed_or_reported_by_one_shard(
    make_project: MakeProject,
) -> None:
    root = make_project({"campaigns/promo.yaml": ALERT, "contacts/c.csv": CONTACTS}, CONFIG)
    unconfirmed, doubtful = NUMBERS[:6], NUMBERS[6:]
    store = open_state(".octoplan/state.db", root)
    try:  # an unsharded apply died: one request unconfirmed, one in doubt
        store.record_intent(intent("r-unconfirmed", unconfirmed, campaign_id="promo"), at(0))
        store.record_intent(intent("r-doubt", doubtful, campaign_id="promo"), at(0))
        store.record_outcome("r-doubt", BatchStatus.IN_DOUBT, at(1))
    finally:
        store.close()

    for count in (2, 3):
        shards = [plan(root, "--shard", f"{i}/{count}")["campaigns"][0] for i in (1, 2, 3)[:count]]
        resumed = [
            i
            for i, c in enumerate(shards, 1)
            for b in c["batches"]
            if (b["kind"], b["request_id"]) == ("resume", "r-unconfirmed")
        ]
        doubts = [i for i, c in enumerate(shards, 1) for d in c["in_doubt"]]
        assert resumed == [owners(count, unconfirmed)]
        assert doubts == [owners(count, doubtful)]
        # Nobody is sent anew: every recipient is pending in its own shard.
        assert all(b["kind"] == "resume" for c in shards for b in c["batches"])
        assert sum(c["pending"] for c in shards) == len(NUMBERS)
        # The owner resends the whole request, whatever its recipients' shards.
        owner = shards[owners(count, unconfirmed) - 1]
        assert owner["messages_to_send"] == len(unconfirmed)


PROMO = 'id: promo\nchannel: sms\ntext: "Promo -30% STOP au 30101"\ncontacts: [contacts/c.csv]\n'
SEND_AT = "send_at: 2026-11-26T10:00:00+01:00\n"
TUESDAY = "2026-11-24T10:00:00+01:00"


def test_a_scheduled_request_is_cancelled_by_its_owner_alone(
    make_project: MakeProject, sandbox: SandboxServer
) -> None:
    root = make_project(
        {"campaigns/promo.yaml": PROMO + SEND_AT, "contacts/c.csv": CONTACTS}, CONFIG
    )
    env = {"OCTOPLAN_NOW": TUESDAY, **sandbox.env()}
    scheduled = run_cli("apply", "--auto-approve", cwd=root, env=env)
    assert scheduled.returncode == 0, scheduled.stdout + scheduled.stderr
    [old] = {d.request_id for d in sandbox.deliveries()}
    edited = PROMO.replace("-30%", "-40%") + SEND_AT
    write_files(root, {"campaigns/promo.yaml": edited})

    owner = owners(2, NUMBERS)
    theirs = [n for n in NUMBERS if shard_of(n, 2) != owner]
    assert 0 < len(theirs) < len(NUMBERS)
    shards = [plan(root, "--shard", f"{i}/2", env=env)["campaigns"][0] for i in (1, 2)]
    mine, other = shards[owner - 1], shards[2 - owner]
    cancel = mine["batches"][0]
    assert (cancel["kind"], cancel["request_id"]) == ("cancel", old)
    # It replaces its own recipients only: the others are their shard's to send, once the
    # cancel is recorded (a shard applying meanwhile would otherwise send them twice).
    assert mine["messages_to_send"] == len(NUMBERS) - len(theirs)
    assert (other["batches"], other["messages_to_send"]) == ([], 0)

    # The other shard first: it sees its recipients as scheduled, sends nothing.
    for index in (3 - owner, owner):
        applied = run_cli("apply", "--auto-approve", "--shard", f"{index}/2", cwd=root, env=env)
        assert applied.returncode == 0, applied.stdout + applied.stderr
    left = plan(root, env=env)["campaigns"][0]
    assert left["messages_to_send"] == len(theirs)
    again = run_cli("apply", "--auto-approve", "--shard", f"{3 - owner}/2", cwd=root, env=env)
    assert again.returncode == 0, again.stdout + again.stderr

    kept = [d for d in sandbox.deliveries() if d.status != "cancelled"]
    assert sorted(d.recipient for d in kept) == NUMBERS  # each once
    assert {d.text for d in kept} == {"Promo -40% STOP au 30101"}
    assert plan(root, env=env)["summary"]["messages_to_send"] == 0


def test_a_disabled_campaign_is_cancelled_by_one_shard_and_counted_by_each(
    make_project: MakeProject, sandbox: SandboxServer
) -> None:
    root = make_project(
        {"campaigns/promo.yaml": PROMO + SEND_AT, "contacts/c.csv": CONTACTS}, CONFIG
    )
    env = {"OCTOPLAN_NOW": TUESDAY, **sandbox.env()}
    # Two scheduled requests of 6: each has its owner.
    write_files(root, {"campaigns/promo.yaml": PROMO + SEND_AT + "batch_size: 6\n"})
    scheduled = run_cli("apply", "--auto-approve", cwd=root, env=env)
    assert scheduled.returncode == 0, scheduled.stdout + scheduled.stderr
    write_files(root, {"campaigns/promo.yaml": PROMO + SEND_AT + "enabled: false\n"})

    whole = plan(root, env=env)["campaigns"][0]
    shards = [plan(root, "--shard", f"{i}/3", env=env)["campaigns"][0] for i in (1, 2, 3)]
    cancels = [b["request_id"] for c in shards for b in c["batches"] if b["kind"] == "cancel"]
    assert sorted(cancels) == sorted(b["request_id"] for b in whole["batches"])
    assert len(cancels) == 2
    assert sum(c["already_sent"] for c in shards) == whole["already_sent"]
