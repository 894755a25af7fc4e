"""`apply FILE` sends the reviewed plan or nothing: every refusal names what changed.

The real CLI, the real sandbox over HTTP; "nothing sent" is read from the sandbox's log.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from octoplan import __version__
from octoplan.sandbox import SandboxServer
from tests.fixtures.project import MakeProject, run_cli, write_files
from tests.fixtures.sandbox import SandboxFactory

CONFIG = "region: FR\ndefaults: {sender: ShopX}\n"
FILES = {
    "campaigns/promo.yaml": (
        "template: promo.sms.j2\nchannel: sms\npurpose: alert\ncontacts: [contacts/customers.csv]\n"
        "exclude: [contacts/optout.csv]\n"
    ),
    "campaigns/news.yaml": "text: Hello {{ contact.first_name }}\nchannel: sms\npurpose: alert\n"
    "contacts: [contacts/news.csv]\n",
    "templates/promo.sms.j2": '{% import "macros.j2" as m %}{{ m.hi(contact) }} -20%',
    "templates/macros.j2": "{% macro hi(c) %}Bonjour {{ c.first_name }}{% endmacro %}",
    "templates/unused.j2": "not read by any campaign",
    "contacts/customers.csv": "phone_number,first_name\n+33612340001,Ana\n+33612340002,Bo\n"
    "+33612340003,Cy\n",
    "contacts/optout.csv": "phone_number\n+33612340003\n",
    "contacts/news.csv": "phone_number,first_name\n+33612340009,Di\n",
}
AGAIN = "run `octoplan plan -o plan.json` again and review it"


@pytest.fixture
def project(make_project: MakeProject) -> Path:
    root = make_project(FILES, CONFIG)
    saved = run_cli("plan", "-o", "plan.json", cwd=root)
    assert saved.returncode == 0, saved.stderr
    return root


def apply_saved(root: Path, sandbox: SandboxServer, *args: str) -> Any:
    return run_cli("apply", "plan.json", *args, cwd=root, env=sandbox.env())


def refused(root: Path, sandbox: SandboxServer, reason: str) -> None:
    result = apply_saved(root, sandbox)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == f"error: plan.json: {reason}\n"
    assert sandbox.requests() == []


def test_the_reviewed_plan_is_sent_when_nothing_changed(
    project: Path, sandbox: SandboxServer
) -> None:
    # An edit to a file no campaign reads changes nothing.
    write_files(project, {"templates/unused.j2": "still not read", "contacts/x.csv": "a\n"})
    result = apply_saved(project, sandbox)
    assert result.returncode == 0, result.stderr
    digest = json.loads((project / "plan.json").read_text())["digest"]
    assert result.stderr.startswith(f"Applying the reviewed plan plan.json (digest {digest[:12]}).")
    assert sorted(d.recipient for d in sandbox.deliveries()) == [
        "+33612340001",
        "+33612340002",
        "+33612340009",
    ]


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("contacts/customers.csv", FILES["contacts/customers.csv"] + "+33612340004,Ed\n"),
        ("contacts/optout.csv", "phone_number\n"),
        ("templates/macros.j2", "{% macro hi(c) %}Salut {{ c.first_name }}{% endmacro %}"),
        ("campaigns/news.yaml", FILES["campaigns/news.yaml"] + "batch_size: 10\n"),
        ("octoplan.yaml", CONFIG + "vars: {brand: ShopX}\n"),
    ],
    ids=["contacts", "exclude-list", "included-template", "campaign", "config"],
)
def test_a_changed_input_file_is_named_and_nothing_is_sent(
    project: Path, sandbox: SandboxServer, name: str, text: str
) -> None:
    write_files(project, {name: text})
    refused(
        project, sandbox, f"stale plan: files changed since it was made: {name} (changed); {AGAIN}"
    )


def test_a_campaign_merged_in_between_is_new_and_nothing_is_sent(
    project: Path, sandbox: SandboxServer
) -> None:
    write_files(
        project,
        {
            "campaigns/flash.yaml": "text: Flash\nchannel: sms\npurpose: alert\n"
            "recipients: [{phone_number: '+33612340005'}]\n"
        },
    )
    refused(
        project,
        sandbox,
        f"stale plan: files changed since it was made: campaigns/flash.yaml (new); {AGAIN}",
    )


def test_a_deleted_campaign_and_the_list_it_alone_used(
    project: Path, sandbox: SandboxServer
) -> None:
    (project / "campaigns/news.yaml").unlink()
    refused(
        project,
        sandbox,
        "stale plan: files changed since it was made: campaigns/news.yaml (deleted); " + AGAIN,
    )


def test_a_campaign_that_reads_another_list_now(project: Path, sandbox: SandboxServer) -> None:
    write_files(
        project,
        {
            "campaigns/news.yaml": FILES["campaigns/news.yaml"].replace("news.csv", "other.csv"),
            "contacts/other.csv": "phone_number\n+33612340007\n",
        },
    )
    refused(
        project,
        sandbox,
        "stale plan: files changed since it was made: campaigns/news.yaml (changed), "
        f"contacts/other.csv (new); {AGAIN}",
    )


def test_a_plan_made_by_another_octoplan_version_is_refused(
    project: Path, sandbox: SandboxServer
) -> None:
    data = json.loads((project / "plan.json").read_text())
    data["octoplan_version"] = "0.0.9"
    (project / "plan.json").write_text(json.dumps(data))
    refused(
        project,
        sandbox,
        f"the plan was made by octoplan 0.0.9 and this is octoplan {__version__}; "
        "run `octoplan plan -o plan.json` again with this version and review it",
    )
    del data["octoplan_version"], data["inputs"]  # as written before versions were recorded
    (project / "plan.json").write_text(json.dumps(data))
    refused(
        project,
        sandbox,
        f"the plan was made by an older octoplan and this is octoplan {__version__}; "
        "run `octoplan plan -o plan.json` again with this version and review it",
    )


def test_a_plan_that_does_not_show_a_campaign_that_would_send_is_refused(
    project: Path, sandbox: SandboxServer
) -> None:
    # Same files, same state, but the file does not have the campaign (edited by hand).
    data = json.loads((project / "plan.json").read_text())
    data["campaigns"] = [c for c in data["campaigns"] if c["id"] != "news"]
    data["digest"] = "0" * 64
    (project / "plan.json").write_text(json.dumps(data))
    refused(
        project,
        sandbox,
        "stale plan: campaign 'news' is not in the reviewed plan and would send 1 message in "
        f"1 request; {AGAIN}",
    )


def test_time_alone_changing_the_plan_names_the_campaign(
    project: Path, sandbox: SandboxServer, sandbox_factory: SandboxFactory
) -> None:
    # The API never answers the first send: the plan reviewed next resends it under the same
    # request_id. A day later the API has forgotten that id, so the plan would no longer
    # resend it (it is in doubt): the reviewed plan is refused, and says why.
    down = sandbox_factory(fail_rate=1.0)
    first = run_cli("apply", "--auto-approve", "--campaign", "news", cwd=project, env=down.env())
    assert first.returncode == 1, first.stderr
    assert run_cli("plan", "-o", "plan.json", cwd=project).returncode == 0
    result = run_cli(
        "apply", "plan.json", cwd=project, env={**sandbox.env(), "OCTOPLAN_CLOCK_OFFSET": "90000"}
    )
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        "error: plan.json: stale plan: campaign 'news' would now send nothing (reviewed: send "
        f"1 message in 1 request); {AGAIN}\n"
    )
    assert sandbox.requests() == []


def test_json_report_of_a_stale_plan_says_why_on_stdout(
    project: Path, sandbox: SandboxServer
) -> None:
    write_files(project, {"contacts/optout.csv": "phone_number\n"})
    digest = json.loads((project / "plan.json").read_text())["digest"]
    result = apply_saved(project, sandbox, "--format", "json")
    assert result.returncode == 1
    reason = (
        "plan.json: stale plan: files changed since it was made: contacts/optout.csv "
        f"(changed); {AGAIN}"
    )
    assert result.stderr == f"error: {reason}\n"
    assert json.loads(result.stdout) == {
        "format_version": "1",
        "octoplan_version": __version__,
        "status": "error",
        "plan": {"file": "plan.json", "digest": digest},
        "error": reason,
    }
    assert sandbox.requests() == []


def edited(root: Path, edit: Any) -> None:
    """Change the saved campaigns by hand (the digest no longer matches the plan)."""
    data = json.loads((root / "plan.json").read_text())
    edit(data["campaigns"])
    data["digest"] = "0" * 64
    (root / "plan.json").write_text(json.dumps(data))


def test_a_hand_edited_plan_names_each_campaign_that_differs(
    project: Path, sandbox: SandboxServer
) -> None:
    def edit(campaigns: list[dict[str, Any]]) -> None:
        news = next(c for c in campaigns if c["id"] == "news")
        ghost = json.loads(json.dumps(news))
        ghost["id"] = "ghost"  # a campaign the project does not have
        news["action"] = "blocked"
        promo = next(c for c in campaigns if c["id"] == "promo")
        promo["batches"].append({**promo["batches"][0], "kind": "cancel", "request_id": "op-x"})
        campaigns.append(ghost)

    edited(project, edit)
    refused(
        project,
        sandbox,
        "stale plan: campaign 'news' would now send 1 message in 1 request (reviewed: be "
        "blocked); campaign 'promo' would now send 2 messages in 1 request (reviewed: send "
        "2 messages in 1 request and cancel 1 scheduled request); campaign 'ghost' of the "
        f"reviewed plan is no longer planned; {AGAIN}",
    )


def test_a_reviewed_plan_that_sent_nothing_and_a_campaign_it_did_not_show(
    project: Path, sandbox: SandboxServer
) -> None:
    def edit(campaigns: list[dict[str, Any]]) -> None:
        promo = next(c for c in campaigns if c["id"] == "promo")
        promo["batches"] = []  # reviewed as sending nothing
        campaigns[:] = [promo]

    edited(project, edit)
    refused(
        project,
        sandbox,
        "stale plan: campaign 'news' is not in the reviewed plan and would send 1 message in 1 "
        "request; campaign 'promo' would now send 2 messages in 1 request (reviewed: send "
        f"nothing); {AGAIN}",
    )


def test_a_plan_file_has_its_own_scope_so_campaign_is_refused(
    project: Path, sandbox: SandboxServer
) -> None:
    result = apply_saved(project, sandbox, "--campaign", "news")
    assert (result.returncode, result.stdout, result.stderr) == (
        1,
        "",
        "error: --campaign cannot be combined with a plan file (the plan has its scope)\n",
    )
    assert sandbox.requests() == []
