"""`octoplan sandbox` as users run it: a real subprocess, stopped by a signal."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from octoplan.sandbox import read_deliveries
from tests.fixtures.project import run_cli

HEADERS = {"api-login": "me@example.com", "api-key": "cli-secret-key-42"}


def start(*args: str, cwd: Path) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "octoplan", "sandbox", "--port", "0", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert process.stdout is not None
    base_url = process.stdout.readline().strip()
    return process, base_url


@pytest.fixture
def running(tmp_path: Path) -> Iterator[list[subprocess.Popen[str]]]:
    processes: list[subprocess.Popen[str]] = []
    yield processes
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_serves_until_interrupted_then_exits_0(
    tmp_path: Path, running: list[subprocess.Popen[str]]
) -> None:
    process, base_url = start("--api-key", HEADERS["api-key"], cwd=tmp_path)
    running.append(process)
    assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/v1/public")
    body = {
        "text": "Code 1234",
        "purpose": "alert",
        "recipients": [{"phone_number": "+33612345678"}],
    }
    response = httpx.post(base_url + "/sms-campaign/send", json=body, headers=HEADERS)
    assert response.status_code == 201
    wrong = httpx.post(
        base_url + "/sms-campaign/send", json=body, headers={**HEADERS, "api-key": "x"}
    )
    assert wrong.status_code == 401

    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=20)
    assert process.returncode == 0
    port = base_url.split(":")[2].split("/")[0]
    data = tmp_path / ".octoplan" / "sandbox.db"
    assert stderr == (
        f"octoplan sandbox listening on {base_url} (data: {data})\n"
        "credit: 1000.00 EUR\n"
        "Point octoplan at it:\n"
        f"  export OCTOPUSH_BASE_URL={base_url}\n"
        "  export OCTOPUSH_API_LOGIN=you@example.com OCTOPUSH_API_KEY=<the --api-key value>\n"
        f"Delivered messages: http://127.0.0.1:{port}/_sandbox/deliveries\n"
        "Press Ctrl-C to stop.\n"
        "sandbox stopped\n"
    )
    assert HEADERS["api-key"] not in stdout + stderr
    assert [d.text for d in read_deliveries(data)] == ["Code 1234"]


def test_sigterm_stops_it_too_and_faults_are_announced(
    tmp_path: Path, running: list[subprocess.Popen[str]]
) -> None:
    data = tmp_path / "elsewhere.db"
    process, _ = start(
        "--data",
        str(data),
        "--fail-rate",
        "0.25",
        "--drop-rate",
        "0.1",
        "--latency",
        "0.5",
        "--credit",
        "12.5",
        cwd=tmp_path,
    )
    running.append(process)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=20)
    assert process.returncode == 0
    lines = stderr.splitlines()
    assert lines[1:3] == [
        "credit: 12.50 EUR",
        "faults: HTTP 500 on 25% of requests, 10% of answers dropped after acceptance, "
        "0.5 s added latency",
    ]
    assert data.is_file()


def test_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "octoplan", "sandbox", "--port", str(port)],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == 1
    assert result.stderr == (
        f"error: cannot listen on 127.0.0.1:{port}: Address already in use; "
        "choose another port with --port (0 picks a free one)\n"
    )
    assert result.stdout == ""


def test_a_reply_without_text_and_a_callback_url_that_is_not_http_are_refused(
    tmp_path: Path,
) -> None:
    empty = run_cli("sandbox", "reply", "0612345678", "  ", cwd=tmp_path)
    assert (empty.returncode, empty.stderr) == (1, "error: the reply text is empty\n")
    assert not (tmp_path / ".octoplan" / "sandbox.db").exists()
    ftp = run_cli("sandbox", "--callback-url", "ftp://x/y", cwd=tmp_path)
    assert (ftp.returncode, ftp.stdout, ftp.stderr) == (
        1,
        "",
        "error: --callback-url must be an http:// or https:// URL, not 'ftp://x/y'\n",
    )
