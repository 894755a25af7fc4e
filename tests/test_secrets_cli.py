"""The API key never leaves the environment: not in any output at any verbosity, not in error
messages (a refused login included, with --debug), plan files, state (SQLite file or every
PostgreSQL table), nor the sandbox's output and data. One full run, then a grep of everything.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from octoplan.state.open import is_postgres, open_state
from tests.fixtures.project import run_cli, write_files

SECRET = "sk-live-7f3a9c0e5b1d4a2f"
WRONG = "sk-live-WRONG-55aa66bb"
CAMPAIGN = """\
id: promo
channel: sms
purpose: alert
sender: ShopX
text: "{{ contact.first_name }}, votre code: {{ contact.param1 }}"
contacts: [contacts/c.csv]
"""


@pytest.fixture
def sandbox_cli(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """`octoplan sandbox` in a subprocess, requiring SECRET."""
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "octoplan", "-vv", "sandbox", "--port", "0"),
            *("--api-login", "me@example.com", "--api-key", SECRET),
            *("--data", str(tmp_path / "sandbox" / "data.db")),
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert process.stdout is not None
    yield process, process.stdout.readline().strip()
    if process.poll() is None:
        process.kill()
        process.wait()


def everything_in(database: str) -> str:
    """Every row of every table of a PostgreSQL state, as text."""
    with psycopg.connect(database) as conn:
        tables = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        ).fetchall()
        return "\n".join(
            str(conn.execute(f'SELECT * FROM "{name}"').fetchall()) for (name,) in tables
        )


def journaled_bodies(state_url: str, root: Path) -> str:
    store = open_state(state_url, root)
    try:
        return "\n".join(store.payload(b.request_id) for b in store.batches())
    finally:
        store.close()


def test_the_api_key_is_in_no_output_and_no_artifact(
    tmp_path: Path, state_url: str, sandbox_cli: tuple[subprocess.Popen[str], str]
) -> None:
    process, base_url = sandbox_cli
    root = write_files(
        tmp_path / "project",
        {
            "octoplan.yaml": "region: FR\n",
            "campaigns/promo.yaml": CAMPAIGN,
            "contacts/c.csv": "phone_number,first_name,param1\n"
            + "".join(f"+3361234{i:04d},N{i},C{i}\n" for i in range(5)),
        },
    )
    env = {
        "OCTOPUSH_BASE_URL": base_url,
        "OCTOPUSH_API_LOGIN": "me@example.com",
        "OCTOPUSH_API_KEY": SECRET,
        "OCTOPLAN_STATE": state_url,
    }
    runs = [
        run_cli("-vvv", "plan", "-o", "plan.json", cwd=root, env=env),
        run_cli("-vv", "--debug", "apply", "--auto-approve", cwd=root, env=env),
        run_cli("-vv", "plan", "--format", "markdown", cwd=root, env=env),
        run_cli("-vv", "state", "show", "promo", "--format", "json", cwd=root, env=env),
    ]
    assert runs[1].returncode == 0, runs[1].stdout + runs[1].stderr
    write_files(root, {"contacts/c.csv": "phone_number,first_name,param1\n+33698765432,Z,C\n"})
    refused = run_cli(
        "-vv",
        "--debug",
        "apply",
        "--auto-approve",
        cwd=root,
        env={**env, "OCTOPUSH_API_KEY": WRONG},
    )
    assert refused.returncode == 1
    assert "HTTP 401" in refused.stdout, refused.stdout + refused.stderr
    runs.append(refused)
    process.send_signal(signal.SIGINT)
    sandbox_out, sandbox_err = process.communicate(timeout=30)

    texts = [r.stdout + r.stderr for r in runs] + [sandbox_out + sandbox_err]
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "plan.json" for p in files)
    assert any(p.name == "data.db" for p in files)
    if is_postgres(state_url):
        texts.append(everything_in(state_url))
        assert "promo" in texts[-1]
    else:
        assert any(p.name == "state.db" for p in files)
    # Request bodies are stored compressed in SQLite: read them back as text too.
    texts.append(journaled_bodies(state_url, root))
    assert '"recipients"' in texts[-1]
    for secret in (SECRET, WRONG):
        for text in texts:
            assert secret not in text
        for file in files:
            assert secret.encode() not in file.read_bytes(), file
