"""`octoplan receive` as a real process: the door (token, sizes, bodies), durability, signals."""

from __future__ import annotations

import json
import signal
import socket
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from octoplan.events import dedup_key
from octoplan.state.eventlog import RawEvent
from octoplan.state.open import is_postgres, open_state
from tests.fixtures.project import run_cli
from tests.fixtures.receiver import TOKEN, start_receiver, wait_for
from tests.state.helpers import at

pytestmark = pytest.mark.usefixtures("processes")
JSON = {"content-type": "application/json"}


def rows(state_url: str, sql: str) -> list[tuple[object, ...]]:
    if is_postgres(state_url):
        with psycopg.connect(state_url) as conn:
            return conn.execute(sql).fetchall()
    conn = sqlite3.connect(state_url)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def report(message_id: str, status: str = "DELIVERED", number: str = "+33612345678") -> bytes:
    return json.dumps(
        {
            "channel": "sms",
            "message_id": message_id,
            "number": number,
            "status": status,
            "delivery_date": "2026-03-01 10:00:00",
        }
    ).encode()


@pytest.fixture
def project(make_project: object) -> Path:
    assert callable(make_project)
    root: Path = make_project()
    return root


@pytest.fixture
def env(state_url: str) -> dict[str, str]:
    return {"OCTOPLAN_STATE": state_url}


def test_it_needs_a_token(project: Path) -> None:
    result = run_cli("receive", "--port", "0", cwd=project)
    assert result.returncode == 1
    assert result.stderr == (
        "error: OCTOPLAN_CALLBACK_TOKEN is not set: the callback URL is /callbacks/<token>, "
        "and the token is what keeps strangers out; make one with: "
        'python3 -c "import secrets; print(secrets.token_urlsafe(32))"\n'
    )
    weak = run_cli("receive", cwd=project, env={"OCTOPLAN_CALLBACK_TOKEN": "short"})
    assert weak.returncode == 1
    assert weak.stderr.startswith(
        "error: OCTOPLAN_CALLBACK_TOKEN must be 16 to 256 letters, digits or ._~- characters"
    )
    assert not (project / ".octoplan").exists()  # nothing created


def test_the_door(project: Path, env: dict[str, str], state_url: str) -> None:
    receiver = start_receiver(project, env)
    with httpx.Client(base_url=receiver.url) as client:
        wrong = client.post("/callbacks/test-token-0123456789abcdeX", content=report("m1"))
        shorter = client.post("/callbacks/test", content=report("m1"))
        elsewhere = client.post("/", content=report("m1"))
        get = client.get(f"/callbacks/{TOKEN}")
        ok = client.post(f"/callbacks/{TOKEN}", content=report("m1"), headers=JSON)
        form = client.post(
            f"/callbacks/{TOKEN}",
            content=b"message_id=m2&number=%2B33612345678&status=ACK",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        health = client.get("/healthz")
    assert [r.status_code for r in (wrong, shorter, elsewhere, get)] == [404, 404, 404, 405]
    assert (ok.status_code, ok.content, form.status_code, form.content) == (204, b"", 204, b"")
    assert (health.status_code, health.text) == (200, "ok")
    code, out, err = receiver.stop()
    assert (code, out) == (0, "")
    assert TOKEN not in err  # never printed, never logged
    stored = rows(state_url, "SELECT content_type, body, interpreted FROM raw_events ORDER BY id")
    assert [(ctype, bytes(body)) for ctype, body, _ in stored] == [
        ("application/json", report("m1")),
        ("application/x-www-form-urlencoded", b"message_id=m2&number=%2B33612345678&status=ACK"),
    ]


def test_oversized_bodies_are_refused_and_traced(
    project: Path, env: dict[str, str], state_url: str
) -> None:
    receiver = start_receiver(project, env)
    limit = 64 * 1024
    with httpx.Client(base_url=receiver.url) as client:
        at_limit = client.post(f"/callbacks/{TOKEN}", content=b"x" * limit)
        declared = client.post(f"/callbacks/{TOKEN}", content=b"y" * (limit + 1))

        def chunks() -> Iterator[bytes]:  # no Content-Length: it is counted as it comes
            for _ in range(20):
                yield b"z" * 4096

        streamed = client.post(f"/callbacks/{TOKEN}", content=chunks())
        after = client.post(f"/callbacks/{TOKEN}", content=report("m1"), headers=JSON)
    assert [r.status_code for r in (at_limit, declared, streamed, after)] == [204, 413, 413, 204]
    receiver.stop()
    stored = rows(state_url, "SELECT problem, length(body) FROM raw_events ORDER BY id")
    assert stored == [
        (None, limit),
        ("body refused: 65,537 bytes announced (limit 65,536)", 0),
        ("body refused: over 65,536 bytes (limit 65,536)", limit),
        (None, len(report("m1"))),
    ]


def test_bad_input_is_kept_reported_and_never_stops_the_rest(
    project: Path, env: dict[str, str]
) -> None:
    receiver = start_receiver(project, env)
    bodies = [
        (b"\xff\x00\xfe", "application/octet-stream"),
        (b"{broken", "application/json"),
        (b'{"what": "ever"}', "application/json"),
        (report("m1", number="12"), "application/json"),
        (report("m2"), "application/json"),  # valid, but no request to that number
    ]
    with httpx.Client(base_url=receiver.url) as client:
        answers = [
            client.post(f"/callbacks/{TOKEN}", content=body, headers={"content-type": ctype})
            for body, ctype in bodies
        ]
    assert [a.status_code for a in answers] == [204] * 5

    def status() -> dict[str, object]:
        result = run_cli("status", "--format", "json", cwd=project, env=env)
        assert result.returncode == 0, result.stderr
        found: dict[str, object] = json.loads(result.stdout)
        return found

    final = wait_for(
        status,
        lambda s: (
            s["unmatched"] == {"total": 5, "by_kind": {"delivery": 2, "malformed": 2, "unknown": 1}}
        ),
    )
    assert final["campaigns"] == []
    assert receiver.process.poll() is None  # still serving


def test_a_repeated_callback_is_one_event(
    project: Path, env: dict[str, str], state_url: str
) -> None:
    receiver = start_receiver(project, env)
    with httpx.Client(base_url=receiver.url) as client:
        for _ in range(3):
            assert client.post(f"/callbacks/{TOKEN}", content=report("m1")).status_code == 204
    receiver.stop()
    assert rows(state_url, "SELECT COUNT(*) FROM raw_events") == [(1,)]


def test_callbacks_stored_but_not_interpreted_are_interpreted_on_the_next_start(
    project: Path, env: dict[str, str], state_url: str
) -> None:
    store = open_state(state_url, project)
    body = json.dumps({"number": "+33612345678", "text": "STOP", "stop_date": ""}).encode()
    store.append_raw(
        [RawEvent(dedup_key("application/json", body), at(0), "application/json", body)]
    )
    store.close()
    receiver = start_receiver(project, env)
    wait_for(
        lambda: rows(state_url, "SELECT recipient_key FROM opt_outs"),
        lambda found: found == [("+33612345678",)],
    )
    receiver.stop()
    assert rows(state_url, "SELECT interpreted FROM raw_events") == [(1,)]


def test_sigterm_stops_it_cleanly_and_sighup_too(project: Path, env: dict[str, str]) -> None:
    for stop in (signal.SIGTERM, signal.SIGHUP):
        receiver = start_receiver(project, env)
        receiver.process.send_signal(stop)
        _, err = receiver.process.communicate(timeout=30)
        assert receiver.process.returncode == 0, err
        assert err.endswith("receive stopped\n")


def test_a_sigkill_mid_burst_loses_no_acknowledged_callback(
    project: Path, env: dict[str, str], state_url: str
) -> None:
    receiver = start_receiver(project, env)
    acknowledged: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def send(worker: int) -> None:
        with httpx.Client(base_url=receiver.url, timeout=5) as client:
            for n in range(100_000):
                if stop.is_set():
                    return
                body = report(f"sms_{worker}_{n}")
                try:
                    answer = client.post(f"/callbacks/{TOKEN}", content=body, headers=JSON)
                except httpx.HTTPError:
                    return  # killed: no answer, no promise
                if answer.status_code == 204:
                    with lock:
                        acknowledged.append(dedup_key("application/json", body))

    threads = [threading.Thread(target=send, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    wait_for(lambda: len(acknowledged), lambda n: n >= 500, timeout=60)
    receiver.process.kill()  # SIGKILL: no shutdown, no flush
    receiver.process.communicate()
    stop.set()
    for thread in threads:
        thread.join(30)
    stored = {key for (key,) in rows(state_url, "SELECT dedup_key FROM raw_events")}
    assert len(acknowledged) >= 500
    assert set(acknowledged) <= stored
    # It starts again on what was left, and interprets whatever was stored.
    restarted = start_receiver(project, env)
    wait_for(
        lambda: rows(state_url, "SELECT COUNT(*) FROM raw_events WHERE interpreted = 0"),
        lambda found: found == [(0,)],
    )
    restarted.stop()
    assert rows(state_url, "SELECT COUNT(*) FROM events") == [(len(stored),)]


def test_a_port_in_use_is_a_clear_error(project: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli(
            "receive",
            "--port",
            str(port),
            cwd=project,
            env={"OCTOPLAN_CALLBACK_TOKEN": TOKEN},
        )
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        f"error: cannot listen on 127.0.0.1:{port}: Address already in use; "
        "choose another port with --port (0 picks a free one)\n"
    )
    assert not (project / ".octoplan").exists()  # nothing written for a command that failed


def test_a_state_that_cannot_be_opened_is_told_before_the_url(project: Path) -> None:
    (project / "blocker").write_text("a file where the state's directory should be\n")
    result = run_cli(
        "receive",
        "--port",
        "0",
        cwd=project,
        env={"OCTOPLAN_CALLBACK_TOKEN": TOKEN, "OCTOPLAN_STATE": "blocker/state.db"},
    )
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        f"error: {project / 'blocker' / 'state.db'}: cannot hold a state: "
        f"{project / 'blocker'} is a file, not a directory; nothing was changed. Point "
        "OCTOPLAN_STATE (or `state:` in octoplan.yaml) at a file in a directory\n"
    )
