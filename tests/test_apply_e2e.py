"""plan -> apply end to end: the real CLI, the real sandbox over HTTP, real state.

Every assertion about what was sent is read back from the sandbox's delivery log.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from octoplan.sandbox import SandboxServer
from tests.fixtures.project import MakeProject, run_cli, write_files
from tests.fixtures.sandbox import SandboxFactory

CONFIG = """\
region: FR
defaults: {sender: ShopX}
pricing: {currency: EUR, sms: {FR: 0.05, default: 0.06}}
"""


def numbers(start: int, count: int) -> list[str]:
    return [f"+3361234{i:04d}" for i in range(start, start + count)]


def contacts_csv(start: int, count: int) -> str:
    rows = ["phone_number,first_name,tier"]
    rows += [
        f"{n},Name{i},{'vip' if i % 3 == 0 else 'std'}"
        for i, n in enumerate(numbers(start, count), start)
    ]
    return "\n".join(rows) + "\n"


CAMPAIGN = """\
id: promo
channel: sms
purpose: alert
batch_size: {batch_size}
text: "{text}"
contacts: [contacts/customers.csv]
"""
TEXT = (
    "{{ contact.first_name }}, "
    "{% if contact.tier == 'vip' %}-40%{% else %}-20%{% endif %} chez ShopX"
)


def campaign(text: str = TEXT, batch_size: int = 500) -> str:
    return CAMPAIGN.format(text=text, batch_size=batch_size)


def expected_text(i: int, vip: str = "-40%", std: str = "-20%") -> str:
    return f"Name{i}, {vip if i % 3 == 0 else std} chez ShopX"


@pytest.fixture
def project(make_project: MakeProject) -> Path:
    return make_project(
        {"campaigns/promo.yaml": campaign(), "contacts/customers.csv": contacts_csv(0, 7)},
        config=CONFIG,
    )


def apply(root: Path, server: SandboxServer, *args: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return run_cli("apply", "--auto-approve", *args, cwd=root, env={**server.env(), **(env or {})})


def delivered(server: SandboxServer) -> dict[str, str]:
    deliveries = server.deliveries()
    counts = Counter(d.recipient for d in deliveries)
    assert [k for k, n in counts.items() if n > 1] == []
    return {d.recipient: d.text for d in deliveries}


def sends(server: SandboxServer) -> list[Any]:
    """The requests the sandbox got, but for reads of the account's credit (apply reads it
    before the first request: SPEC §7)."""
    return [r for r in server.requests() if r.path != "/v1/public/wallet/check-balance"]


def plan_json(root: Path, *args: str, env: dict[str, str] | None = None) -> dict:  # type: ignore[type-arg]
    result = run_cli("plan", "--format", "json", *args, cwd=root, env=env)
    assert result.returncode == 0, result.stderr
    data: dict = json.loads(result.stdout)  # type: ignore[type-arg]
    return data


def test_apply_delivers_each_rendered_message_exactly_once(
    project: Path, sandbox: SandboxServer
) -> None:
    rendered = run_cli("render", "promo", "--format", "json", cwd=project)
    assert rendered.returncode == 0, rendered.stderr
    previews = {r["recipient"]: r["text"] for r in json.loads(rendered.stdout)}

    result = apply(project, sandbox)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "Apply complete: 7 messages sent in 2 requests" in result.stdout
    assert delivered(sandbox) == {n: expected_text(i) for i, n in enumerate(numbers(0, 7))}
    assert delivered(sandbox) == previews
    # Server-side personalization: one request per branch of the template (vip or not),
    # each carrying several different texts.
    assert len(sends(sandbox)) == 2


def test_second_apply_sends_no_request_and_plan_shows_no_changes(
    project: Path, sandbox: SandboxServer
) -> None:
    first = run_cli("plan", "--detailed-exitcode", cwd=project)
    assert first.returncode == 2, first.stderr
    assert apply(project, sandbox).returncode == 0
    requests = len(sandbox.requests())

    again = apply(project, sandbox)

    assert again.returncode == 0, again.stderr
    assert "No changes. 7 messages already sent." in again.stdout
    assert len(sandbox.requests()) == requests
    plan = run_cli("plan", "--detailed-exitcode", cwd=project)
    assert plan.returncode == 0
    assert "promo (sms, campaigns/promo.yaml): no changes (7 already sent)" in plan.stdout


def test_added_contacts_are_the_only_ones_sent(project: Path, sandbox: SandboxServer) -> None:
    assert apply(project, sandbox).returncode == 0
    write_files(project, {"contacts/customers.csv": contacts_csv(0, 10)})

    plan = plan_json(project)
    assert plan["campaigns"][0]["action"] == "update"
    assert plan["summary"]["messages_to_send"] == 3
    assert plan["summary"]["already_sent"] == 7
    result = apply(project, sandbox)

    assert result.returncode == 0, result.stderr
    assert delivered(sandbox) == {n: expected_text(i) for i, n in enumerate(numbers(0, 10))}


def test_text_changed_after_partial_send_goes_to_the_rest_only(
    project: Path, sandbox: SandboxServer
) -> None:
    assert apply(project, sandbox).returncode == 0
    write_files(
        project,
        {
            "contacts/customers.csv": contacts_csv(0, 9),
            "campaigns/promo.yaml": campaign(TEXT.replace("-40%", "-50%")),
        },
    )

    plan = run_cli("plan", cwd=project)
    assert plan.returncode == 0, plan.stderr
    assert (
        "note: the text changed for 3 recipients who already received the old one: they are "
        "not sent again; only recipients not yet sent get the new text" in plan.stdout
    )
    assert apply(project, sandbox).returncode == 0

    texts = delivered(sandbox)
    assert texts == {
        **{n: expected_text(i) for i, n in enumerate(numbers(0, 7))},
        **{n: expected_text(i, vip="-50%") for i, n in enumerate(numbers(0, 9)) if i >= 7},
    }


def test_two_plans_of_the_same_inputs_give_the_same_request_ids(
    project: Path, make_project: MakeProject
) -> None:
    def ids(root: Path) -> list[str]:
        plan = plan_json(root)
        return [b["request_id"] for c in plan["campaigns"] for b in c["batches"]]

    copy = make_project(
        {"campaigns/promo.yaml": campaign(), "contacts/customers.csv": contacts_csv(0, 7)},
        config=CONFIG,
    )
    assert ids(project) == ids(project) == ids(copy)
    assert len(ids(project)) == 2
    write_files(project, {"contacts/customers.csv": contacts_csv(0, 8)})
    assert ids(project) != ids(copy)


def test_saved_plan_applies_and_a_stale_one_is_refused(
    project: Path, sandbox: SandboxServer
) -> None:
    saved = run_cli("plan", "-o", "plan.json", cwd=project)
    assert saved.returncode == 0, saved.stderr
    old = run_cli("plan", "-o", "old.json", cwd=project)
    assert old.returncode == 0

    applied = run_cli("apply", "plan.json", cwd=project, env=sandbox.env())
    assert applied.returncode == 0, applied.stderr
    assert len(delivered(sandbox)) == 7

    stale = run_cli("apply", "old.json", cwd=project, env=sandbox.env())
    assert stale.returncode == 1
    assert stale.stderr.startswith("error: old.json: stale plan: state changed since it was made")
    assert len(sends(sandbox)) == 2


def test_saved_plan_is_refused_when_inputs_changed(project: Path, sandbox: SandboxServer) -> None:
    assert run_cli("plan", "-o", "plan.json", cwd=project).returncode == 0
    write_files(project, {"contacts/customers.csv": contacts_csv(0, 8)})

    result = run_cli("apply", "plan.json", cwd=project, env=sandbox.env())

    assert result.returncode == 1
    assert result.stderr == (
        "error: plan.json: stale plan: files changed since it was made: contacts/customers.csv "
        "(changed); run `octoplan plan -o plan.json` again and review it\n"
    )
    assert sandbox.requests() == []


def test_plan_file_holds_no_phone_number(project: Path) -> None:
    assert run_cli("plan", "-o", "plan.json", cwd=project).returncode == 0
    text = (project / "plan.json").read_text(encoding="utf-8")
    for number in numbers(0, 7):
        assert number not in text
        assert number[1:] not in text
    assert "+33 6•• •• •• 00" in text


def test_apply_without_credentials_names_the_variables(project: Path) -> None:
    result = run_cli("apply", "--auto-approve", cwd=project)
    assert result.returncode == 1
    assert result.stderr == (
        "error: no Octopush credentials: set OCTOPUSH_API_LOGIN and OCTOPUSH_API_KEY "
        "(missing: OCTOPUSH_API_LOGIN, OCTOPUSH_API_KEY), or use --sandbox to send to the "
        "local sandbox\n"
    )


def test_apply_without_a_terminal_needs_auto_approve(project: Path, sandbox: SandboxServer) -> None:
    result = run_cli("apply", cwd=project, env=sandbox.env())
    assert result.returncode == 1
    assert result.stderr.endswith(
        "error: apply needs confirmation but there is no terminal: review `octoplan plan` and "
        "rerun with --auto-approve, or apply a saved plan file\n"
    )
    assert sandbox.requests() == []


def test_max_cost_policy_refuses_before_sending(
    make_project: MakeProject, sandbox: SandboxServer
) -> None:
    root = make_project(
        {"campaigns/promo.yaml": campaign(), "contacts/customers.csv": contacts_csv(0, 7)},
        config=CONFIG + "policies: {max_cost: 0.2}\n",
    )
    result = apply(root, sandbox)
    assert result.returncode == 1
    assert result.stderr == (
        "octoplan.yaml:4:22: error: estimated cost 0.35 EUR of this plan is above "
        "policies.max_cost (0.20 EUR)\n"
        "  hint: split the campaigns across applies (--campaign ID), or raise policies.max_cost\n"
        "error: the plan has errors: nothing was sent\n"
    )
    assert sandbox.requests() == []


def test_sandbox_flag_needs_no_credentials_and_keeps_its_own_state(project: Path) -> None:
    result = run_cli("apply", "--sandbox", "--auto-approve", cwd=project)
    assert result.returncode == 0, result.stderr
    assert (
        "Apply complete: 7 messages sent in 2 requests, cost 0.35 EUR.\n"
        "  Environment: sandbox, the embedded local sandbox.\n" in result.stdout
    )
    assert (project / ".octoplan" / "sandbox.db").is_file()
    # Sandbox sends never count as real ones.
    real = plan_json(project)
    assert real["summary"]["messages_to_send"] == 7
    sandboxed = plan_json(project, "--sandbox")
    assert sandboxed["summary"]["already_sent"] == 7


def test_refusal_is_recorded_and_a_later_apply_retries_with_a_new_request_id(
    project: Path, sandbox_factory: SandboxFactory
) -> None:
    # A wrong key: the API refuses the first request (401) and octoplan stops there. (Not
    # enough credit would not do: apply reads the balance first and sends nothing.)
    server = sandbox_factory(api_login="shop@example.com", api_key="right-key")
    first = apply(project, server)
    assert first.returncode == 1
    assert "refused: promo request op-" in first.stdout
    assert "HTTP 401 code 101" in first.stdout
    assert server.deliveries() == []
    shown = run_cli("state", "show", "promo", "--format", "json", cwd=project)
    refused = {b["request_id"] for b in json.loads(shown.stdout)["batches"]}
    assert refused  # the requests that were in flight, all refused

    second = apply(project, server, env=server.env("shop@example.com", "right-key"))

    assert second.returncode == 0, second.stdout + second.stderr
    assert len(delivered(server)) == 7
    assert not refused & {d.request_id for d in server.deliveries()}


def test_unconfirmed_request_is_in_doubt_after_the_window_and_needs_resolve(
    project: Path, sandbox_factory: SandboxFactory
) -> None:
    batches = {
        b["request_id"]: b["recipient_count"] for b in plan_json(project)["campaigns"][0]["batches"]
    }
    down = sandbox_factory(fail_rate=1.0)
    first = apply(project, down)
    assert first.returncode == 1
    assert "2 requests got no answer after retries" in first.stdout

    # Within the API's 24 h memory of request_ids, a rerun resends under the same ids...
    sooner = plan_json(project, env={"OCTOPLAN_CLOCK_OFFSET": str(22 * 3600)})
    assert {b["request_id"]: b["kind"] for b in sooner["campaigns"][0]["batches"]} == {
        rid: "resume" for rid in batches
    }
    # Resent as journaled: the estimate recorded then, no parts counted again.
    assert [
        {k: v for k, v in b.items() if k != "request_id"} for b in sooner["campaigns"][0]["batches"]
    ] == [
        {
            "kind": "resume",
            "endpoint": "sms-campaign/send",
            "recipients": ["+33 6•• •• •• 00", "+33 6•• •• •• 03", "+33 6•• •• •• 06"],
            "recipient_count": 3,
            "segments": 0,
            "sms_parts": 0,
            "estimated_cost": 0.15,
            "send_at": None,
        },
        {
            "kind": "resume",
            "endpoint": "sms-campaign/send",
            "recipients": [
                "+33 6•• •• •• 01",
                "+33 6•• •• •• 02",
                "+33 6•• •• •• 04",
                "+33 6•• •• •• 05",
            ],
            "recipient_count": 4,
            "segments": 0,
            "sms_parts": 0,
            "estimated_cost": 0.2,
            "send_at": None,
        },
    ]
    # ... after it, never: the requests are in doubt and the plan says what to do.
    later = {"OCTOPLAN_CLOCK_OFFSET": str(25 * 3600)}
    up = sandbox_factory()
    plan = run_cli("plan", cwd=project, env=later)
    for rid, count in batches.items():
        assert (
            f"    in doubt: request {rid} ({count} recipients) was sent more than 23 h ago with "
            "no confirmation; it is never resent automatically. Check the Octopush dashboard, "
            f"then run `octoplan state resolve {rid} --sent` or `--not-sent`\n" in plan.stdout
        )
    again = apply(project, up, env=later)
    assert again.returncode == 0, again.stdout + again.stderr
    assert [r.path for r in up.requests() if r.method != "GET"] == []
    assert "2 requests are in doubt" in again.stdout

    (sent, sent_count), (not_sent, not_sent_count) = batches.items()
    for rid, flag in ((sent, "--sent"), (not_sent, "--not-sent")):
        resolved = run_cli("state", "resolve", rid, flag, cwd=project, env=later)
        assert resolved.returncode == 0, resolved.stderr
    final = apply(project, up, env=later)
    assert final.returncode == 0, final.stderr
    assert len(delivered(up)) == not_sent_count  # the ones resolved as sent are not resent
    assert f"{sent_count} already sent" in final.stdout
    done = run_cli("plan", "--detailed-exitcode", cwd=project, env=later)
    assert done.returncode == 0, done.stdout


def test_mangled_answers_never_count_as_sent_and_a_rerun_sends_each_message_once(
    project: Path, sandbox: SandboxServer, hostile_proxy: Any
) -> None:
    write_files(project, {"campaigns/promo.yaml": campaign(batch_size=2)})
    first, second, third, lost = [
        b["request_id"] for c in plan_json(project)["campaigns"] for b in c["batches"]
    ]
    never = [f"never-{m}" for m in ("error-200", "html-200", "truncated", "cut", "html-502")]
    proxy = hostile_proxy(
        sandbox,
        {
            # accepted by the API, but the answer mangled on the way back (then passed)
            first: ["truncated", "html-200"],
            second: ["huge", "cut", "error-200"],
            third: ["html-502"],
            # never reaching the API: a hostile answer to every attempt (1 + 5 retries)
            lost: [*never, "never-huge"],
        },
    )

    result = run_cli("apply", "--auto-approve", cwd=project, env=proxy.env())

    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert "3 requests were confirmed by the API as already received" in result.stdout
    assert "1 request got no answer after retries" in result.stdout
    assert {d.request_id for d in sandbox.deliveries()} == {first, second, third}
    assert len(delivered(sandbox)) == 5
    plan = plan_json(project)  # the lost request is still to send, under the same request_id
    assert [b["request_id"] for b in plan["campaigns"][0]["batches"]] == [lost]
    assert plan["summary"]["already_sent"] == 5

    rerun = apply(project, sandbox)

    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert delivered(sandbox) == {n: expected_text(i) for i, n in enumerate(numbers(0, 7))}


def test_voice_on_list_goes_through_create_status_send(
    make_project: MakeProject, sandbox: SandboxServer
) -> None:
    root = make_project(
        {
            "campaigns/call.yaml": (
                "channel: voice_sms\npurpose: alert\non_list: true\nlist_name: rappel\n"
                "metadata: {voice_gender: female, voice_language: fr-FR}\n"
                'text: "Bonjour {{ contact.first_name }}, votre colis arrive demain."\n'
                "contacts: [contacts/customers.csv]\n"
            ),
            "contacts/customers.csv": contacts_csv(0, 3),
        },
        config=CONFIG,
    )

    result = apply(root, sandbox)

    assert result.returncode == 0, result.stdout + result.stderr
    assert delivered(sandbox) == {
        n: f"Bonjour Name{i}, votre colis arrive demain." for i, n in enumerate(numbers(0, 3))
    }
    paths = [r.path.removeprefix("/v1/public/") for r in sends(sandbox)]
    assert paths[0] == "voice-campaign-on-list/create"
    assert "voice-campaign-on-list/status" in paths
    assert paths[-1] == "voice-campaign-on-list/send"
    # One request: the API personalized the three texts itself.
    assert paths.count("voice-campaign-on-list/create") == 1
    assert apply(root, sandbox).stdout.startswith("  call (voice_sms")


SCHEDULED = """\
id: promo
channel: sms
purpose: alert
send_at: 2027-01-05T10:00:00+01:00
text: "{{ contact.first_name }}, rendez-vous demain"
contacts: [contacts/customers.csv]
"""


def scheduled(server: SandboxServer) -> dict[str, str]:
    return {d.recipient: d.status for d in server.deliveries()}


def test_removed_recipient_of_a_scheduled_send_cancels_it_and_replans_the_rest(
    make_project: MakeProject, sandbox: SandboxServer
) -> None:
    root = make_project(
        {"campaigns/promo.yaml": SCHEDULED, "contacts/customers.csv": contacts_csv(0, 3)},
        config=CONFIG,
    )
    assert apply(root, sandbox).returncode == 0
    assert set(scheduled(sandbox).values()) == {"scheduled"}
    write_files(root, {"contacts/customers.csv": contacts_csv(0, 2)})

    plan = run_cli("plan", cwd=root)
    assert "~ promo (sms, campaigns/promo.yaml): update: 2 messages in 1 request" in plan.stdout
    assert "- cancel scheduled request op-" in plan.stdout
    result = apply(root, sandbox)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 scheduled request cancelled." in result.stdout
    live = [d for d in sandbox.deliveries() if d.status == "scheduled"]
    assert sorted(d.recipient for d in live) == numbers(0, 2)
    assert run_cli("plan", "--detailed-exitcode", cwd=root).returncode == 0


def test_deleted_campaign_file_cancels_its_scheduled_sends(
    make_project: MakeProject, sandbox: SandboxServer
) -> None:
    root = make_project(
        {"campaigns/promo.yaml": SCHEDULED, "contacts/customers.csv": contacts_csv(0, 3)},
        config=CONFIG,
    )
    assert apply(root, sandbox).returncode == 0
    (root / "campaigns/promo.yaml").unlink()

    plan = run_cli("plan", cwd=root)
    assert "- promo (sms, file removed): cancel: cancel 1 scheduled request" in plan.stdout
    result = apply(root, sandbox)

    assert result.returncode == 0, result.stdout + result.stderr
    assert set(scheduled(sandbox).values()) == {"cancelled"}


def test_quiet_apply_prints_only_the_outcome(project: Path, sandbox: SandboxServer) -> None:
    env = sandbox.env()
    result = run_cli("--quiet", "apply", "--auto-approve", cwd=project, env=env)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == (
        "Apply complete: 7 messages sent in 2 requests, cost 0.32 EUR.\n"
        f"  Environment: default, {sandbox.base_url}.\n"
        f"  Residual credit: {sandbox.credit():,.2f}.\n"
    )
    again = run_cli("-q", "apply", "--auto-approve", cwd=project, env=env)
    assert (again.returncode, again.stdout, again.stderr) == (
        0,
        "No changes. 7 messages already sent.\n",
        "",
    )


def test_verbose_apply_shows_requests_progress_and_timings(
    project: Path, sandbox: SandboxServer
) -> None:
    result = run_cli("-v", "apply", "--auto-approve", cwd=project, env=sandbox.env())
    assert result.returncode == 0, result.stderr
    assert len(re.findall(r"^    \+ request op-[0-9a-f]{32}: ", result.stdout, re.M)) == 2
    state = re.escape(str(project / ".octoplan" / "state.db"))
    assert re.fullmatch(
        r"loaded 1 campaign in \d+\.\d\d s\n"
        rf"planned against state {state} \(serial 0\) in \d+\.\d\d s\n"
        r"Credit: ok: est\. 0\.35 EUR of [\d,.]+ EUR \([\d,]+ sms_premium\)\.\n"
        r"1/2 requests: 1 sent \([1-6]/7 messages sent\)\n"  # one line per request with -v
        r"2/2 requests: 2 sent \(7/7 messages sent\)\n"
        r"sent in \d+\.\d\d s\n",
        result.stderr,
    )
