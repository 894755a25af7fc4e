"""Environments (issue 17, SPEC §9): `environments:` in octoplan.yaml, chosen by --env, then
OCTOPLAN_ENV, then `default_environment`; each with its own state, API, credentials, vars and
audience; `--sandbox` is the built-in environment `sandbox`. Through the real CLI, sending to
the embedded sandbox or to a sandbox server over HTTP."""

from __future__ import annotations

import json
import os
from pathlib import Path

from octoplan.sandbox import SandboxServer
from tests.fixtures.project import MakeProject, run_cli, run_on_terminal

CUSTOMERS = "phone_number,first_name\n+33612345670,Axelle\n+33612345671,Bruno\n"
WELCOME = (
    "channel: sms\npurpose: alert\nsender: ShopX\n"
    'text: "{{ contact.first_name }}, bienvenue chez {{ vars.brand }}"\n'
    "contacts: [contacts/customers.csv]\n"
)
FILES = {"campaigns/welcome.yaml": WELCOME, "contacts/customers.csv": CUSTOMERS}
# The seed list is one of the customers: staging must not mark her sent for production.
CONFIG = """\
region: FR
vars: {brand: ShopX}
default_environment: staging
environments:
  staging:
    sandbox: true
    vars: {brand: ShopX-staging}
    recipients:
      - {phone_number: "+33612345670", first_name: Seed}
  qa:
    sandbox: true
    contacts: [contacts/qa.csv]
"""
QA = "phone_number,first_name\n+33699999901,Quentin\n"


def summary(stdout: str) -> list[str]:
    """The plan's last two lines: the environment, then the summary."""
    return stdout.splitlines()[-2:]


def test_the_flag_wins_over_the_variable_which_wins_over_the_file(
    make_project: MakeProject,
) -> None:
    root = make_project({**FILES, "contacts/qa.csv": QA}, CONFIG)
    by_file = run_cli("plan", cwd=root)
    assert by_file.returncode == 0, by_file.stderr
    assert "e.g. +33 6•• •• •• 70: 'Seed, bienvenue chez ShopX-staging'" in by_file.stdout
    assert summary(by_file.stdout) == [
        "Environment: staging, the embedded local sandbox.",
        "Plan: 1 message to send in 1 request, 1 SMS part, est. 0.04 EUR; 0 already sent.",
    ]
    by_variable = run_cli("plan", cwd=root, env={"OCTOPLAN_ENV": "qa"})
    assert "e.g. +33 6•• •• •• 01: 'Quentin, bienvenue chez ShopX'" in by_variable.stdout
    assert summary(by_variable.stdout)[0] == "Environment: qa, the embedded local sandbox."
    by_flag = run_cli("plan", "--env", "staging", cwd=root, env={"OCTOPLAN_ENV": "qa"})
    assert summary(by_flag.stdout)[0] == "Environment: staging, the embedded local sandbox."
    on_the_group = run_cli("--env", "default", "plan", cwd=root, env={"OCTOPLAN_ENV": "qa"})
    assert summary(on_the_group.stdout) == [
        "Environment: default, https://api.octopush.com/v1/public (real messages).",
        "Plan: 2 messages to send in 1 request, 2 SMS parts, est. 0.09 EUR; 0 already sent.",
    ]
    sandbox = run_cli("plan", "--sandbox", cwd=root, env={"OCTOPLAN_ENV": "qa"})
    assert summary(sandbox.stdout)[0] == "Environment: sandbox, the embedded local sandbox."
    both = run_cli("plan", "--sandbox", "--env", "qa", cwd=root)
    assert (both.returncode, both.stdout, both.stderr) == (
        1,
        "",
        "error: --sandbox and --env qa name two environments: give one (--sandbox is the "
        "built-in environment sandbox)\n",
    )


def test_an_unknown_environment_is_refused_with_the_names_there_are(
    make_project: MakeProject,
) -> None:
    root = make_project({**FILES, "contacts/qa.csv": QA}, CONFIG)
    typo = run_cli("plan", "--env", "stagign", cwd=root)
    assert (typo.returncode, typo.stdout, typo.stderr) == (
        1,
        "",
        "error: no environment 'stagign' (asked by --env); did you mean 'staging'? known: "
        "default, qa, sandbox, staging (declare one under `environments:` in octoplan.yaml)\n",
    )
    variable = run_cli("state", "list", cwd=root, env={"OCTOPLAN_ENV": "stag"})
    assert (variable.returncode, variable.stderr) == (
        1,
        "error: no environment 'stag' (asked by OCTOPLAN_ENV=stag); did you mean 'staging'? "
        "known: default, qa, sandbox, staging (declare one under `environments:` in "
        "octoplan.yaml)\n",
    )
    assert not (root / ".octoplan").exists()  # nothing created


def test_bad_environment_entries_are_told_at_their_place_and_never_echo_a_key(
    make_project: MakeProject,
) -> None:
    config = """\
region: FR
default_environment: prod
environments:
  Staging Area: {sandbox: true}
  demo:
    sandbox: true
    api: {base_url: "http://127.0.0.1:8642/v1/public"}
  production:
    credentials: {login: PROD_LOGIN, key: "s3cr3t-k3y.value"}
    sandbx: true
"""
    root = make_project(FILES, config)
    result = run_cli("validate", cwd=root)
    assert result.returncode == 1
    assert result.stderr == (
        "octoplan.yaml:9:43: error: environments.production.credentials.key must be the name "
        "of an environment variable (letters, digits and _), not a credential: credentials "
        "never live in files\n"
        "  hint: e.g. STAGING_OCTOPUSH_API_KEY, then export that variable where octoplan runs\n"
        "octoplan.yaml:10:5: error: unknown key 'sandbx' in environments.production\n"
        "  hint: did you mean 'sandbox'?\n"
        "2 errors in 1 file\n"
    )
    assert "s3cr3t" not in result.stdout + result.stderr
    fixed = config.replace('"s3cr3t-k3y.value"', "PROD_KEY").replace("    sandbx: true\n", "")
    root = make_project(FILES, fixed)
    result = run_cli("validate", cwd=root)
    assert result.returncode == 1
    assert result.stderr == (
        "octoplan.yaml:2:22: error: default_environment 'prod' names no environment (known: "
        "Staging Area, default, demo, production, sandbox)\n"
        "  hint: did you mean 'production'?\n"
        "octoplan.yaml:4:3: error: environment name 'Staging Area' must be 1 to 32 lower-case "
        "letters, digits, '_' or '-', starting with a letter or digit\n"
        "  hint: it names the environment on the command line (--env NAME) and its state file\n"
        "octoplan.yaml:7:11: error: environment demo: sandbox: true sends to the embedded local "
        "sandbox, which needs no api.base_url\n"
        "  hint: remove api.base_url; to send to a sandbox you started with `octoplan sandbox`, "
        "declare its URL in an environment without sandbox: true\n"
        "3 errors in 1 file\n"
    )


def test_each_environment_keeps_its_own_state(make_project: MakeProject) -> None:
    root = make_project({**FILES, "contacts/qa.csv": QA}, CONFIG)
    staging = run_cli("apply", "--auto-approve", cwd=root)
    assert staging.returncode == 0, staging.stderr
    assert (
        "Apply complete: 1 message sent in 1 request, cost 0.04 EUR.\n"
        "  Environment: staging, the embedded local sandbox.\n" in staging.stdout
    )
    # The seed number is a customer too: the sandbox environment still sends to both.
    sandbox = run_cli("apply", "--sandbox", "--auto-approve", cwd=root)
    assert sandbox.returncode == 0, sandbox.stderr
    assert (
        "Apply complete: 2 messages sent in 1 request, cost 0.09 EUR.\n"
        "  Environment: sandbox, the embedded local sandbox.\n" in sandbox.stdout
    )
    listed = {
        name: json.loads(
            run_cli("state", "list", "--env", name, "--format", "json", cwd=root).stdout
        )
        for name in ("staging", "sandbox", "qa")
    }
    assert {name: doc["state"] for name, doc in listed.items()} == {
        "staging": str(root / ".octoplan/staging-state.db"),
        "sandbox": str(root / ".octoplan/sandbox-state.db"),
        "qa": ".octoplan/qa-state.db",  # not created: a look never creates a state
    }
    assert [c["recipients_sent"] for c in listed["staging"]["campaigns"]] == [1]
    assert [c["recipients_sent"] for c in listed["sandbox"]["campaigns"]] == [2]
    assert listed["qa"]["campaigns"] == []
    # Each embedded sandbox environment has its own data (and delivery reports).
    shown = run_cli("status", "--format", "json", cwd=root)
    assert shown.stderr == (
        "Environment: staging, the embedded local sandbox (state .octoplan/staging-state.db).\n"
    )
    status = json.loads(shown.stdout)
    assert [(c["id"], c["sent"], c["delivered"]) for c in status["campaigns"]] == [
        ("welcome", 1, 1)
    ]
    assert status["environment"]["name"] == "staging"
    comment = run_cli("status", "--format", "markdown", cwd=root).stdout
    assert comment.splitlines()[:4] == [
        "<!-- octoplan-status -->",
        "### octoplan: delivery status",
        "",
        "Environment **staging**: the embedded local sandbox",
    ]
    explained = run_cli("explain", "+33612345671", "--sandbox", cwd=root)
    assert explained.returncode == 0, explained.stderr
    assert "sent" in explained.stdout
    again = run_cli("plan", "--env", "staging", cwd=root)
    assert summary(again.stdout)[1] == "No changes. 1 message already sent."


def test_an_environment_with_its_own_api_and_credential_variables(
    make_project: MakeProject, sandbox: SandboxServer
) -> None:
    config = (
        "region: FR\nvars: {brand: ShopX}\nenvironments:\n  live:\n"
        f"    api: {{base_url: '{sandbox.base_url}'}}\n"
        "    credentials: {login: LIVE_LOGIN, key: LIVE_KEY}\n"
    )
    root = make_project(FILES, config)
    # The default variables are not the environment's: it refuses, naming its own.
    wrong = run_cli("apply", "--env", "live", "--auto-approve", cwd=root, env=sandbox.env())
    assert (wrong.returncode, wrong.stdout) == (1, "")
    assert wrong.stderr == (
        "error: no Octopush credentials for environment live: set LIVE_LOGIN and LIVE_KEY "
        "(missing: LIVE_LOGIN, LIVE_KEY), or use --sandbox to send to the local sandbox\n"
    )
    env = {"LIVE_LOGIN": "live@example.com", "LIVE_KEY": "live-key"}
    result = run_cli("apply", "--env", "live", "--auto-approve", cwd=root, env=env)
    assert result.returncode == 0, result.stderr
    assert (
        "Apply complete: 2 messages sent in 1 request, cost 0.09 EUR.\n"
        f"  Environment: live, {sandbox.base_url}.\n" in result.stdout
    )
    assert len(sandbox.deliveries()) == 2
    assert (root / ".octoplan" / "live-state.db").is_file()
    assert not (root / ".octoplan" / "state.db").exists()


def test_every_plan_format_names_the_environment_and_a_saved_plan_keeps_to_it(
    make_project: MakeProject,
) -> None:
    root = make_project({**FILES, "contacts/qa.csv": QA}, CONFIG)
    document = json.loads(run_cli("plan", "--format", "json", cwd=root).stdout)
    assert document["environment"] == {
        "name": "staging",
        "api_url": None,
        "sandbox": True,
        "local": True,
    }
    markdown = run_cli("plan", "--env", "default", "--format", "markdown", cwd=root).stdout
    assert (
        "\nEnvironment **default**: https://api.octopush.com/v1/public (real messages)\n"
        in markdown
    )
    saved = run_cli("plan", "--env", "qa", "-o", "qa.json", cwd=root)
    assert (
        saved.stderr == "Plan saved to qa.json; apply it with `octoplan apply --env qa qa.json`.\n"
    )
    shown = run_cli("show", "qa.json", cwd=root)
    assert summary(shown.stdout)[0] == "Environment: qa, the embedded local sandbox."
    elsewhere = run_cli("apply", "qa.json", cwd=root)
    assert (elsewhere.returncode, elsewhere.stdout) == (1, "")
    assert elsewhere.stderr == (
        "error: qa.json was made for environment qa (the embedded local sandbox), not "
        "environment staging (the embedded local sandbox): apply it with `octoplan apply "
        "--env qa qa.json`, or make a plan for this one with `octoplan plan --env staging -o "
        "qa.json`\n"
    )
    applied = run_cli("apply", "--env", "qa", "qa.json", cwd=root)
    assert applied.returncode == 0, applied.stderr
    assert "  Environment: qa, the embedded local sandbox.\n" in applied.stdout


def prompt_of(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, str]:
    """Run apply on a pseudo-terminal, answer 'no' to its question; (exit code, output)."""
    child_env = {
        k: v for k, v in os.environ.items() if not k.startswith(("OCTOPUSH_", "OCTOPLAN_"))
    }
    child_env.update(NO_COLOR="1", TERM="dumb", COLUMNS="200", **env)
    return run_on_terminal(args, cwd, child_env, answer="no")


def test_the_prompt_names_the_environment_and_its_url(
    make_project: MakeProject, sandbox: SandboxServer
) -> None:
    config = (
        "region: FR\nvars: {brand: ShopX}\nenvironments:\n"
        f"  local:\n    api: {{base_url: '{sandbox.base_url}'}}\n"
        "  production:\n    api: {base_url: 'https://api.octopush.com/v1/public'}\n"
    )
    root = make_project(FILES, config)
    code, output = prompt_of(["apply", "--env", "local"], root, sandbox.env())
    assert code == 1, output
    assert (
        f"\nSend these messages to environment local ({sandbox.base_url})? "
        "Only 'yes' is accepted: no\nApply cancelled: nothing was sent.\n"
    ) in output
    assert "real money" not in output
    # Answered no: nothing reaches the real API (the plan is made before the question).
    env = {"OCTOPUSH_API_LOGIN": "someone@example.com", "OCTOPUSH_API_KEY": "not-a-real-key"}
    code, output = prompt_of(["apply", "--env", "production"], root, env)
    assert code == 1, output
    assert (
        "\nSend these messages to environment production (https://api.octopush.com/v1/public): "
        "real messages, real money? Only 'yes' is accepted: no\n"
    ) in output
    code, output = prompt_of(["apply", "--sandbox"], root, {})
    assert (
        "\nSend these messages to environment sandbox (the embedded local sandbox)? "
        "Only 'yes' is accepted: no\n"
    ) in output
    assert sandbox.deliveries() == []


def test_octoplan_state_is_never_an_environments_state_and_says_so(
    make_project: MakeProject,
) -> None:
    root = make_project({**FILES, "contacts/qa.csv": QA}, CONFIG)
    env = {"OCTOPLAN_STATE": "shared/state.db"}
    listed = run_cli("state", "list", "--env", "qa", cwd=root, env=env)
    assert (listed.returncode, listed.stdout, listed.stderr) == (
        0,
        "No state yet at .octoplan/qa-state.db: nothing has been applied.\n",
        "note: OCTOPLAN_STATE is not used for environment qa, which keeps its own state "
        "(.octoplan/qa-state.db)\n",
    )
    # The top level (`default`) is the one it replaces.
    top = run_cli("state", "list", "--env", "default", cwd=root, env=env)
    assert (top.stdout, top.stderr) == (
        "No state yet at shared/state.db: nothing has been applied.\n",
        "",
    )


def test_show_names_the_environment_of_a_saved_plan_and_refuses_another(
    make_project: MakeProject,
) -> None:
    root = make_project({**FILES, "contacts/qa.csv": QA}, CONFIG)
    assert run_cli("plan", "--env", "qa", "-o", "qa.json", cwd=root).returncode == 0
    as_json = json.loads(run_cli("show", "qa.json", "--format", "json", cwd=root).stdout)
    assert as_json["environment"]["name"] == "qa"
    other = run_cli("show", "qa.json", "--env", "staging", cwd=root)
    assert (other.returncode, other.stdout, other.stderr) == (
        1,
        "",
        "error: qa.json was made for environment qa (the embedded local sandbox), not "
        "environment staging (asked by --env)\n",
    )
