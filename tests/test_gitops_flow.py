"""The GitOps flow of examples/ci/github-actions.yml, played for real.

A project in a git repository (a bare origin in tmp), a developer's clone that branches and
merges, and a fresh clone per CI job, as a runner checks out; the sandbox stands for Octopush
and one state for the CI's OCTOPLAN_STATE. The example's own step scripts run under bash as
GitHub runs them; only the GitHub API calls are played by the test (the artifact is a copied
file, the pull request's merge ref a local merge). Deliveries are counted at the sandbox.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from octoplan.sandbox import SandboxServer
from tests.fixtures.project import REPO, run_cli, write_files

WORKFLOW = YAML(typ="safe").load((REPO / "examples/ci/github-actions.yml").read_text("utf-8"))
CONFIG = """\
region: FR
defaults: {sender: ShopX}
pricing: {currency: EUR, sms: {FR: 0.05, default: 0.06}}
"""
CUSTOMERS = ["+33612340001", "+33612340002", "+33612340003"]
NEWCOMER = "+33612340004"


def customers(numbers: list[str]) -> str:
    rows = [f"{n},Name{n[-1]}" for n in numbers]
    return "\n".join(["phone_number,first_name", *rows]) + "\n"


def campaign(text: str) -> str:
    return f'text: "{text}"\nchannel: sms\npurpose: alert\ncontacts: [contacts/customers.csv]\n'


def git(cwd: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-c", "user.email=dev@example.com", "-c", "user.name=dev", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def step(job: str, name: str) -> str:
    (found,) = [s for s in WORKFLOW["jobs"][job]["steps"] if s.get("name") == name]
    script: str = found["run"]
    return script


class Flow:
    """One origin, one developer clone, and a new runner checkout per CI job."""

    def __init__(self, tmp: Path, sandbox: SandboxServer, state: str) -> None:
        self.tmp, self.sandbox, self.state = tmp, sandbox, state
        self.origin = tmp / "origin.git"
        git(tmp, "init", "-q", "--bare", "-b", "main", str(self.origin))
        self.dev = tmp / "dev"
        git(tmp, "clone", "-q", str(self.origin), str(self.dev))
        git(self.dev, "symbolic-ref", "HEAD", "refs/heads/main")  # the first commit's branch
        self.jobs = 0

    def commit(self, branch: str, files: dict[str, str], message: str) -> None:
        """The developer commits on a branch (new, from main) and pushes it."""
        if git(self.dev, "branch", "--list", "main"):
            git(self.dev, "checkout", "-q", "main")
        if branch != "main":
            git(self.dev, "checkout", "-q", "-b", branch)
        write_files(self.dev, files)
        git(self.dev, "add", "-A")
        git(self.dev, "commit", "-qm", message)
        git(self.dev, "push", "-q", "origin", branch)

    def merge(self, branch: str) -> None:
        """The pull request is merged (a merge commit, GitHub's default)."""
        git(self.dev, "checkout", "-q", "main")
        git(self.dev, "pull", "-q", "origin", "main")
        git(self.dev, "merge", "-q", "--no-ff", "-m", f"Merge {branch}", f"origin/{branch}")
        git(self.dev, "push", "-q", "origin", "main")

    def checkout(self, branch: str | None = None) -> Path:
        """A runner's checkout of main, or of a pull request's merge ref (branch into main)."""
        self.jobs += 1
        work = self.tmp / f"runner{self.jobs}"
        git(self.tmp, "clone", "-q", str(self.origin), str(work))
        if branch is not None:
            git(
                work,
                "merge",
                "-q",
                "--no-ff",
                "-m",
                f"Merge {branch} into main",
                f"origin/{branch}",
            )
        return work

    def run(self, script: str, cwd: Path, *, credentials: bool) -> dict[str, str]:
        """A `run:` step as GitHub runs it (bash -eo pipefail); returns its outputs."""
        output, summary = cwd / "github-output", cwd / "github-summary"
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("OCTOPUSH_", "OCTOPLAN_", "GITHUB_"))
        }
        env.update(
            PATH=f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}",  # octoplan
            NO_COLOR="1",
            OCTOPLAN_STATE=self.state,
            GITHUB_OUTPUT=str(output),
            GITHUB_STEP_SUMMARY=str(summary),
            RUN_URL="https://github.example/runs/1",
        )
        if credentials:
            env.update(self.sandbox.env())
        (cwd / "step.sh").write_text(script, encoding="utf-8")
        result = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "step.sh"],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        lines = output.read_text().splitlines() if output.exists() else []
        output.unlink(missing_ok=True)
        return dict(line.split("=", 1) for line in lines)

    def pull_request_job(self, branch: str) -> tuple[Path, dict[str, str]]:
        """The plan job on the pull request: returns the checkout (plan.json is the artifact)."""
        work = self.checkout(branch)
        outputs = self.run(step("plan", "Plan"), work, credentials=False)
        return work, outputs

    def merge_job(self, artifact: Path) -> tuple[Path, dict[str, str], str]:
        """The apply job after the merge: the artifact fetched, applied, the outcome written."""
        work = self.checkout()
        (work / "reviewed").mkdir()
        (work / "reviewed/plan.json").write_bytes(artifact.read_bytes())
        outputs = self.run(step("apply", "Apply the reviewed plan"), work, credentials=True)
        self.run(step("apply", "Describe the outcome"), work, credentials=False)
        return work, outputs, (work / "outcome.md").read_text(encoding="utf-8")


def sent(server: SandboxServer) -> list[tuple[str, str]]:
    return sorted((d.recipient, d.text) for d in server.deliveries())


def requested(server: SandboxServer) -> list[str]:
    return [r.request_id for r in server.requests() if r.request_id]


def request_ids(plan: dict[str, Any]) -> list[str]:
    return [b["request_id"] for c in plan["campaigns"] for b in c["batches"]]


def masked(plan: dict[str, Any]) -> list[str]:
    return sorted(r for c in plan["campaigns"] for b in c["batches"] for r in b["recipients"])


@pytest.fixture
def flow(tmp_path: Path, sandbox: SandboxServer, pg_url: str) -> Flow:
    flow = Flow(tmp_path, sandbox, pg_url)  # a PostgreSQL state, as the example's secret
    flow.commit(
        "main",
        {
            "octoplan.yaml": CONFIG,
            "campaigns/welcome.yaml": campaign("Bienvenue {{ contact.first_name }}"),
            "contacts/customers.csv": customers(CUSTOMERS),
        },
        "ShopX campaigns",
    )
    # What main holds is already sent.
    applied = run_cli("apply", "--auto-approve", cwd=flow.checkout(), env={
        **sandbox.env(), "OCTOPLAN_STATE": pg_url})  # fmt: skip
    assert applied.returncode == 0, applied.stderr
    assert len(sandbox.deliveries()) == 3
    return flow


@pytest.mark.postgres
def test_the_plan_reviewed_on_the_pull_request_is_the_plan_sent_after_the_merge(
    flow: Flow, sandbox: SandboxServer
) -> None:
    flow.commit(
        "promo", {"campaigns/promo.yaml": campaign("{{ contact.first_name }}: -20%")}, "promo"
    )

    pr, outputs = flow.pull_request_job("promo")
    assert outputs == {"exitcode": "2"}  # changes to apply on merge
    reviewed = json.loads((pr / "plan.json").read_text())
    comment = (pr / "plan.md").read_text()
    # The comment shows the plan's short digest, the file holds no clear number, nor does it.
    assert f"digest `{reviewed['digest'][:12]}`" in comment
    for number in CUSTOMERS:
        assert number not in (pr / "plan.json").read_text()
        assert number not in comment
    assert [c["id"] for c in reviewed["campaigns"] if c["batches"]] == ["promo"]

    flow.merge("promo")
    before = len(requested(sandbox))
    main, outputs, outcome = flow.merge_job(pr / "plan.json")

    assert outputs == {"exitcode": "0"}
    # Exactly the reviewed requests, to exactly the reviewed (masked) recipients.
    assert requested(sandbox)[before:] == request_ids(reviewed)
    new = [d for d in sandbox.deliveries() if d.text.endswith(": -20%")]
    assert sorted(d.recipient for d in new) == CUSTOMERS
    assert len(sandbox.deliveries()) == 3 + reviewed["summary"]["messages_to_send"] == 6
    report = json.loads((main / "apply.json").read_text())
    assert (report["status"], report["plan"]["digest"]) == ("applied", reviewed["digest"])
    cost = json.dumps(report["summary"]["cost"])
    applied, _, status = outcome.partition("\n<!-- octoplan-status -->\n")
    assert applied == (
        "### octoplan apply: applied\n\n"
        f"Plan `{reviewed['digest'][:12]}`: 3 messages sent, cost {cost} EUR; 0 refused, "
        "0 unconfirmed, 0 in doubt, 0 not started.\n\n"
        "| Campaign | Sent | Refused | Unconfirmed | In doubt | Cost |\n"
        "|---|---:|---:|---:|---:|---:|\n"
        f"| `promo` | 3 of 3 | 0 | 0 | 0 | {cost} |\n"
    )
    # Then the delivery status so far (`octoplan status --format markdown`), then the log.
    assert status.startswith("### octoplan: delivery status")
    assert "| `promo` |" in status
    assert status.endswith("\n[Run log](https://github.example/runs/1)\n")


@pytest.mark.postgres
def test_a_contacts_change_merged_in_between_makes_the_apply_refuse_and_send_nothing(
    flow: Flow, sandbox: SandboxServer
) -> None:
    flow.commit("flash", {"campaigns/flash.yaml": campaign("Flash {{ contact.first_name }}")}, "f")
    flash, _ = flow.pull_request_job("flash")
    # Another pull request, reviewed and merged first, adds a customer (its own merge job
    # sends it the campaigns main had).
    flow.commit("newcomer", {"contacts/customers.csv": customers([*CUSTOMERS, NEWCOMER])}, "n")
    newcomer, _ = flow.pull_request_job("newcomer")
    flow.merge("newcomer")
    _, outputs, _ = flow.merge_job(newcomer / "plan.json")
    assert outputs == {"exitcode": "0"}
    assert [d.recipient for d in sandbox.deliveries()].count(NEWCOMER) == 1

    flow.merge("flash")
    before = sent(sandbox), len(sandbox.requests())
    main, outputs, outcome = flow.merge_job(flash / "plan.json")

    assert outputs == {"exitcode": "1"}
    assert (sent(sandbox), len(sandbox.requests())) == before  # nothing sent
    reason = (
        "reviewed/plan.json: stale plan: files changed since it was made: "
        "contacts/customers.csv (changed); run `octoplan plan -o reviewed/plan.json` again "
        "and review it"
    )
    assert json.loads((main / "apply.json").read_text())["error"] == reason
    refused, _, status = outcome.partition("\n<!-- octoplan-status -->\n")
    assert refused == (
        f"### octoplan apply: nothing was sent\n\n```\n{reason}\n```\n\n"
        "To send what main holds now, run this workflow on main (Run workflow): it plans, and "
        "applies that plan.\n"
    )
    assert status.startswith("### octoplan: delivery status")
    assert status.endswith("\n[Run log](https://github.example/runs/1)\n")

    # The way forward: "Run workflow" on main plans main, and that plan is applied.
    rerun = flow.checkout()
    assert flow.run(step("plan", "Plan"), rerun, credentials=False) == {"exitcode": "2"}
    replan = json.loads((rerun / "plan.json").read_text())
    assert masked(replan) == sorted(
        ["+33 6•• •• •• 01", "+33 6•• •• •• 02", "+33 6•• •• •• 03", "+33 6•• •• •• 04"]
    )
    _, outputs, _ = flow.merge_job(rerun / "plan.json")
    assert outputs == {"exitcode": "0"}
    flashed = sorted(d.recipient for d in sandbox.deliveries() if d.text.startswith("Flash"))
    assert flashed == [*CUSTOMERS, NEWCOMER]


def test_apply_from_the_pull_request_before_merging_atlantis_style(
    tmp_path: Path, sandbox: SandboxServer
) -> None:
    flow = Flow(tmp_path, sandbox, str(tmp_path / "shared-state.db"))
    flow.commit(
        "main",
        {"octoplan.yaml": CONFIG, "contacts/customers.csv": customers(CUSTOMERS)},
        "ShopX",
    )
    flow.commit(
        "summer", {"campaigns/summer.yaml": campaign("Summer {{ contact.first_name }}")}, "s"
    )
    pr, outputs = flow.pull_request_job("summer")
    assert outputs == {"exitcode": "2"}
    reviewed = json.loads((pr / "plan.json").read_text())

    # "octoplan apply" commented on the pull request: the reviewed file, from its checkout.
    env = {**sandbox.env(), "OCTOPLAN_STATE": flow.state}
    applied = run_cli("apply", "plan.json", cwd=pr, env=env)
    assert applied.returncode == 0, applied.stderr
    assert requested(sandbox) == request_ids(reviewed)
    assert sorted(d.recipient for d in sandbox.deliveries()) == CUSTOMERS

    # Then the merge: main holds what was sent, nothing is left to apply, and the reviewed
    # plan can never be applied a second time.
    flow.merge("summer")
    main = flow.checkout()
    converged = run_cli("plan", "--detailed-exitcode", cwd=main, env=env)
    assert converged.returncode == 0, converged.stdout + converged.stderr
    assert re.search(r"^  summer \(sms, campaigns/summer.yaml\): no changes \(3 already sent\)$",
                     converged.stdout, re.M), converged.stdout  # fmt: skip
    (main / "plan.json").write_bytes((pr / "plan.json").read_bytes())
    again = run_cli("apply", "plan.json", cwd=main, env=env)
    assert again.returncode == 1
    assert again.stderr.startswith("error: plan.json: stale plan: state changed since it was made")
    assert len([r for r in sandbox.requests() if r.request_id]) == len(request_ids(reviewed))
