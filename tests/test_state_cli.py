"""`octoplan state ...` through the real CLI, on both backends."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from octoplan.sandbox import SandboxServer
from octoplan.state.base import SCHEMA_VERSION, BatchStatus
from octoplan.state.open import describe, is_postgres, open_state
from octoplan.state.procs import default_actor
from tests.fixtures.project import invoke, run_cli, write_files
from tests.state.helpers import at, batch_in, intent

ROOT = Path(__file__).resolve().parent.parent


def octoplan(project: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "OCTOPLAN_STATE"}
    environ.update(env, NO_COLOR="1")
    return invoke("-C", str(project), *args, cwd=ROOT, env=environ)  # in this process


@pytest.fixture
def project(tmp_path: Path, state_url: str) -> Path:
    """A project whose octoplan.yaml points at the backend under test, holding two campaigns."""
    directory = tmp_path / "project"
    directory.mkdir()
    (directory / "octoplan.yaml").write_text(f"region: FR\nstate: {state_url}\n")
    store = open_state(state_url, directory)
    try:
        store.record_intent(intent("r1", ["+33612345678", "ana@example.com"]), at(0))
        store.mark_attempt("r1", at(1))
        store.record_outcome("r1", BatchStatus.ACCEPTED, at(2), ticket="T-1", cost=0.09)
        store.record_intent(intent("r2", ["+33698765432"]), at(3))
        store.record_outcome(
            "r2", BatchStatus.REFUSED, at(4), error_code=106, error_message="bad sender"
        )
        batch_in(store, "r3", ["+33611112222"], BatchStatus.IN_DOUBT, campaign_id="autumn")
    finally:
        store.close()
    return directory


def test_list_without_a_state_creates_nothing(tmp_path: Path) -> None:
    (tmp_path / "octoplan.yaml").write_text("region: FR\n")
    result = octoplan(tmp_path, "state", "list")
    assert (result.returncode, result.stdout, result.stderr) == (
        0,
        "No state yet at .octoplan/state.db: nothing has been applied.\n",
        "",
    )
    assert not (tmp_path / ".octoplan").exists()


def test_list_shows_each_campaign(project: Path, state_url: str) -> None:
    result = octoplan(project, "state", "list")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        "CAMPAIGN  BATCHES  SENT  PENDING  REFUSED   COST  LAST ACTIVITY\n"
        "autumn          1     0        1        0  0.000  2026-03-01 09:01 UTC\n"
        "spring          2     2        0        1  0.090  2026-03-01 09:04 UTC\n"
    )
    assert result.stderr.startswith(f"State {describe(state_url)} (serial 7, lineage ")


def test_list_as_json(project: Path, state_url: str) -> None:
    result = octoplan(project, "state", "list", "--format", "json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert (document["state"], document["serial"]) == (describe(state_url), 7)
    assert document["campaigns"][1] == {
        "id": "spring",
        "batches": 2,
        "recipients_sent": 2,
        "recipients_pending": 0,
        "recipients_refused": 1,
        "cost": 0.09,
        "last_activity": "2026-03-01T09:04:00+00:00",
    }


def test_show_masks_every_recipient(project: Path) -> None:
    result = octoplan(project, "state", "show", "spring")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1:] == [
        "",
        "REQUEST  STATUS    RECIPIENTS  ATTEMPTS  TICKET   COST  CREATED               ERROR",
        "r1       accepted           2         1  T-1     0.090  2026-03-01 09:00 UTC",
        "r2       refused            1         0  -           -  2026-03-01 09:03 UTC  "
        "106 bad sender",
        "",
        "RECIPIENT         STATUS    REQUEST",
        "+33 6•• •• •• 78  accepted  r1",
        "+33 6•• •• •• 32  refused   r2",
        "a•••@e•••.com     accepted  r1",
    ]
    assert "12345678" not in result.stdout
    assert result.stderr == ""


def test_show_as_json_hides_payloads_and_numbers(project: Path) -> None:
    result = octoplan(project, "state", "show", "spring", "--format", "json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert [batch["request_id"] for batch in document["batches"]] == ["r1", "r2"]
    assert document["recipients"][0] == {
        "recipient": "+33 6•• •• •• 78",
        "status": "accepted",
        "request_id": "r1",
        "content_hash": "h1",
    }
    assert "payload" not in document["batches"][0]
    assert "+33612345678" not in result.stdout


def test_show_points_at_requests_in_doubt(project: Path) -> None:
    result = octoplan(project, "state", "show", "autumn")
    assert result.returncode == 0, result.stderr
    assert result.stderr == (
        "\nRequests left as intent or in_doubt: if no apply is running, check the Octopush "
        "account, then `octoplan state resolve REQUEST --sent` or `--not-sent`.\n"
    )


def test_show_of_an_unknown_campaign(project: Path, state_url: str) -> None:
    result = octoplan(project, "state", "show", "winter")
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        f"error: campaign winter is not in state ({describe(state_url)}); "
        "`octoplan state list` shows the campaigns recorded\n"
    )


def test_resolve_needs_an_outcome(project: Path) -> None:
    result = octoplan(project, "state", "resolve", "r3")
    assert (result.returncode, result.stderr) == (
        1,
        "error: say what happened to request r3: --sent or --not-sent "
        "(check the Octopush account first)\n",
    )


@pytest.mark.parametrize(
    ("flag", "status", "message"),
    [
        ("--sent", "accepted", "Request r3 marked accepted: its recipients count as sent.\n"),
        (
            "--not-sent",
            "not_sent",
            "Request r3 marked not_sent: the next plan sends to its recipients again.\n",
        ),
    ],
)
def test_resolve_settles_and_audits(
    project: Path, state_url: str, flag: str, status: str, message: str
) -> None:
    result = octoplan(project, "state", "resolve", "r3", flag, OCTOPLAN_NOW="2026-03-02T10:00Z")
    assert (result.returncode, result.stdout) == (0, message), result.stderr
    store = open_state(state_url, project)
    try:
        assert store.recipients("autumn")["+33611112222"].status == status
        [entry] = store.audit_log()
    finally:
        store.close()
    assert entry.detail == f"request r3 of autumn: in_doubt -> {status} (by {default_actor()})"
    assert entry.at.isoformat() == "2026-03-02T10:00:00+00:00"


def test_resolve_refuses_a_settled_request(project: Path) -> None:
    result = octoplan(project, "state", "resolve", "r1", "--not-sent")
    assert (result.returncode, result.stderr) == (
        1,
        "error: request r1 is accepted, not in doubt: only requests left as intent or "
        "in_doubt can be resolved\n",
    )


def test_unlock(project: Path, state_url: str) -> None:
    result = octoplan(project, "state", "unlock")
    assert (result.returncode, result.stdout) == (0, "The state is not locked.\n")
    holder = subprocess.Popen(
        [sys.executable, "-c", LOCK_AND_DIE, state_url, str(project)], cwd=ROOT
    )
    assert holder.wait(timeout=60) == -9
    result = octoplan(project, "state", "unlock")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Removed the lock of octoplan apply by ci (pid ")
    assert result.stdout.endswith("; recorded in the state's audit log.\n")
    store = open_state(state_url, project)
    try:
        assert [entry.action for entry in store.audit_log()] == ["unlock"]
        assert store.lock_info() is None
    finally:
        store.close()


LOCK_AND_DIE = """
import os, signal, sys
from pathlib import Path
from octoplan.state.open import open_state
open_state(sys.argv[1], Path(sys.argv[2])).acquire_lock("octoplan apply by ci", timeout=5)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_the_environment_wins_over_the_config(project: Path) -> None:
    result = octoplan(project, "state", "list", OCTOPLAN_STATE="other/state.db")
    assert result.stdout == "No state yet at other/state.db: nothing has been applied.\n"


def test_a_bad_state_key_is_reported(tmp_path: Path) -> None:
    (tmp_path / "octoplan.yaml").write_text("state: [a, b]\n")
    result = octoplan(tmp_path, "state", "list")
    assert (result.returncode, result.stderr) == (
        1,
        "octoplan.yaml:1:8: error: state must be a string (got a list)\n",
    )


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (
            "state: !!python/object/apply:os.system [touch pwned]\n",
            "octoplan.yaml:1:8: error: YAML tag '!!python/object/apply:os.system' is not "
            "allowed\n  hint: campaign files use plain YAML: strings, numbers, booleans, lists "
            "and mappings\n",
        ),
        (
            "state: " + "[" * 3000 + "]" * 3000 + "\n",
            "octoplan.yaml:1:71: error: YAML nesting is deeper than 64 levels\n"
            "  hint: campaign and contact files need a few levels of lists and mappings\n",
        ),
    ],
    ids=["python-tag", "deep"],
)
def test_a_hostile_config_is_refused_by_state_commands(
    tmp_path: Path, config: str, expected: str
) -> None:
    (tmp_path / "octoplan.yaml").write_text(config)
    result = octoplan(tmp_path, "state", "list")
    assert (result.returncode, result.stdout, result.stderr) == (1, "", expected)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["octoplan.yaml"]


# -- a damaged or newer state: refused by every command, untouched ---------------------------

CAMPAIGN = (
    "channel: sms\npurpose: alert\nsender: ShopX\ntext: Bonjour\n"
    'recipients: [{phone_number: "+33612345678"}]\n'
)


def _truncate(path: Path) -> str:
    path.write_bytes(path.read_bytes()[:1000])
    return "database disk image is malformed"


def _text(path: Path) -> str:
    path.write_text("region: FR\n")
    return "file is not a database"


def _newer(location: str) -> None:
    if is_postgres(location):
        with psycopg.connect(location) as conn:
            conn.execute("UPDATE meta SET schema_version = 99")
    else:
        with sqlite3.connect(location) as conn:
            conn.execute("UPDATE meta SET schema_version = 99")
        conn.close()


def _snapshot(location: str) -> object:
    if is_postgres(location):
        with psycopg.connect(location) as conn:
            return [conn.execute(f"SELECT * FROM {t}").fetchall() for t in ("meta", "batches")]
    folder = Path(location).parent
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.iterdir())}


@pytest.mark.parametrize(
    ("backend", "damage"),
    [
        ("sqlite", "truncated"),
        ("sqlite", "text"),
        ("sqlite", "newer"),
        pytest.param("postgres", "newer", marks=pytest.mark.postgres),
    ],
)
def test_a_damaged_or_newer_state_is_refused_untouched_and_nothing_is_sent(
    tmp_path: Path,
    request: pytest.FixtureRequest,
    sandbox: SandboxServer,
    backend: str,
    damage: str,
) -> None:
    state_url = (
        request.getfixturevalue("pg_url")
        if backend == "postgres"
        else str(tmp_path / "state" / "state.db")
    )
    project = write_files(
        tmp_path / "p", {"octoplan.yaml": "region: FR\n", "campaigns/c.yaml": CAMPAIGN}
    )
    store = open_state(state_url, project)
    store.record_intent(intent("r1", ["+33698765432"], campaign_id="c"), at(0))
    store.close()
    if damage == "newer":
        _newer(state_url)
        reason = None
    else:
        reason = (_truncate if damage == "truncated" else _text)(Path(state_url))
    before = _snapshot(state_url)
    env = {**sandbox.env(), "OCTOPLAN_STATE": state_url}

    results = [
        run_cli("apply", "--auto-approve", cwd=project, env=env),
        run_cli("plan", cwd=project, env=env),
    ]

    if reason is None:
        message = (
            f"{describe(state_url)}: state schema version 99 is newer than this octoplan "
            f"(max {SCHEMA_VERSION}); upgrade octoplan"
        )
    else:
        message = (
            f"{state_url}: not a readable octoplan state ({reason}); nothing was changed. "
            "Restore it from a backup; do not start a new state in its place if it held "
            "records (a new state does not know what was sent, and would send it again)"
        )
    for result in results:
        assert (result.returncode, result.stdout, result.stderr) == (1, "", f"error: {message}\n")
    assert sandbox.requests() == []
    assert _snapshot(state_url) == before
