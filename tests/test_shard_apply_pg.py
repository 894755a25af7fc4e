"""`apply --shard I/N` on one PostgreSQL state: runners of one N send at once, without overlap.

Real CLI processes, the real sandbox, a fresh PostgreSQL database per test.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

from octoplan.partition import Partition, shard_of
from octoplan.sandbox import SandboxServer
from octoplan.state.open import open_state
from tests.fixtures.project import REPO, MakeProject, child_environment, run_cli

pytestmark = pytest.mark.postgres

CONFIG = """\
region: FR
defaults: {sender: ShopX}
pricing: {currency: EUR, sms: {FR: 0.05, default: 0.06}}
"""
CAMPAIGN = """\
id: promo
channel: sms
purpose: alert
batch_size: 4
text: "{{ contact.first_name }}, -20% chez ShopX"
contacts: [contacts/customers.csv]
"""
COUNT = 80


def numbers(count: int = COUNT) -> list[str]:
    return [f"+336{(i * 104729) % 10**8:08d}" for i in range(1, count + 1)]


@pytest.fixture
def project(make_project: MakeProject) -> Path:
    rows = ["phone_number,first_name", *(f"{n},Name{i}" for i, n in enumerate(numbers()))]
    return make_project(
        {"campaigns/promo.yaml": CAMPAIGN, "contacts/customers.csv": "\n".join(rows) + "\n"},
        config=CONFIG,
    )


def start_apply(root: Path, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "octoplan", "apply", "--auto-approve", *args],
        cwd=root,
        env=child_environment(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_two_shards_apply_at_once_and_send_everyone_exactly_once(
    project: Path, sandbox: SandboxServer, pg_url: str, tmp_path: Path
) -> None:
    # Slow answers: each runner takes a few seconds, so the two overlap.
    sandbox.set_faults(latency=0.25)
    env = {**sandbox.env(), "OCTOPLAN_STATE": pg_url}
    created = run_cli("state", "list", cwd=project, env=env)  # the schema, made once
    assert created.returncode == 0, created.stderr
    runners = [start_apply(project, env, "--shard", f"{i}/2") for i in (1, 2)]
    holders_seen = 0
    store = open_state(pg_url, tmp_path)
    try:
        deadline = time.monotonic() + 120
        while any(r.poll() is None for r in runners) and time.monotonic() < deadline:
            holders_seen = max(holders_seen, len(store.lock_holders()))
            time.sleep(0.05)
    finally:
        store.close()
        for runner in runners:
            if runner.poll() is None:
                runner.kill()
    outputs = [r.communicate() for r in runners]
    for runner, (out, err) in zip(runners, outputs, strict=True):
        assert runner.returncode == 0, out + err
    assert holders_seen == 2  # both held the apply lock at the same time

    deliveries = sandbox.deliveries()
    assert sorted(d.recipient for d in deliveries) == sorted(numbers())  # each exactly once
    by_request: dict[str | None, set[int]] = defaultdict(set)
    for d in deliveries:
        by_request[d.request_id].add(shard_of(d.recipient, 2))
    # Each request holds one shard's recipients: no request_id is shared by the two runners.
    assert all(len(shards) == 1 for shards in by_request.values())
    assert {next(iter(s)) for s in by_request.values()} == {1, 2}
    for index, (out, _) in enumerate(outputs, 1):
        mine = sum(1 for n in numbers() if Partition(index, 2).contains(n))
        assert f"Apply complete: {mine} messages sent" in out

    store = open_state(pg_url, tmp_path)
    try:
        sent, _ = store.recipient_state("promo")
        assert sorted(sent) == sorted(numbers())
        assert store.lock_holders() == []
    finally:
        store.close()
    again = run_cli("plan", "--detailed-exitcode", cwd=project, env=env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"No changes. {COUNT} messages already sent" in again.stdout


HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from octoplan.partition import parse
    from octoplan.state.open import open_state

    store = open_state(sys.argv[1], Path(sys.argv[2]))
    label = sys.argv[3]
    if label == "all":
        store.acquire_lock("octoplan apply by holder", 30)
    else:
        store.acquire_lock("octoplan apply --shard " + label + " by holder", 30, parse(label))
    print("locked", flush=True)
    time.sleep(600)
    """
)


@pytest.fixture
def hold(pg_url: str, tmp_path: Path) -> Iterator[object]:
    """`hold("1/2")`: another process holding the apply lock of that shard until the end."""
    processes: list[subprocess.Popen[str]] = []

    def start(label: str) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [sys.executable, "-c", HOLDER, pg_url, str(tmp_path), label],
            cwd=REPO,
            stdout=subprocess.PIPE,
            text=True,
        )
        processes.append(process)
        assert process.stdout is not None
        assert process.stdout.readline() == "locked\n"
        return process

    yield start
    for process in processes:
        process.kill()
        process.wait()


LOCKED = re.compile(
    r"error: state is locked by octoplan apply --shard 1/2 by holder \(pid \d+ on [^,]+, "
    r"since [\d-]+ [\d:]+ UTC\)(?P<why>.*); waited 0\.3s\. Wait for it to finish, or run "
    r"`octoplan state unlock` if it is gone\.\n"
)


def test_a_shard_holds_off_unsharded_applies_and_other_counts_not_its_siblings(
    project: Path, sandbox: SandboxServer, pg_url: str, hold: object
) -> None:
    env = {**sandbox.env(), "OCTOPLAN_STATE": pg_url}
    created = run_cli("state", "list", cwd=project, env=env)
    assert created.returncode == 0, created.stderr
    hold("1/2")  # type: ignore[operator]

    for args, why in [
        ((), ""),
        (("--shard", "1/2"), ""),
        (("--shard", "1/4"), " (--shard 1/2: shards of 2 and of 4 share recipients)"),
        (("--shard", "3/4"), " (--shard 1/2: shards of 2 and of 4 share recipients)"),
    ]:
        refused = run_cli(
            "apply", "--auto-approve", "--lock-timeout", "0.3", *args, cwd=project, env=env
        )
        assert refused.returncode == 1, args
        found = LOCKED.fullmatch(refused.stderr)
        assert found is not None, refused.stderr
        assert found["why"] == why
    assert [r.path for r in sandbox.requests() if "wallet" not in r.path] == []

    other = run_cli(
        "apply", "--auto-approve", "--lock-timeout", "0.3", "--shard", "2/2", cwd=project, env=env
    )
    assert other.returncode == 0, other.stderr
    mine = sorted(n for n in numbers() if shard_of(n, 2) == 2)
    assert sorted(d.recipient for d in sandbox.deliveries()) == mine


def test_state_unlock_shows_every_shard_lock(
    project: Path, pg_url: str, hold: object, tmp_path: Path
) -> None:
    env = {"OCTOPLAN_STATE": pg_url}
    created = run_cli("state", "list", cwd=project, env=env)
    assert created.returncode == 0, created.stderr
    holders = [hold(label) for label in ("1/3", "2/3")]  # type: ignore[operator]
    store = open_state(pg_url, tmp_path)
    try:
        assert [info.holder for info in store.lock_holders()] == [
            "octoplan apply --shard 1/3 by holder",
            "octoplan apply --shard 2/3 by holder",
        ]
    finally:
        store.close()
    listed = run_cli("state", "list", "--format", "json", cwd=project, env=env)
    assert listed.returncode == 0, listed.stderr
    assert [lock["holder"] for lock in json.loads(listed.stdout)["locks"]] == [
        "octoplan apply --shard 1/3 by holder",
        "octoplan apply --shard 2/3 by holder",
    ]
    text = run_cli("state", "list", cwd=project, env=env)
    locked = [line for line in text.stderr.splitlines() if line.startswith("Locked by ")]
    assert [line.split(" (")[0] for line in locked] == [
        "Locked by octoplan apply --shard 1/3 by holder",
        "Locked by octoplan apply --shard 2/3 by holder",
    ]
    refused = run_cli("state", "unlock", cwd=project, env=env)
    assert refused.returncode == 1
    assert re.fullmatch(
        r"error: the state lock is held by octoplan apply --shard 1/3 by holder \(.*\) and "
        r"octoplan apply --shard 2/3 by holder \(.*\), whose database connections are still "
        r"open; let it finish or stop it, or use --force to end those connections\n",
        refused.stderr,
    ), refused.stderr
    for process in holders:
        process.kill()
        process.wait()
    removed = run_cli("state", "unlock", cwd=project, env=env)
    assert removed.returncode == 0, removed.stderr
    lines = removed.stdout.splitlines()
    assert [line.split(" (")[0] for line in lines] == [
        "Removed the lock of octoplan apply --shard 1/3 by holder",
        "Removed the lock of octoplan apply --shard 2/3 by holder",
    ]
    assert run_cli("state", "unlock", cwd=project, env=env).stdout == "The state is not locked.\n"


def test_sqlite_runs_shards_one_after_another(project: Path, sandbox: SandboxServer) -> None:
    # One file on one machine: a sharded apply takes the whole lock; the shards in turn
    # send everyone once.
    for index in (1, 2):
        result = run_cli(
            "apply", "--auto-approve", "--shard", f"{index}/2", "--format", "json", cwd=project,
            env=sandbox.env(),
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        report = json.loads(result.stdout)
        assert (report["status"], report["shard"]["index"], report["shard"]["count"]) == (
            "applied", index, 2,
        )  # fmt: skip
    assert sorted(d.recipient for d in sandbox.deliveries()) == sorted(numbers())
    plan = run_cli("plan", "--format", "json", cwd=project, env=sandbox.env())
    assert json.loads(plan.stdout)["summary"]["messages_to_send"] == 0


def test_an_unsharded_apply_holds_off_every_shard(
    project: Path, sandbox: SandboxServer, pg_url: str, hold: object
) -> None:
    env = {**sandbox.env(), "OCTOPLAN_STATE": pg_url}
    created = run_cli("state", "list", cwd=project, env=env)
    assert created.returncode == 0, created.stderr
    hold("all")  # type: ignore[operator]
    for label in ("1/2", "2/2", "1/1"):
        args = ("apply", "--auto-approve", "--lock-timeout", "0.3", "--shard", label)
        refused = run_cli(*args, cwd=project, env=env)
        assert refused.returncode == 1
        assert re.fullmatch(
            r"error: state is locked by octoplan apply by holder \(pid \d+ on [^,]+, since "
            r"[\d-]+ [\d:]+ UTC\); waited 0\.3s\. Wait for it to finish, or run `octoplan "
            r"state unlock` if it is gone\.\n",
            refused.stderr,
        ), refused.stderr
    assert [r.path for r in sandbox.requests() if "wallet" not in r.path] == []


def test_an_unsharded_apply_waits_for_a_shard_then_goes(
    project: Path, sandbox: SandboxServer, pg_url: str, hold: object
) -> None:
    env = {**sandbox.env(), "OCTOPLAN_STATE": pg_url}
    created = run_cli("state", "list", cwd=project, env=env)
    assert created.returncode == 0, created.stderr
    holder = hold("2/2")  # type: ignore[operator]
    waiting = start_apply(project, env, "--lock-timeout", "60")
    try:
        time.sleep(2)
        assert waiting.poll() is None  # waits for the shard
        assert [r.path for r in sandbox.requests() if "wallet" not in r.path] == []
        holder.kill()
        holder.wait()
        out, err = waiting.communicate(timeout=60)
    finally:
        if waiting.poll() is None:
            waiting.kill()
            waiting.communicate()
    assert waiting.returncode == 0, out + err
    assert sorted(d.recipient for d in sandbox.deliveries()) == sorted(numbers())
