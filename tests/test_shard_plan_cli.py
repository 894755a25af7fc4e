"""`plan --shard I/N` and `apply --shard I/N PLANFILE`: the real CLI, the real sandbox.

N shards of a plan are the unsharded plan split by recipient: the same recipients and counts,
no recipient twice, no request_id shared.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from octoplan.partition import Partition, shard_of
from octoplan.sandbox import SandboxServer
from tests.fixtures.project import MakeProject, run_cli, write_files

CONFIG = """\
region: FR
defaults: {sender: ShopX}
pricing: {currency: EUR, sms: {FR: 0.05, default: 0.06}}
"""
PROMO = """\
id: promo
channel: sms
purpose: alert
batch_size: 7
text: "{{ contact.first_name }}, -20% chez ShopX"
contacts: [contacts/customers.csv]
exclude: [contacts/optout.csv]
"""
NEWS = """\
id: news
channel: sms
purpose: alert
batch_size: 5
text: "{{ contact.first_name }}, les nouveautés ShopX"
contacts: [contacts/customers.csv]
"""


def numbers(count: int) -> list[str]:
    return [f"+336{(i * 7919) % 10**8:08d}" for i in range(1, count + 1)]


def customers(count: int) -> str:
    rows = ["phone_number,first_name"]
    rows += [f"{n},Name{i}" for i, n in enumerate(numbers(count))]
    rows += [f"{numbers(count)[0]},Again"]  # a duplicate: sent once
    return "\n".join(rows) + "\n"


@pytest.fixture
def project(make_project: MakeProject) -> Path:
    optout = "phone_number\n" + "\n".join(numbers(60)[-3:]) + "\n"
    return make_project(
        {
            "campaigns/promo.yaml": PROMO,
            "campaigns/news.yaml": NEWS,
            "contacts/customers.csv": customers(20),
            "contacts/optout.csv": optout,
        },
        config=CONFIG,
    )


def plan_json(root: Path, server: SandboxServer, *args: str) -> dict[str, Any]:
    result = run_cli("plan", "--format", "json", *args, cwd=root, env=server.env())
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


# Per campaign, the shard's (duplicates and exclusions are told for the whole list).
COUNTS = ("desired", "already_sent", "pending", "messages_to_send", "opted_out")


def test_the_shards_of_a_plan_are_the_plan_split_by_recipient(
    project: Path, sandbox: SandboxServer
) -> None:
    # Some recipients sent already (20), then the list grows to 60: the shards see both.
    sent = run_cli("apply", "--auto-approve", cwd=project, env=sandbox.env())
    assert sent.returncode == 0, sent.stderr
    write_files(project, {"contacts/customers.csv": customers(60)})

    whole = plan_json(project, sandbox)
    shards = [plan_json(project, sandbox, "--shard", f"{i}/3") for i in (1, 2, 3)]

    assert whole["shard"] is None
    assert [s["shard"]["index"] for s in shards] == [1, 2, 3]
    assert {s["shard"]["count"] for s in shards} == {3}
    # 2 campaigns of 60 recipients, 3 of them excluded from promo
    assert {s["shard"]["of"] for s in shards} == {117}
    assert sum(s["shard"]["recipients"] for s in shards) == 117
    assert all(20 < s["shard"]["recipients"] < 60 for s in shards)  # each has some
    for key in ("messages_to_send", "already_sent", "pending"):
        assert sum(s["summary"][key] for s in shards) == whole["summary"][key], key
    for campaign in whole["campaigns"]:
        parts = [next(c for c in s["campaigns"] if c["id"] == campaign["id"]) for s in shards]
        for key in COUNTS:
            assert sum(p[key] for p in parts) == campaign[key], (campaign["id"], key)
        assert campaign["already_sent"] == 20
        # The same recipients (masked, so counted), none twice, none in two shards.
        recipients: Counter[str] = Counter()
        for p in parts:
            recipients.update(r for b in p["batches"] for r in b["recipients"])
        expected = Counter(r for b in campaign["batches"] for r in b["recipients"])
        assert recipients == expected
        assert sum(recipients.values()) == campaign["messages_to_send"] > 0
    ids = [b["request_id"] for s in shards for c in s["campaigns"] for b in c["batches"]]
    assert len(ids) == len(set(ids)) > 3


def test_a_sharded_plan_says_which_shard_once_at_the_top(
    project: Path, sandbox: SandboxServer
) -> None:
    whole = run_cli("plan", cwd=project, env=sandbox.env())
    assert whole.returncode == 0, whole.stderr
    assert "shard" not in whole.stdout
    shard = plan_json(project, sandbox, "--shard", "2/3")["shard"]
    text = run_cli("plan", "--shard", "2/3", cwd=project, env=sandbox.env())
    assert text.returncode == 0, text.stderr
    head = f"shard 2/3: {shard['recipients']} of 40 recipients"
    assert text.stdout.splitlines()[0] == head
    assert text.stdout.count("shard 2/3") == 1
    markdown = run_cli("plan", "--shard", "2/3", "--format", "markdown", cwd=project)
    assert markdown.returncode == 0, markdown.stderr
    assert f"**{head}**" in markdown.stdout


@pytest.mark.parametrize("command", ["plan", "apply"])
@pytest.mark.parametrize("value", ["5/4", "0/2", "two/4", "3"])
def test_a_bad_shard_is_a_usage_error(project: Path, command: str, value: str) -> None:
    result = run_cli(command, "--shard", value, cwd=project)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        f"error: --shard must be I/N with 1 <= I <= N, e.g. 2/4; got {value!r}\n"
    )


def test_a_saved_plan_is_applied_as_its_shard_only(project: Path, sandbox: SandboxServer) -> None:
    saved = run_cli("plan", "--shard", "1/2", "-o", "plan.json", cwd=project, env=sandbox.env())
    assert saved.returncode == 0, saved.stderr
    assert json.loads((project / "plan.json").read_text())["shard"]["index"] == 1
    shown = run_cli("show", "plan.json", cwd=project)
    assert shown.returncode == 0, shown.stderr
    assert re.fullmatch(r"shard 1/2: \d+ of 40 recipients", shown.stdout.splitlines()[0])

    other = run_cli("apply", "--shard", "2/2", "plan.json", cwd=project, env=sandbox.env())
    assert (other.returncode, other.stdout) == (1, "")
    assert other.stderr == (
        "error: plan.json was made for shard 1/2, not shard 2/2: apply it with "
        "`octoplan apply --shard 1/2 plan.json`, or make a plan for shard 2/2 with "
        "`octoplan plan --shard 2/2 -o plan.json`\n"
    )
    assert [r.path for r in sandbox.requests() if "wallet" not in r.path] == []

    applied = run_cli("apply", "plan.json", cwd=project, env=sandbox.env())
    assert applied.returncode == 0, applied.stderr
    delivered = [d.recipient for d in sandbox.deliveries()]
    shard = Partition(1, 2)
    mine = [n for n in numbers(20) if shard.contains(n)]
    assert sorted(delivered) == sorted(mine * 2)  # both campaigns, shard 1's recipients
    assert 0 < len(mine) < 20

    whole = run_cli("plan", "-o", "whole.json", cwd=project, env=sandbox.env())
    assert whole.returncode == 0, whole.stderr
    asked = run_cli("apply", "--shard", "2/2", "whole.json", cwd=project, env=sandbox.env())
    assert asked.returncode == 1
    assert asked.stderr == (
        "error: whole.json was made for all recipients (no --shard), not shard 2/2: apply it "
        "with `octoplan apply whole.json`, or make a plan for shard 2/2 with "
        "`octoplan plan --shard 2/2 -o whole.json`\n"
    )
    assert len(sandbox.deliveries()) == len(delivered)


ROLLOUT = """\
id: promo
channel: sms
purpose: alert
text: "{{ contact.first_name }}, -20% chez ShopX"
contacts: [contacts/customers.csv]
rollout:
  - percent: 20
  - percent: 100
    wait: 1d
"""


def test_a_rollout_stage_is_split_between_the_shards(
    make_project: MakeProject, sandbox: SandboxServer
) -> None:
    root = make_project(
        {"campaigns/promo.yaml": ROLLOUT, "contacts/customers.csv": customers(400)},
        config=CONFIG,
    )
    whole = plan_json(root, sandbox)["campaigns"][0]
    shards = [plan_json(root, sandbox, "--shard", f"{i}/2")["campaigns"][0] for i in (1, 2)]
    assert whole["rollout"]["stage"] == 1
    assert [c["rollout"]["stage"] for c in shards] == [1, 1]
    # The stage's cohort, split: each shard sends its share (independent draws), together
    # the whole cohort, none twice.
    sizes = [c["messages_to_send"] for c in shards]
    assert sum(sizes) == whole["messages_to_send"]
    assert all(0.3 * whole["messages_to_send"] < size for size in sizes), sizes
    recipients: Counter[str] = Counter()
    for c in shards:
        recipients.update(r for b in c["batches"] for r in b["recipients"])
    assert recipients == Counter(r for b in whole["batches"] for r in b["recipients"])
    held = [c["rollout"]["held_back"] for c in shards]
    assert sum(held) == whole["rollout"]["held_back"]


def test_saved_plans_of_every_shard_are_applied_one_after_another(
    project: Path, sandbox: SandboxServer
) -> None:
    # The matrix of a reviewed split: each shard's plan saved first, then applied in turn.
    # Each apply writes to the state (a newer serial), which does not make the plans of the
    # other shards stale: they send the very requests they said.
    for index in (1, 2, 3):
        saved = run_cli(
            "plan", "--shard", f"{index}/3", "-o", f"plan{index}.json", cwd=project,
            env=sandbox.env(),
        )  # fmt: skip
        assert saved.returncode == 0, saved.stderr
    whole = run_cli("plan", "-o", "whole.json", cwd=project, env=sandbox.env())
    assert whole.returncode == 0, whole.stderr
    for index in (2, 3, 1):
        applied = run_cli("apply", f"plan{index}.json", cwd=project, env=sandbox.env())
        assert applied.returncode == 0, applied.stdout + applied.stderr
    assert sorted(d.recipient for d in sandbox.deliveries()) == sorted(numbers(20) * 2)

    sent = len(sandbox.deliveries())
    # Applied once, a shard's plan is stale: it would now send nothing.
    again = run_cli("apply", "plan1.json", cwd=project, env=sandbox.env())
    assert again.returncode == 1
    assert again.stderr.startswith("error: plan1.json: stale plan: state changed since it was made")
    # An unsharded plan made before is refused as ever: the state moved on.
    whole = run_cli("apply", "whole.json", cwd=project, env=sandbox.env())
    assert whole.returncode == 1
    assert whole.stderr.startswith("error: whole.json: stale plan: state changed since it was made")
    assert len(sandbox.deliveries()) == sent


def test_a_plan_file_with_an_impossible_shard_is_refused(
    project: Path, sandbox: SandboxServer
) -> None:
    saved = run_cli("plan", "--shard", "1/2", "-o", "plan.json", cwd=project, env=sandbox.env())
    assert saved.returncode == 0, saved.stderr
    data = json.loads((project / "plan.json").read_text())
    data["shard"]["index"] = 3
    (project / "plan.json").write_text(json.dumps(data))
    shown = run_cli("show", "plan.json", cwd=project)
    assert shown.returncode == 1
    assert shown.stderr == (
        "error: plan.json: not a plan file written by `octoplan plan -o`: shard: value error, "
        "index 3 is over count 2\n"
    )


SEEDED = """\
id: promo
channel: sms
purpose: alert
text: "{{ contact.first_name | default('Hi') }}, -20% chez ShopX"
contacts: [contacts/customers.csv]
rollout:
  - seed: contacts/seed.csv
  - percent: 50
    wait: 2h
  - percent: 100
"""
SEED = "+33699999999"


def test_a_shard_without_seed_recipients_waits_for_the_seed_stage(
    make_project: MakeProject, sandbox: SandboxServer
) -> None:
    # The seed stage is started by the shard holding the seed number; the other shard sends
    # nothing until then (never the next stage's cohort, whose wait runs from the seed's send).
    root = make_project(
        {
            "campaigns/promo.yaml": SEEDED,
            "contacts/customers.csv": customers(40),
            "contacts/seed.csv": f"phone_number\n{SEED}\n",
        },
        config=CONFIG,
    )
    seeded = shard_of(SEED, 2)
    shards = [plan_json(root, sandbox, "--shard", f"{i}/2")["campaigns"][0] for i in (1, 2)]
    assert [c["rollout"]["stage"] for c in shards] == [1, 1]
    assert [c["messages_to_send"] for c in shards] == [1 if i == seeded else 0 for i in (1, 2)]

    for index in (3 - seeded, seeded):
        applied = run_cli(
            "apply", "--auto-approve", "--shard", f"{index}/2", cwd=root, env=sandbox.env()
        )
        assert applied.returncode == 0, applied.stdout + applied.stderr
    assert [d.recipient for d in sandbox.deliveries()] == [SEED]
    # Now the seed stage has started: both shards wait its 2 hours.
    for index in (1, 2):
        waiting = plan_json(root, sandbox, "--shard", f"{index}/2")["campaigns"][0]
        assert (waiting["rollout"]["stage"], waiting["messages_to_send"]) == (1, 0)
