"""Exactly once under crashes and faults: apply is SIGKILLed at random moments while the
sandbox answers 500s and drops connections after accepting, then rerun until done. Every
recipient must get exactly one message, with the right text, on both state backends.

The large version of this run (thousands of recipients, dozens of kills) is bench/chaos.py.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from octoplan import clock
from octoplan.sandbox import SandboxServer
from octoplan.sandbox.store import LoggedRequest
from octoplan.state.base import BatchStatus
from octoplan.state.open import open_state
from octoplan.state.procs import host_name, user_name
from tests.fixtures.project import MakeProject, run_cli
from tests.fixtures.sandbox import SandboxFactory

CONFIG = "region: FR\ndefaults: {sender: ShopX}\n"
CAMPAIGN = """\
id: crash
channel: sms
purpose: alert
batch_size: 4
text: "{{ contact.first_name }}, {% if contact.n|int is even %}pair{% else %}impair{% endif %}"
contacts: [contacts/c.csv]
"""
RECIPIENTS = 48


def csv(count: int) -> str:
    return "phone_number,first_name,n\n" + "".join(
        f"+3361200{i:04d},P{i},{i}\n" for i in range(count)
    )


def expected() -> dict[str, str]:
    return {
        f"+3361200{i:04d}": f"P{i}, {'pair' if i % 2 == 0 else 'impair'}" for i in range(RECIPIENTS)
    }


def child_env(extra: dict[str, str]) -> dict[str, str]:
    # The test clock (tests/conftest.py, OCTOPLAN_NOW) is shared with the child, as every
    # reading of the journal's dates by this process must agree with the child's.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OCTOPUSH_", "OCTOPLAN_")) or k == "OCTOPLAN_NOW"
    }
    env.update(NO_COLOR="1", **extra)
    return env


def start_apply(
    root: Path, env: dict[str, str], output: int = subprocess.DEVNULL
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "octoplan", "apply", "--auto-approve", "--lock-timeout", "120"],
        cwd=root,
        env=child_env(env),
        stdout=output,
        stderr=output,
    )


@pytest.mark.parametrize("kills", [8])
def test_sigkilled_applies_with_faults_deliver_each_message_exactly_once(
    make_project: MakeProject, sandbox_factory: SandboxFactory, state_url: str, kills: int
) -> None:
    root = make_project({"campaigns/c.yaml": CAMPAIGN, "contacts/c.csv": csv(RECIPIENTS)}, CONFIG)
    server = sandbox_factory(fail_rate=0.15, drop_rate=0.1, latency=0.02, seed=7)
    env = {**server.env(), "OCTOPLAN_STATE": state_url}
    rng = random.Random(1234)

    killed = 0
    for _ in range(kills):
        process = start_apply(root, env)
        time.sleep(rng.uniform(0.6, 1.8))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            killed += 1
        process.wait()

    for _ in range(10):  # finish: rerun until there is nothing left to send
        result = run_cli("apply", "--auto-approve", cwd=root, env=env, timeout=300)
        if result.returncode == 0 and "No changes" in result.stdout:
            break
    else:
        pytest.fail(f"apply never converged:\n{result.stdout}\n{result.stderr}")

    deliveries = server.deliveries()
    counts = Counter(d.recipient for d in deliveries)
    assert killed >= 1
    assert sorted(n for n, c in counts.items() if c > 1) == []  # no duplicates
    assert {d.recipient: d.text for d in deliveries} == expected()  # none lost, exact texts


@pytest.mark.postgres
def test_two_concurrent_applies_on_one_postgres_state_send_once(
    make_project: MakeProject, sandbox_factory: SandboxFactory, pg_url: str
) -> None:
    files = {"campaigns/c.yaml": CAMPAIGN, "contacts/c.csv": csv(RECIPIENTS)}
    first, second = make_project(files, CONFIG), make_project(files, CONFIG)
    server = sandbox_factory(latency=0.02)
    env = {**server.env(), "OCTOPLAN_STATE": pg_url}

    processes = [start_apply(p, env, subprocess.PIPE) for p in (first, second)]
    outputs = [p.communicate(timeout=300) for p in processes]

    assert [p.returncode for p in processes] == [0, 0], outputs
    deliveries = server.deliveries()
    assert Counter(d.recipient for d in deliveries).most_common(1)[0][1] == 1
    assert {d.recipient: d.text for d in deliveries} == expected()


def sending(server: SandboxServer) -> list[LoggedRequest]:
    """The sends the sandbox got (apply reads the account's credit before the first one)."""
    return [r for r in server.requests() if r.method == "POST"]


def wait_for_a_send(server: SandboxServer) -> None:
    """Until a send is on the wire (the apply holds the lock), for a minute at most."""
    deadline = time.monotonic() + 60
    while not sending(server) and time.monotonic() < deadline:
        time.sleep(0.05)


def test_ctrl_c_finishes_requests_in_flight_and_exits_130(
    make_project: MakeProject, sandbox_factory: SandboxFactory
) -> None:
    root = make_project({"campaigns/c.yaml": CAMPAIGN, "contacts/c.csv": csv(RECIPIENTS)}, CONFIG)
    # 12 requests, 4 at a time, a second each: the signal comes long before the last one,
    # however slow the machine (at 0.3 s a busy machine could let them all go first).
    server = sandbox_factory(latency=1.0)
    env = server.env()
    process = start_apply(root, env, subprocess.PIPE)
    wait_for_a_send(server)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)

    assert process.returncode == 130, (out, err)
    assert b"Interrupted: finishing the requests in flight" in err
    sent_before = {d.recipient for d in server.deliveries()}
    assert 0 < len(sent_before) < RECIPIENTS
    # Requests journaled ahead but never sent have their attempt withdrawn: nothing in state
    # looks as if it might have left when it did not.
    received = {r.request_id for r in sending(server)}
    store = open_state(".octoplan/state.db", root)
    try:
        batches = store.batches("crash")
    finally:
        store.close()
    assert {b.request_id for b in batches if b.status is BatchStatus.ACCEPTED} == received
    # (There may be none: a signal that lands while the next requests are being journaled
    # stops the journaling itself; most runs leave some.)
    unsent = [b for b in batches if b.status is BatchStatus.INTENT]
    assert all((b.attempts, b.first_sent_at) == (0, None) for b in unsent), unsent
    assert not received & {b.request_id for b in unsent}
    # What was in flight was recorded: the rerun sends only the rest, each exactly once.
    rerun = run_cli("apply", "--auto-approve", cwd=root, env=env, timeout=300)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert f"{len(sent_before)} already sent" in rerun.stdout
    deliveries = server.deliveries()
    assert Counter(d.recipient for d in deliveries).most_common(1)[0][1] == 1
    assert {d.recipient: d.text for d in deliveries} == expected()


def test_a_killed_apply_never_blocks_the_next_one(
    make_project: MakeProject, sandbox_factory: SandboxFactory, state_url: str
) -> None:
    root = make_project({"campaigns/c.yaml": CAMPAIGN, "contacts/c.csv": csv(RECIPIENTS)}, CONFIG)
    server = sandbox_factory(latency=0.5)
    env = {**server.env(), "OCTOPLAN_STATE": state_url}
    process = start_apply(root, env)
    wait_for_a_send(server)
    process.send_signal(signal.SIGKILL)
    process.wait()
    server.set_faults(latency=0.0)

    # A lock the dead apply left would make this wait 10 s and fail: it must be taken over.
    result = run_cli("apply", "--auto-approve", "--lock-timeout", "10", cwd=root, env=env)

    assert result.returncode == 0, result.stdout + result.stderr
    store = open_state(state_url, root)
    try:
        [entry] = store.audit_log()
        assert store.lock_info() is None
    finally:
        store.close()
    assert entry.action == "takeover"
    assert entry.detail.startswith("took over the lock of octoplan apply by ")
    deliveries = server.deliveries()
    assert Counter(d.recipient for d in deliveries).most_common(1)[0][1] == 1
    assert {d.recipient: d.text for d in deliveries} == expected()


def test_a_lock_file_deleted_mid_apply_lets_no_second_apply_in(
    make_project: MakeProject, sandbox_factory: SandboxFactory
) -> None:
    """Someone cleans `.octoplan/` (or a CI cache is restored over it) while an apply sends:
    a second apply must not get in on a new lock file and send the same messages."""
    root = make_project({"campaigns/c.yaml": CAMPAIGN, "contacts/c.csv": csv(RECIPIENTS)}, CONFIG)
    # The first apply must still be sending when the second has started (about 3 s).
    server = sandbox_factory(latency=1.0)
    env = server.env()
    first = start_apply(root, env, subprocess.PIPE)
    wait_for_a_send(server)
    (root / ".octoplan" / "state.db.lock").unlink()

    second = run_cli("apply", "--auto-approve", "--lock-timeout", "0", cwd=root, env=env)
    out, err = first.communicate(timeout=300)

    assert first.returncode == 0, (out, err)
    assert second.returncode == 1, second.stdout + second.stderr
    lock_file = root / ".octoplan" / "state.db.lock"
    assert second.stderr == (
        f"error: state is locked by octoplan apply by {user_name()} (pid {first.pid} on "
        f"{host_name()}, since {clock.now():%Y-%m-%d %H:%M:%S} UTC), which is still running "
        f"though its lock file {lock_file} was deleted or replaced; waited 0s. Let it finish "
        "(never delete files in the state's directory while an apply runs), then run again.\n"
    )
    deliveries = server.deliveries()
    assert Counter(d.recipient for d in deliveries).most_common(1)[0][1] == 1
    assert {d.recipient: d.text for d in deliveries} == expected()
