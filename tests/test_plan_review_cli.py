"""Plans a reviewer can read (issue 19): saved plans shown again, the old and new text of a
change after a partial send, send_at, samples from different template branches, sent told
apart from scheduled, the sandbox's state, colour, --quiet, plurals."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.fixtures.project import MakeProject, run_cli
from tests.fixtures.sandbox import SandboxFactory, SandboxServer

CONFIG = "region: FR\ndefaults: {sender: ShopX}\n"
ONE = (
    'channel: sms\npurpose: alert\ntext: "Bonjour"\nrecipients: [{phone_number: "+33612345678"}]\n'
)


def test_one_recipient_is_one_recipient_in_every_format(make_project: MakeProject) -> None:
    root = make_project({"campaigns/ok.yaml": ONE}, CONFIG)
    markdown = run_cli("plan", "--format", "markdown", cwd=root).stdout
    assert re.search(r"\n\+ request op-[0-9a-f]{32}: 1 recipient\n", markdown)
    assert "(sms, create): 1 message, 0.04 EUR</summary>" in markdown
    assert "\n**1** message in **1** request, **1** SMS part, estimated **0.04 EUR**" in markdown
    assert "(s)" not in markdown
    assert " 1 recipients" not in markdown and " 1 messages" not in markdown


PROMO = (
    "channel: sms\npurpose: alert\n"
    'text: "{% if contact.city %}{{ contact.first_name }}, -30% a {{ contact.city }}'
    '{% else %}Bonjour {{ contact.first_name }}, -30%{% endif %}"\n'
    "contacts: [contacts/c.csv]\n"
)
NAMES = ["Axelle", "Bruno", "Chloe", "Damien", "Emma", "Fanny", "Gilles"]


def contacts(count: int) -> str:
    rows = [f"+3361234567{i},{NAMES[i]},{'' if i % 3 == 0 else 'Paris'}\n" for i in range(count)]
    return "phone_number,first_name,city\n" + "".join(rows)


def sandbox_plan(root: Path, *args: str) -> str:
    result = run_cli("plan", "--sandbox", *args, cwd=root)
    assert result.returncode == 0, result.stderr
    return result.stdout


def partly_sent_then_edited(make_project: MakeProject) -> Path:
    root = make_project({"campaigns/promo.yaml": PROMO, "contacts/c.csv": contacts(4)}, CONFIG)
    sent = run_cli("apply", "--sandbox", "--auto-approve", cwd=root)
    assert sent.returncode == 0, sent.stderr
    (root / "contacts" / "c.csv").write_text(contacts(7))
    (root / "campaigns" / "promo.yaml").write_text(PROMO.replace("-30%", "-40%"))
    return root


def test_a_change_after_a_partial_send_shows_the_old_and_new_text(
    make_project: MakeProject,
) -> None:
    root = partly_sent_then_edited(make_project)
    text = sandbox_plan(root)
    assert (
        "    note: the text changed for 4 recipients who already received the old one: they "
        "are not sent again; only recipients not yet sent get the new text\n"
        "      e.g. +33 6•• •• •• 71, sent before / now:\n"
        "      - Bruno, -30% a Paris\n"
        "      + Bruno, -40% a Paris\n"
    ) in text
    document = json.loads(sandbox_plan(root, "--format", "json"))
    assert document["campaigns"][0]["text_change"] == {
        "recipient": "+33 6•• •• •• 71",
        "old": "Bruno, -30% a Paris",
        "new": "Bruno, -40% a Paris",
    }
    markdown = sandbox_plan(root, "--format", "markdown")
    assert (
        "Sent before / now, e.g. to +33 6•• •• •• 71:\n\n"
        "```diff\n- Bruno, -30% a Paris\n+ Bruno, -40% a Paris\n```\n"
    ) in markdown


def test_the_change_is_not_repeated_once_the_new_text_went_out(
    make_project: MakeProject,
) -> None:
    root = partly_sent_then_edited(make_project)
    assert run_cli("apply", "--sandbox", "--auto-approve", cwd=root).returncode == 0
    text = sandbox_plan(root)
    assert text == (
        "  promo (sms, campaigns/promo.yaml): no changes (7 already sent)\n\n"
        "No changes. 7 messages already sent.\n"
    )
    assert (
        json.loads(sandbox_plan(root, "--format", "json"))["campaigns"][0]["changed_after_send"]
        == 4
    )


def test_an_edit_after_the_last_send_is_said_even_with_nothing_to_send(
    make_project: MakeProject,
) -> None:
    root = make_project({"campaigns/promo.yaml": PROMO, "contacts/c.csv": contacts(3)}, CONFIG)
    assert run_cli("apply", "--sandbox", "--auto-approve", cwd=root).returncode == 0
    (root / "campaigns" / "promo.yaml").write_text(PROMO.replace("-30%", "-50%"))
    text = sandbox_plan(root)
    assert "note: the text changed for 3 recipients who already received the old one" in text
    assert "      - Bruno, -30% a Paris\n      + Bruno, -50% a Paris\n" in text


def test_send_at_is_in_every_format(make_project: MakeProject) -> None:
    campaign = PROMO + "send_at: 2031-03-04T10:00:00+01:00\n"
    root = make_project({"campaigns/promo.yaml": campaign, "contacts/c.csv": contacts(2)}, CONFIG)
    assert (
        "+ promo (sms, campaigns/promo.yaml): create: 2 messages in 2 requests, 2 SMS parts, "
        "est. 0.09 EUR; send_at 2031-03-04T10:00:00+01:00\n"
    ) in sandbox_plan(root)
    campaign_json = json.loads(sandbox_plan(root, "--format", "json"))["campaigns"][0]
    assert campaign_json["send_at"] == "2031-03-04T10:00:00+01:00"
    assert "File: `campaigns/promo.yaml` · send_at 2031-03-04T10:00:00+01:00\n" in sandbox_plan(
        root, "--format", "markdown"
    )
    (root / "campaigns" / "promo.yaml").write_text(PROMO)
    assert "est. 0.09 EUR; sent when applied\n" in sandbox_plan(root)
    assert json.loads(sandbox_plan(root, "--format", "json"))["campaigns"][0]["send_at"] is None


def test_markdown_samples_come_from_different_template_branches(
    make_project: MakeProject,
) -> None:
    # Rows 0, 3 and 6 have no city: the first three samples used to be all from one branch.
    rows = "phone_number,first_name,city\n" + "".join(
        f"+336123456{i:02d},N{i},{'Paris' if i >= 5 else ''}\n" for i in range(10)
    )
    root = make_project({"campaigns/promo.yaml": PROMO, "contacts/c.csv": rows}, CONFIG)
    markdown = sandbox_plan(root, "--format", "markdown")
    samples = re.findall(r"^\| \+33 6•• •• •• \d\d \| (.*) \|$", markdown, re.M)
    assert samples == ["Bonjour N0, -30%", "N5, -30% a Paris", "Bonjour N1, -30%"]


def test_scheduled_is_told_apart_from_sent(make_project: MakeProject) -> None:
    later = PROMO.replace("purpose: alert", "purpose: alert\nsend_at: 2031-03-04T10:00:00+01:00")
    root = make_project(
        {"campaigns/promo.yaml": later, "campaigns/now.yaml": ONE, "contacts/c.csv": contacts(3)},
        CONFIG,
    )
    assert run_cli("apply", "--sandbox", "--auto-approve", cwd=root).returncode == 0
    assert sandbox_plan(root) == (
        "  now (sms, campaigns/now.yaml): no changes (1 already sent)\n"
        "  promo (sms, campaigns/promo.yaml): no changes (3 scheduled for later)\n\n"
        "No changes. 1 message already sent, 3 scheduled for later.\n"
    )
    (root / "contacts" / "c.csv").write_text(contacts(4))
    assert sandbox_plan(root).endswith("; 1 already sent, 3 scheduled for later.\n")
    summary = json.loads(sandbox_plan(root, "--format", "json"))["summary"]
    assert (summary["already_sent"], summary["scheduled"]) == (4, 3)


def test_the_old_text_of_an_email_is_read_back_too(make_project: MakeProject) -> None:
    email = (
        "channel: email\npurpose: alert\n"
        'text: "Bonjour {{ contact.first_name }},\\nvotre code: A1\\nA bientot"\n'
        "metadata: {email_from: news@shopx.example, subject: Hi, name_from: ShopX}\n"
        "recipients: [{email: axelle@example.com, first_name: Axelle}]\n"
    )
    root = make_project({"campaigns/mail.yaml": email}, CONFIG)
    assert run_cli("apply", "--sandbox", "--auto-approve", cwd=root).returncode == 0
    (root / "campaigns" / "mail.yaml").write_text(email.replace("A1", "B2"))
    assert (
        "      e.g. a•••@e•••.com, sent before / now:\n"
        "        Bonjour Axelle,\n"
        "      - votre code: A1\n"
        "      + votre code: B2\n"
        "        A bientot\n"
    ) in sandbox_plan(root)


def test_show_prints_a_saved_plan_as_plan_did(make_project: MakeProject) -> None:
    root = partly_sent_then_edited(make_project)
    saved = run_cli("plan", "--sandbox", "-o", "plan.json", cwd=root)
    assert saved.returncode == 0, saved.stderr
    for fmt in ("text", "markdown"):
        shown = run_cli("show", "plan.json", "--format", fmt, cwd=root)
        assert shown.returncode == 0, shown.stderr
        assert shown.stdout == sandbox_plan(root, "--format", fmt)
    as_json = run_cli("show", "plan.json", "--format", "json", cwd=root)
    assert json.loads(as_json.stdout) == json.loads((root / "plan.json").read_text())
    # From anywhere: the file alone, no project needed.
    elsewhere = run_cli("show", str(root / "plan.json"), cwd=root.parent)
    assert elsewhere.stdout == saved.stdout


def test_show_refuses_what_is_not_a_plan_file_cleanly(tmp_path: Path) -> None:
    (tmp_path / "junk.json").write_text('{"format_version": "1", "campaigns": {}}')
    result = run_cli("show", "junk.json", cwd=tmp_path)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        "error: junk.json: not a plan file written by `octoplan plan -o`: created_at is "
        "missing (and 3 more problems)\n"
    )
    (tmp_path / "junk.json").write_text("{}")
    for command in (["show", "junk.json"], ["apply", "junk.json", "--sandbox"]):
        (tmp_path / "campaigns").mkdir(exist_ok=True)
        result = run_cli(*command, cwd=tmp_path)
        assert "Error" not in result.stderr and "(KeyError)" not in result.stderr
        assert result.stderr.startswith(
            "error: junk.json: not a plan file written by `octoplan plan -o`: "
        )
    missing = run_cli("show", "nope.json", cwd=tmp_path)
    assert missing.stderr == "error: nope.json: no such plan file\n"


def test_a_sandbox_plan_file_gives_advice_that_works(make_project: MakeProject) -> None:
    root = make_project({"campaigns/ok.yaml": ONE}, CONFIG)
    saved = run_cli("plan", "--sandbox", "-o", "plan.json", cwd=root)
    assert saved.stderr == (
        "Plan saved to plan.json; apply it with `octoplan apply --sandbox plan.json`.\n"
    )
    assert json.loads((root / "plan.json").read_text())["sandbox"] is True
    wrong = run_cli("apply", "plan.json", cwd=root)
    assert (wrong.returncode, wrong.stderr) == (
        1,
        "error: plan.json was made for environment sandbox (the embedded local sandbox), not "
        "environment default (https://api.octopush.com/v1/public): apply it with `octoplan "
        "apply --sandbox plan.json`, or make a plan for this one with `octoplan plan -o "
        "plan.json`\n",
    )
    right = run_cli("apply", "--sandbox", "plan.json", cwd=root)
    assert right.returncode == 0, right.stderr
    assert "Apply complete: 1 message sent in 1 request" in right.stdout
    assert "  Environment: sandbox, the embedded local sandbox.\n" in right.stdout
    real = run_cli("plan", "-o", "real.json", cwd=root)
    assert real.stderr == "Plan saved to real.json; apply it with `octoplan apply real.json`.\n"
    mixed = run_cli("apply", "--sandbox", "real.json", cwd=root)
    assert mixed.stderr == (
        "error: real.json was made for environment default (https://api.octopush.com/v1/public), "
        "not environment sandbox (the embedded local sandbox): apply it with `octoplan apply "
        "real.json`, or make a plan for this one with `octoplan plan --sandbox -o real.json`\n"
    )


def test_a_stale_sandbox_plan_says_how_to_plan_again(make_project: MakeProject) -> None:
    root = make_project({"campaigns/ok.yaml": ONE}, CONFIG)
    assert run_cli("plan", "--sandbox", "-o", "plan.json", cwd=root).returncode == 0
    assert run_cli("apply", "--sandbox", "--auto-approve", cwd=root).returncode == 0
    stale = run_cli("apply", "--sandbox", "plan.json", cwd=root)
    assert stale.returncode == 1
    assert stale.stderr.endswith("run `octoplan plan --sandbox -o plan.json` again and review it\n")


def test_state_commands_read_the_sandbox_state_with_sandbox(make_project: MakeProject) -> None:
    root = make_project({"campaigns/ok.yaml": ONE}, CONFIG)
    assert run_cli("apply", "--sandbox", "--auto-approve", cwd=root).returncode == 0
    real = run_cli("state", "list", cwd=root)
    assert real.stdout == "No state yet at .octoplan/state.db: nothing has been applied.\n"
    assert real.stderr == (
        "(apply --sandbox records in the sandbox's own state: `octoplan state list --sandbox`)\n"
    )
    listed = run_cli("state", "list", "--sandbox", cwd=root)
    assert listed.returncode == 0, listed.stderr
    assert re.match(
        r"CAMPAIGN +BATCHES +SENT +PENDING +REFUSED +COST +LAST ACTIVITY\nok +1 +1 ", listed.stdout
    )
    shown = run_cli("state", "show", "ok", "--sandbox", "--format", "json", cwd=root)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["state"] == ".octoplan/sandbox-state.db"
    assert run_cli("state", "unlock", "--sandbox", cwd=root).stdout == "The state is not locked.\n"
    missing = run_cli("state", "show", "ok", cwd=root)
    assert missing.returncode == 1


def test_progress_counts_refused_requests_as_refused(
    make_project: MakeProject, sandbox_factory: SandboxFactory
) -> None:
    root = make_project({"campaigns/promo.yaml": PROMO, "contacts/c.csv": contacts(3)}, CONFIG)
    server = sandbox_factory()
    server.inject("deny400", "deny400")  # both requests refused (a payload the API rejects)
    result = run_cli("apply", "--auto-approve", cwd=root, env=server.env())
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert lines[-1] == "2/2 requests: 0 sent, 2 refused (0/3 messages sent)"
    assert all(
        re.fullmatch(r"([12])/2 requests: 0 sent, \1 refused \(0/3 messages sent\)", line)
        for line in lines
    )
    assert "Apply finished with problems: 0 messages sent in 0 requests" in result.stdout


def test_quiet_keeps_notes_and_warnings_out_of_stdout(make_project: MakeProject) -> None:
    # A warning (a field printed empty) and a note (a duplicate collapsed) in the plan.
    campaign = (
        "channel: sms\npurpose: alert\n"
        "text: \"Bonjour {{ contact.first_name | default('') }}, -30%\"\n"
        "contacts: [contacts/c.csv]\n"
    )
    rows = "phone_number,first_name\n+33612345670,Axelle\n+33612345671,\n+33612345670,Axelle\n"
    root = make_project({"campaigns/promo.yaml": campaign, "contacts/c.csv": rows}, CONFIG)
    loud = run_cli("plan", cwd=root)
    assert "warning:" in loud.stdout and "note: 1 duplicate recipient collapsed" in loud.stdout
    quiet = run_cli("-q", "plan", cwd=root)
    assert (quiet.returncode, quiet.stderr) == (0, "")
    assert quiet.stdout == (
        "+ promo (sms, campaigns/promo.yaml): create: 2 messages in 2 requests, 2 SMS parts, "
        "est. 0.09 EUR; sent when applied\n\n"
        "Environment: default, https://api.octopush.com/v1/public (real messages).\n"
        "Plan: 2 messages to send in 2 requests, 2 SMS parts, est. 0.09 EUR; 0 already sent.\n"
    )


@pytest.mark.postgres
def test_the_old_text_is_read_back_from_postgresql_too(
    make_project: MakeProject, sandbox: SandboxServer, pg_url: str
) -> None:
    root = make_project({"campaigns/promo.yaml": PROMO, "contacts/c.csv": contacts(4)}, CONFIG)
    env = {**sandbox.env(), "OCTOPLAN_STATE": pg_url}
    assert run_cli("apply", "--auto-approve", cwd=root, env=env).returncode == 0
    (root / "contacts" / "c.csv").write_text(contacts(7))
    (root / "campaigns" / "promo.yaml").write_text(PROMO.replace("-30%", "-40%"))
    plan = run_cli("plan", "--format", "json", cwd=root, env=env)
    assert plan.returncode == 0, plan.stderr
    assert json.loads(plan.stdout)["campaigns"][0]["text_change"] == {
        "recipient": "+33 6•• •• •• 71",
        "old": "Bruno, -30% a Paris",
        "new": "Bruno, -40% a Paris",
    }


def test_show_keeps_warnings_and_a_markdown_diff_fence_holds_backticks(
    make_project: MakeProject,
) -> None:
    campaign = (
        "channel: sms\npurpose: alert\n"
        "text: \"Code ```{{ contact.code }}``` pour {{ contact.first_name | default('') }}\"\n"
        "contacts: [contacts/c.csv]\n"
    )
    rows = "phone_number,first_name,code\n+33612345670,Axelle,A1\n+33612345671,,B2\n"
    root = make_project({"campaigns/promo.yaml": campaign, "contacts/c.csv": rows}, CONFIG)
    assert run_cli("apply", "--sandbox", "--auto-approve", cwd=root).returncode == 0
    (root / "contacts" / "c.csv").write_text(rows + "+33612345672,Chloe,C3\n")
    (root / "campaigns" / "promo.yaml").write_text(campaign.replace("Code", "Votre code"))
    saved = run_cli("plan", "--sandbox", "-o", "plan.json", cwd=root)
    assert saved.returncode == 0, saved.stderr
    assert "warning:" in saved.stdout
    assert run_cli("show", "plan.json", cwd=root).stdout == saved.stdout
    markdown = run_cli("show", "plan.json", "--format", "markdown", cwd=root).stdout
    assert "````diff\n- Code ```B2``` pour\n+ Votre code ```B2``` pour\n````\n" in markdown
