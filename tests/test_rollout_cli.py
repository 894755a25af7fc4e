"""`rollout:` stages (issue 17, SPEC §9) through the real CLI and the sandbox: one stage per
apply, exact cohorts across reruns and new contacts, `wait` holding then releasing as the
clock moves, gates holding and releasing on delivery reports received by `octoplan receive`,
and the validation of the block. On SQLite and PostgreSQL where state matters."""

from __future__ import annotations

import json
import zlib
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from octoplan.sandbox import SandboxServer
from tests.fixtures.project import MakeProject, run_cli, write_files
from tests.fixtures.receiver import start_receiver, start_sandbox, wait_for
from tests.test_receive_e2e import campaign_status

SEED = "phone_number,first_name\n+33699999901,Me\n+33699999902,You\n"
PROMO = """\
channel: sms
sender: ShopX
text: "{{ contact.first_name }}, -30% chez ShopX. STOP au 30101"
contacts: [contacts/customers.csv]
rollout:
  - seed: contacts/seed.csv
  - percent: 10
    wait: 2h
  - percent: 100
    wait: 1d
"""


def customers(numbers: list[str]) -> str:
    return "phone_number,first_name\n" + "".join(f"{n},N{i}\n" for i, n in enumerate(numbers))


def numbers(first: int, count: int) -> list[str]:
    return [f"+3361{i:07d}" for i in range(first, first + count)]


def cohort(keys: list[str], percent: int, campaign: str = "promo") -> set[str]:
    """The rule docs/rollouts.md states: CRC-32 of "<campaign id>\\n<identity>" below P% of 2^32."""
    return {k for k in keys if zlib.crc32(f"{campaign}\n{k}".encode()) < percent * 2**32 // 100}


def sent_to(server: SandboxServer) -> Counter[str]:
    return Counter(d.recipient for d in server.deliveries())


def plan_json(root: Path, env: dict[str, str]) -> dict[str, Any]:
    result = run_cli("plan", "--format", "json", cwd=root, env=env)
    assert result.returncode == 0, result.stderr
    found: dict[str, Any] = json.loads(result.stdout)["campaigns"][0]
    return found


def apply(root: Path, env: dict[str, str]) -> str:
    result = run_cli("apply", "--auto-approve", cwd=root, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_a_rollout_advances_one_stage_per_apply_with_exact_cohorts(
    make_project: MakeProject, sandbox: SandboxServer, state_url: str
) -> None:
    audience = numbers(0, 200)
    root = make_project(
        {
            "campaigns/promo.yaml": PROMO,
            "contacts/customers.csv": customers(audience),
            "contacts/seed.csv": SEED,
        }
    )
    env = {**sandbox.env(), "OCTOPLAN_STATE": state_url}
    first = plan_json(root, env)
    assert first["rollout"] == {
        "stage": 1,
        "stages": 3,
        "label": "seed",
        "seed": "contacts/seed.csv",
        "starts": True,
        "started_at": None,
        "to_send": 2,
        "held_back": 200,
        "next": {
            "stage": 2,
            "label": "10%",
            "status": "after this stage",
            "reasons": [],
            "wait": "2h",
            "wait_until": None,
            "gate": [],
        },
        "complete": False,
    }
    assert [b["stage"] for b in first["batches"]] == ["seed"]

    # Apply 1: the seed list only (not the audience).
    apply(root, env)
    assert sent_to(sandbox) == Counter({"+33699999901": 1, "+33699999902": 1})
    # A rerun sends nothing: stage 2 waits for the seed stage to be 2 hours old.
    apply(root, env)
    assert len(sandbox.deliveries()) == 2
    waiting = run_cli("plan", "--detailed-exitcode", cwd=root, env=env)
    assert (waiting.returncode, waiting.stderr) == (0, "")
    assert waiting.stdout == (
        "  promo (sms, campaigns/promo.yaml): no changes (2 already sent)\n"
        "    rollout: stage 1 of 3 (seed contacts/seed.csv) since 2026-11-24 09:00 UTC; "
        "200 held back for later stages\n"
        "    rollout: stage 2 (10%) waits: wait 2h: stage 1 (seed) started 2026-11-24 09:00 "
        "UTC, 2h left (until 2026-11-24 11:00 UTC)\n"
        "\n"
        "No changes. 2 messages already sent.\n"
    )

    # Two hours later, apply 2 sends exactly the 10% cohort, and only that stage.
    later = {**env, "OCTOPLAN_NOW": "2026-11-24T12:00:00+01:00"}
    apply(root, later)
    ten = cohort(audience, 10)
    assert 10 < len(ten) < 35
    assert set(sent_to(sandbox)) == ten | {"+33699999901", "+33699999902"}
    apply(root, later)  # a rerun: stage 3 waits a day
    assert len(sandbox.deliveries()) == len(ten) + 2
    held = plan_json(root, later)["rollout"]
    assert (held["stage"], held["starts"], held["to_send"], held["held_back"]) == (
        2,
        False,
        0,
        200 - len(ten),
    )
    assert held["next"]["status"] == "waiting"
    assert held["next"]["wait_until"] == "2026-11-25T11:00:00+00:00"
    outside = sorted(set(audience) - ten)[0]
    explained = run_cli("explain", outside, cwd=root, env=later)
    assert explained.returncode == 0, explained.stderr
    assert explained.stdout == (
        f"{outside}\n\npromo (sms, marketing; campaigns/promo.yaml): to send\n"
        "    in the cohort of rollout stage 3 (100%); the rollout is at stage 2: sent by the "
        "apply that starts stage 3\n"
    )

    # New contacts join by the same rule: those in the 10% cohort go out at the next apply
    # (the stage does not advance), the others wait; nobody is sent twice.
    grown = audience + numbers(500, 100)
    write_files(root, {"contacts/customers.csv": customers(grown)})
    newcomers = cohort(numbers(500, 100), 10)
    assert newcomers
    planned = plan_json(root, later)
    assert planned["rollout"]["stage"] == 2 and planned["messages_to_send"] == len(newcomers)
    apply(root, later)
    assert set(sent_to(sandbox)) == cohort(grown, 10) | {"+33699999901", "+33699999902"}

    # A day later, apply 3 sends everyone left, once; then the rollout is complete.
    day_after = {**env, "OCTOPLAN_NOW": "2026-11-25T12:30:00+01:00"}
    apply(root, day_after)
    counts = sent_to(sandbox)
    assert set(counts) == set(grown) | {"+33699999901", "+33699999902"}
    assert max(counts.values()) == 1
    done = run_cli("plan", cwd=root, env=day_after)
    assert done.stdout == (
        "  promo (sms, campaigns/promo.yaml): no changes (300 already sent)\n"
        "    rollout: stage 3 of 3 (100%) since 2026-11-25 11:30 UTC; rollout complete\n"
        "\n"
        "No changes. 300 messages already sent.\n"
    )
    assert apply(root, day_after).startswith("  promo (sms, campaigns/promo.yaml): no changes")
    assert len(sandbox.deliveries()) == 302


def test_the_plan_shows_the_stage_in_markdown_and_in_a_saved_plan(
    make_project: MakeProject, tmp_path: Path
) -> None:
    root = make_project(
        {
            "campaigns/promo.yaml": PROMO,
            "contacts/customers.csv": customers(numbers(0, 50)),
            "contacts/seed.csv": SEED,
        }
    )
    markdown = run_cli("plan", "--sandbox", "--format", "markdown", cwd=root)
    assert markdown.returncode == 0, markdown.stderr
    assert (
        "- Rollout: stage 1 of 3 (seed contacts/seed.csv) starts: 2 recipients of the seed "
        "list; 50 held back for later stages\n"
        "- Rollout: stage 2 (10%): at a later apply, once this stage is sent\n"
    ) in markdown.stdout
    saved = tmp_path / "plan.json"
    assert run_cli("plan", "--sandbox", "-o", str(saved), cwd=root).returncode == 0
    shown = run_cli("show", str(saved), cwd=root)
    assert shown.returncode == 0, shown.stderr
    assert (
        "    rollout: stage 1 of 3 (seed contacts/seed.csv) starts: 2 recipients of the seed "
        "list; 50 held back for later stages\n"
    ) in shown.stdout
    applied = run_cli("apply", "--sandbox", str(saved), cwd=root)
    assert applied.returncode == 0, applied.stderr
    assert "Apply complete: 2 messages sent in 1 request" in applied.stdout


GATED = """\
channel: sms
sender: ShopX
text: "Soldes -20% ! STOP au 30101"
contacts: [contacts/customers.csv]
rollout:
  - percent: 25
  - percent: 100
    gate:
      min_delivered_rate: 0.9
      max_stop_rate: {stop}
"""


@pytest.mark.usefixtures("processes")  # the receivers and the sandbox it starts are stopped
def test_a_gate_waits_for_reports_blocks_on_a_stop_and_releases(
    make_project: MakeProject, state_url: str
) -> None:
    audience = numbers(0, 40)
    root = make_project(
        {
            "campaigns/promo.yaml": GATED.format(stop=0),
            "contacts/customers.csv": customers(audience),
        }
    )
    # The receiver is down while the first stage goes out: its reports wait in the sandbox,
    # which posts them again until they are taken (and the gate cannot have seen any).
    receiver = start_receiver(root, {"OCTOPLAN_STATE": state_url})
    port = receiver.url.rsplit(":", 1)[1]
    assert receiver.stop()[0] == 0
    sandbox = start_sandbox(root, "--callback-url", receiver.callback_url)
    env = {
        "OCTOPUSH_BASE_URL": sandbox.url,
        "OCTOPUSH_API_LOGIN": "me@example.com",
        "OCTOPUSH_API_KEY": "any-key",
        "OCTOPLAN_STATE": state_url,
    }
    quarter = cohort(audience, 25)
    apply(root, env)
    stage = campaign_status(root, env, "promo")
    assert stage["sent"] == len(quarter)

    # No report yet: the gate waits, and an apply sends nothing.
    early = plan_json(root, env)
    assert early["messages_to_send"] == 0
    assert early["rollout"]["next"]["status"] == "waiting"
    assert early["rollout"]["next"]["reasons"] == [
        f"gate: no delivery report yet for the {len(quarter)} sent in stage 1 (25%)"
    ]

    apply(root, env)
    assert campaign_status(root, env, "promo")["sent"] == len(quarter)
    start_receiver(root, {"OCTOPLAN_STATE": state_url}, "--port", port)
    wait_for(lambda: campaign_status(root, env, "promo"), lambda c: c.get("pending") == 0)
    # The reports in, all delivered: the gate releases the next stage (planned, not applied).
    released = plan_json(root, env)
    assert released["rollout"]["stage"] == 2 and released["rollout"]["starts"] is True
    assert released["messages_to_send"] == 40 - len(quarter)
    # One recipient of the first stage replies STOP: with max_stop_rate 0 the rollout stops.
    sandbox_root = sandbox.url.removesuffix("/v1/public")
    stopper = sorted(quarter)[0]
    reply = httpx.post(f"{sandbox_root}/_sandbox/reply", json={"number": stopper, "text": "STOP"})
    assert reply.status_code == 201
    wait_for(lambda: campaign_status(root, env, "promo"), lambda c: c.get("stops") == 1)
    blocked = run_cli("plan", cwd=root, env=env)
    assert blocked.returncode == 0, blocked.stderr
    rate = f"{100 / len(quarter):.1f}%"
    assert blocked.stdout == (
        f"  promo (sms, campaigns/promo.yaml): no changes ({len(quarter)} already sent)\n"
        f"    campaigns/promo.yaml:10:22: warning: campaign promo: rollout stopped before "
        f"stage 2 (100%): STOP rate {rate} > max_stop_rate 0.0% (1 STOP reply of "
        f"{len(quarter)} sent)\n"
        "      hint: see `octoplan status promo`; to go on anyway, change the threshold or "
        "remove the gate\n"
        f"    rollout: stage 1 of 2 (25%) since 2026-11-24 09:00 UTC; "
        f"{40 - len(quarter)} held back for later stages\n"
        f"    rollout: stage 2 (100%) is blocked by its gate: STOP rate {rate} > max_stop_rate "
        f"0.0% (1 STOP reply of {len(quarter)} sent)\n"
        "\n"
        f"No changes. {len(quarter)} messages already sent.\n"
    )
    gate = plan_json(root, env)["rollout"]["next"]["gate"]
    assert gate == [
        {
            "name": "min_delivered_rate",
            "threshold": 0.9,
            "value": 1.0,
            "ok": True,
            "detail": f"{len(quarter)} of {len(quarter)} sent delivered, 0 without a final report",
        },
        {
            "name": "max_stop_rate",
            "threshold": 0.0,
            "value": round(1 / len(quarter), 6),
            "ok": False,
            "detail": f"1 STOP reply of {len(quarter)} sent",
        },
    ]
    apply(root, env)
    assert campaign_status(root, env, "promo")["sent"] == len(quarter)

    # The threshold raised (a reviewed change), the next apply sends the rest: once each.
    write_files(root, {"campaigns/promo.yaml": GATED.format(stop=0.5)})
    apply(root, env)
    final = campaign_status(root, env, "promo")
    assert final["sent"] == 40
    sent = httpx.get(f"{sandbox_root}/_sandbox/deliveries").json()["deliveries"]
    recipients = Counter(d["recipient"] for d in sent)
    assert set(recipients) == set(audience) and max(recipients.values()) == 1


@pytest.mark.parametrize(
    ("rollout", "expected"),
    [
        (
            "rollout:\n  - percent: 50\n  - persent: 100\n",
            "campaigns/promo.yaml:7:5: error: unknown key 'persent' in rollout[1]\n"
            "  hint: did you mean 'percent'?\n",
        ),
        (
            "rollout:\n  - percent: 20\n  - percent: 10\n  - percent: 90\n",
            "campaigns/promo.yaml:7:14: error: rollout[1].percent must be more than the stage "
            "before's 20 (got 10)\n"
            "  hint: each stage reaches a larger share of the audience\n"
            "campaigns/promo.yaml:8:14: error: the last stage of rollout must be percent: 100 "
            "(got 90)\n"
            "  hint: add `- percent: 100` at the end, so that the whole audience is reached\n",
        ),
        (
            "rollout:\n  - percent: 5%\n  - percent: 100\n    gate: {max_stop_rate: 2, "
            "min_delivery_rate: 0.9}\n    wait: 1 day\n",
            "campaigns/promo.yaml:6:14: error: rollout[0].percent must be a whole number from 1 "
            "to 100 (got string '5%')\n"
            "  hint: write the number alone: percent: 5\n"
            "campaigns/promo.yaml:8:27: error: rollout[1].gate.max_stop_rate must be at most 1 "
            "(got 2)\n"
            "campaigns/promo.yaml:8:30: error: unknown key 'min_delivery_rate' in "
            "rollout[1].gate\n"
            "  hint: did you mean 'min_delivered_rate'?\n"
            "campaigns/promo.yaml:9:11: error: rollout[1].wait must be a duration such as 24h, "
            "30m or 1d12h (got '1 day')\n"
            "  hint: units: d (days), h (hours), m (minutes), s (seconds), largest first\n",
        ),
        (
            "rollout:\n  - percent: 10\n    wait: 2h\n  - seed: contacts/seeds.csv\n"
            "  - percent: 100\n    seed: contacts/seed.csv\n",
            "campaigns/promo.yaml:7:5: error: rollout[0].wait: the first stage has no stage "
            "before it to wait for\n"
            "  hint: move wait to the stage it should hold back (rollout[1])\n"
            "campaigns/promo.yaml:8:5: error: rollout[1]: a seed stage must be the first stage\n"
            "  hint: the seed list goes first, before any percentage of the audience\n"
            "campaigns/promo.yaml:8:11: error: seed file 'contacts/seeds.csv' not found\n"
            "  hint: did you mean 'contacts/seed.csv'? (paths are relative to the project)\n"
            "campaigns/promo.yaml:9:5: error: rollout[2] must have either seed or percent, "
            "not both\n"
            "  hint: e.g. `- seed: contacts/seed.csv` or `- percent: 5`\n",
        ),
        (
            "rollout:\n  - percent: 0\n  - percent: 150\n    gate: {min_delivered_rate: -0.5}\n",
            "campaigns/promo.yaml:6:14: error: rollout[0].percent must be at least 1 (got 0)\n"
            "campaigns/promo.yaml:7:14: error: rollout[1].percent must be at most 100 (got 150)\n"
            "campaigns/promo.yaml:8:32: error: rollout[1].gate.min_delivered_rate must be at "
            "least 0 (got -0.5)\n",
        ),
        (
            "rollout: []\n",
            "campaigns/promo.yaml:5:1: error: rollout has no stages\n"
            "  hint: list them, e.g. `- percent: 5` then `- percent: 100`; or remove rollout\n",
        ),
    ],
    ids=["unknown-key", "order", "values", "stages", "bounds", "empty"],
)
def test_a_bad_rollout_is_an_error_at_its_place(
    make_project: MakeProject, rollout: str, expected: str
) -> None:
    campaign = (
        'channel: sms\nsender: ShopX\ntext: "Soldes ! STOP au 30101"\n'
        "contacts: [contacts/customers.csv]\n" + rollout
    )
    root = make_project(
        {
            "campaigns/promo.yaml": campaign,
            "contacts/customers.csv": customers(numbers(0, 3)),
            "contacts/seed.csv": SEED,
        }
    )
    count = expected.count(": error: ")
    validated = run_cli("validate", cwd=root)
    assert (validated.returncode, validated.stdout) == (1, "")
    assert validated.stderr == expected + f"{count} error{'s' * (count > 1)} in 1 file\n"
    # Plan and apply refuse alike, before anything is read from or written to state.
    for command in (("plan", "--sandbox"), ("apply", "--sandbox", "--auto-approve")):
        result = run_cli(*command, cwd=root)
        assert (result.returncode, result.stdout) == (1, ""), command
        assert result.stderr.startswith(expected), (command, result.stderr)
    assert not (root / ".octoplan" / "sandbox-state.db").exists()


def test_rollout_with_send_at_or_in_defaults_is_refused(make_project: MakeProject) -> None:
    root = make_project(
        {
            "campaigns/promo.yaml": (
                'channel: sms\nsender: ShopX\ntext: "Soldes ! STOP au 30101"\n'
                "send_at: 2026-12-08T10:00:00+01:00\n"
                "contacts: [contacts/customers.csv]\nrollout:\n  - percent: 100\n"
            ),
            "contacts/customers.csv": customers(numbers(0, 3)),
        },
        "region: FR\ndefaults:\n  rollout: [{percent: 100}]\n",
    )
    result = run_cli("validate", cwd=root)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        "campaigns/promo.yaml:4:1: error: a campaign with rollout cannot have send_at: each "
        "stage is sent when an apply starts it\n"
        "  hint: remove send_at, and run `octoplan apply` when the first stage should go out\n"
        "octoplan.yaml:3:3: error: rollout cannot have a default: a campaign's stages, cohorts "
        "and gates are its own\n"
        "  hint: move it to the campaigns to release in stages\n"
        "2 errors in 2 files\n"
    )


def test_a_bad_seed_list_blocks_the_campaign_and_sends_nothing(make_project: MakeProject) -> None:
    root = make_project(
        {
            "campaigns/promo.yaml": PROMO,
            "contacts/customers.csv": customers(numbers(0, 5)),
            "contacts/seed.csv": "phone_number,first_name\n+33699999901,Me\n12,You\n",
        }
    )
    expected = "contacts/seed.csv:3:1: error: '12' is not a valid phone number for region FR\n"
    validated = run_cli("validate", cwd=root)
    assert (validated.returncode, validated.stdout) == (1, "")
    assert validated.stderr == expected + "1 error in 1 file\n"
    applied = run_cli("apply", "--sandbox", "--auto-approve", cwd=root)
    assert (applied.returncode, applied.stdout) == (1, "")
    assert applied.stderr == expected + "error: the plan has errors: nothing was sent\n"


def test_an_environment_with_its_own_audience_sends_to_it_at_once(
    make_project: MakeProject,
) -> None:
    # A rehearsal in staging goes to the seed audience the environment names, whole: the
    # rollout is the production audience's.
    root = make_project(
        {
            "campaigns/promo.yaml": PROMO,
            "contacts/customers.csv": customers(numbers(0, 50)),
            "contacts/seed.csv": SEED,
        },
        "region: FR\nenvironments:\n  staging:\n    sandbox: true\n"
        '    recipients: [{phone_number: "+33699999903", first_name: QA}]\n',
    )
    planned = run_cli("plan", "--env", "staging", "--format", "json", cwd=root)
    assert planned.returncode == 0, planned.stderr
    [campaign] = json.loads(planned.stdout)["campaigns"]
    assert "rollout" not in campaign
    assert (campaign["messages_to_send"], campaign["desired"]) == (1, 1)
