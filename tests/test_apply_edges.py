"""Exactly once at the edges (SPEC section 6): the real CLI against the real sandbox server,
attacked where a message could still go out twice or be counted wrong: a lost answer then a
4xx, a clock that passes the 24 h request_id window while apply waits, SIGTERM and SIGHUP, a
full disk and deleted state files, credentials no request can carry.

Every count of what was sent is read back from the sandbox's delivery log.
"""

from __future__ import annotations

import os
import pty
import resource
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from octoplan.sandbox import SandboxServer
from octoplan.state.base import BatchStatus
from octoplan.state.open import open_state
from octoplan.words import plural
from tests.fixtures.project import MakeProject, run_cli, write_files
from tests.fixtures.sandbox import SandboxFactory

CONFIG = "region: FR\ndefaults: {sender: ShopX}\n"
PROMPT = "Only 'yes' is accepted: "
HOUR = 3600.0


def campaign(campaign_id: str, contacts: str, batch_size: int = 500) -> str:
    return (
        f"id: {campaign_id}\nchannel: sms\npurpose: alert\nbatch_size: {batch_size}\n"
        f'text: "Bonjour {{{{ contact.first_name }}}}"\ncontacts: [contacts/{contacts}]\n'
    )


def numbers(start: int, count: int) -> list[str]:
    return [f"+3361299{i:04d}" for i in range(start, start + count)]


def contacts(start: int, count: int) -> str:
    rows = [f"{n},P{i}" for i, n in enumerate(numbers(start, count), start)]
    return "phone_number,first_name\n" + "\n".join(rows) + "\n"


def child_env(extra: dict[str, str]) -> dict[str, str]:
    # The test clock (tests/conftest.py, OCTOPLAN_NOW) is shared with the child, as every
    # reading of the journal's dates by this process must agree with the child's.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OCTOPUSH_", "OCTOPLAN_")) or k == "OCTOPLAN_NOW"
    }
    env.update(NO_COLOR="1", **extra)
    return env


def start_apply(
    root: Path,
    env: dict[str, str],
    *args: str,
    stdin: int | None = subprocess.DEVNULL,
    preexec_fn: Callable[[], None] | None = None,
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "octoplan", "apply", *args],
        cwd=root,
        env=child_env(env),
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=preexec_fn,
    )


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


def sends(server: SandboxServer) -> list[str | None]:
    """The request_id of every send request the sandbox received, faults included."""
    return [r.request_id for r in server.requests() if r.method == "POST"]


def delivered_once(server: SandboxServer) -> dict[str, str]:
    deliveries = server.deliveries()
    counts = Counter(d.recipient for d in deliveries)
    assert sorted(n for n, c in counts.items() if c > 1) == []  # nobody got it twice
    return {d.recipient: d.text for d in deliveries}


def expected(start: int, count: int) -> dict[str, str]:
    return {n: f"Bonjour P{i}" for i, n in enumerate(numbers(start, count), start)}


def batches(
    root: Path, campaign_id: str, location: str = ".octoplan/state.db"
) -> list[tuple[str, BatchStatus, int]]:
    store = open_state(location, root)
    try:
        return [(b.request_id, b.status, b.attempts) for b in store.batches(campaign_id)]
    finally:
        store.close()


def kill_in_flight(root: Path, env: dict[str, str], server: SandboxServer) -> str:
    """An apply SIGKILLed while its request is on the wire, after the sandbox accepted it:
    state holds the request journaled and attempted, its answer never came. Its request_id."""
    server.set_faults(latency=5.0)
    process = start_apply(root, env, "--auto-approve")
    wait_until(lambda: bool(sends(server)), "the request to reach the sandbox")
    process.kill()
    process.communicate(timeout=60)
    server.set_faults(latency=0.0)
    location = env.get("OCTOPLAN_STATE", ".octoplan/state.db")
    [(request_id, status, attempts)] = batches(root, "promo", location)
    assert (status, attempts) == (BatchStatus.INTENT, 1)
    return request_id


class ClockFile:
    """OCTOPLAN_CLOCK_FILE: moves the clock of running processes and of the sandbox."""

    def __init__(self, path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.path = path
        monkeypatch.setenv("OCTOPLAN_CLOCK_FILE", str(path))  # the sandbox, in this process

    def move_to(self, hours: float) -> None:
        spare = self.path.with_suffix(".new")
        spare.write_text(str(hours * HOUR))
        spare.replace(self.path)  # never read half-written


class Output:
    """A child's output stream, read as it comes."""

    def __init__(self, stream: object) -> None:
        self.text = ""
        self._stream = stream
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        read = self._stream.read  # type: ignore[attr-defined]
        while chunk := read(1):
            self.text += chunk

    def wait_for(self, text: str, count: int, process: subprocess.Popen[str]) -> None:
        def seen() -> bool:
            if self.text.count(text) >= count:
                return True
            if process.poll() is not None:
                self._thread.join(5)
                pytest.fail(f"apply ended ({process.returncode}) before {text!r}:\n{self.text}")
            return False

        wait_until(seen, repr(text))


@pytest.fixture
def project(make_project: MakeProject) -> Path:
    return make_project(
        {"campaigns/promo.yaml": campaign("promo", "c.csv"), "contacts/c.csv": contacts(0, 3)},
        config=CONFIG,
    )


# -- 1. Ambiguous, then refused, then sent again -------------------------------------------


@pytest.mark.parametrize(
    ("denial", "answer"),
    [
        ("deny401", "HTTP 401 code 101: Authentication failed: send valid api-login and "),
        ("deny403", "HTTP 403: <html><head><title>403 Forbidden</title></head><body>gateway"),
        ("deny400", "HTTP 400 code 400: Payload validation error."),
    ],
)
def test_a_4xx_to_the_retry_of_a_lost_answer_leaves_the_request_unconfirmed(
    project: Path, sandbox: SandboxServer, denial: str, answer: str
) -> None:
    # The API takes the request and its answer is lost; the client's retry is refused.
    sandbox.inject("drop", denial)  # type: ignore[arg-type]

    first = run_cli("apply", "--auto-approve", cwd=project, env=sandbox.env())

    assert first.returncode == 1, first.stdout + first.stderr
    [(request_id, status, _)] = batches(project, "promo")
    assert status is BatchStatus.INTENT  # not refused: its recipients are not re-planned
    assert f"  unconfirmed: promo request {request_id} (3 recipients): {answer}" in first.stdout
    assert (
        "    an earlier attempt of it may have reached the API, so this refusal does not prove "
        "it was not sent: it stays journaled; the next apply resends it under the same "
        "request_id, and after 23 h it is in doubt (`octoplan state resolve`)\n"
    ) in first.stdout
    assert delivered_once(sandbox) == expected(0, 3)

    second = run_cli("apply", "--auto-approve", cwd=project, env=sandbox.env())

    assert second.returncode == 0, second.stdout + second.stderr
    assert "1 request was confirmed by the API as already received" in second.stdout
    assert sends(sandbox) == [request_id] * 3  # same request_id every time: never a new one
    assert delivered_once(sandbox) == expected(0, 3)
    assert batches(project, "promo") == [(request_id, BatchStatus.ACCEPTED, 2)]


def test_a_4xx_to_the_next_apply_after_a_killed_one_leaves_the_request_unconfirmed(
    project: Path, sandbox: SandboxServer, state_url: str
) -> None:
    # The earlier attempt is only known from state: this apply's own attempt is its first.
    env = {**sandbox.env(), "OCTOPLAN_STATE": state_url}
    request_id = kill_in_flight(project, env, sandbox)
    sandbox.inject("deny403")

    refused = run_cli("apply", "--auto-approve", cwd=project, env=env)

    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert f"  unconfirmed: promo request {request_id} (3 recipients): HTTP 403" in refused.stdout
    assert batches(project, "promo", state_url) == [(request_id, BatchStatus.INTENT, 2)]
    final = run_cli("apply", "--auto-approve", cwd=project, env=env)
    assert final.returncode == 0, final.stdout + final.stderr
    assert sends(sandbox) == [request_id] * 3
    assert delivered_once(sandbox) == expected(0, 3)


def test_a_rotated_key_stops_the_apply_and_a_new_key_sends_each_message_once(
    make_project: MakeProject, sandbox_factory: SandboxFactory
) -> None:
    root = make_project(
        {
            "campaigns/promo.yaml": campaign("promo", "c.csv", batch_size=2),
            "contacts/c.csv": contacts(0, 12),
        },
        config=CONFIG,
    )
    server = sandbox_factory(api_key="old-key", latency=0.3)
    old = server.env(api_key="old-key")
    # The first request's answer is lost; the key is rotated while its retry waits.
    server.inject("drop")
    process = start_apply(root, old, "--auto-approve", "--concurrency", "1")
    wait_until(lambda: bool(sends(server)), "the first request")
    server.set_credentials(None, "new-key")
    out, err = process.communicate(timeout=120)

    assert process.returncode == 1, out + err
    records = batches(root, "promo")
    first_id = records[0][0]
    assert records[0][1] is BatchStatus.INTENT  # its retry got a 401: proves nothing
    assert f"  unconfirmed: promo request {first_id} (2 recipients): HTTP 401" in out
    assert "not started" in out  # a refused login refuses the rest: apply stopped
    assert len(sends(server)) <= 3

    final = run_cli("apply", "--auto-approve", cwd=root, env=server.env(api_key="new-key"))

    assert final.returncode == 0, final.stdout + final.stderr
    assert delivered_once(server) == expected(0, 12)


# -- 2. The 24 h window at the moment of sending -------------------------------------------


def test_a_confirmation_typed_after_the_window_plans_again_and_resends_nothing(
    project: Path, sandbox: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = ClockFile(tmp_path / "clock", monkeypatch)
    env = {**sandbox.env(), "OCTOPLAN_CLOCK_FILE": str(clock.path)}
    request_id = kill_in_flight(project, env, sandbox)
    clock.move_to(22.9)  # inside the window: the plan resends it under its request_id
    terminal, tty = pty.openpty()
    process = start_apply(project, env, stdin=tty)
    os.close(tty)
    out, err = Output(process.stdout), Output(process.stderr)
    err.wait_for(PROMPT, 1, process)
    resend = f"    ~ resend unconfirmed request {request_id} (3 recipients, same request_id)\n"
    # The plan went to stdout before the prompt went to stderr, but the two pipes are read by
    # two threads: on a loaded machine the prompt can be seen first.
    wait_until(lambda: resend in out.text, "the plan on stdout")
    assert resend in out.text

    clock.move_to(24.5)  # the operator answers after the API has forgotten the request_id
    os.write(terminal, b"yes\n")
    err.wait_for(PROMPT, 2, process)  # planned again: the plan changed, so it asks again
    replanned = (
        "The plan above was shown 96 minutes ago; planned again, it changed. The new plan:\n"
    )
    wait_until(lambda: replanned in out.text and request_id in out.text.split(replanned)[-1],
               "the new plan on stdout")  # fmt: skip
    assert (
        "The plan above was shown 96 minutes ago; planned again, it changed. The new plan:\n"
    ) in out.text
    assert f"in doubt: request {request_id} (3 recipients) was sent more than 23 h ago" in (
        out.text
    )
    os.write(terminal, b"yes\n")
    process.wait(timeout=120)
    os.close(terminal)

    assert process.returncode == 0, out.text + err.text
    assert "1 request is in doubt (unconfirmed for over 23 h)" in out.text
    assert sends(sandbox) == [request_id]  # the killed apply's attempt only
    assert delivered_once(sandbox) == expected(0, 3)
    assert batches(project, "promo") == [(request_id, BatchStatus.IN_DOUBT, 1)]


def test_a_request_that_waits_in_the_queue_past_the_window_is_not_sent(
    project: Path, sandbox: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = ClockFile(tmp_path / "clock", monkeypatch)
    env = {**sandbox.env(), "OCTOPLAN_CLOCK_FILE": str(clock.path)}
    request_id = kill_in_flight(project, env, sandbox)
    # A campaign sorted first: its requests go before the resumed one.
    write_files(
        project,
        {
            "campaigns/a.yaml": campaign("a", "a.csv", batch_size=1),
            "contacts/a.csv": contacts(100, 6),
        },
    )
    clock.move_to(22.9)
    sandbox.set_faults(latency=0.3)
    process = start_apply(project, env, "--auto-approve", "--concurrency", "1")
    wait_until(lambda: len(sends(sandbox)) >= 2, "the first request of the long apply")
    clock.move_to(24.5)  # while the resumed request still waits for its turn
    out, err = process.communicate(timeout=120)

    assert process.returncode == 0, out + err
    assert "1 request is in doubt (unconfirmed for over 23 h)" in out
    assert sends(sandbox).count(request_id) == 1  # never resent past the window
    assert delivered_once(sandbox) == {**expected(0, 3), **expected(100, 6)}
    assert batches(project, "promo") == [(request_id, BatchStatus.IN_DOUBT, 1)]


def test_a_saved_plan_applied_after_the_window_is_refused_as_stale(
    project: Path, sandbox: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = ClockFile(tmp_path / "clock", monkeypatch)
    env = {**sandbox.env(), "OCTOPLAN_CLOCK_FILE": str(clock.path)}
    request_id = kill_in_flight(project, env, sandbox)
    clock.move_to(22.9)
    saved = run_cli("plan", "-o", "plan.json", cwd=project, env=env)
    assert saved.returncode == 0, saved.stderr
    clock.move_to(24.5)

    result = run_cli("apply", "plan.json", cwd=project, env=env)

    assert result.returncode == 1
    assert result.stderr == (
        "error: plan.json: stale plan: campaign 'promo' would now send nothing (reviewed: send "
        "3 messages in 1 request); run `octoplan plan -o plan.json` again and review it\n"
    )
    assert sends(sandbox) == [request_id]
    assert batches(project, "promo") == [(request_id, BatchStatus.INTENT, 1)]


# -- 6. SIGTERM and SIGHUP -----------------------------------------------------------------


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_sigterm_and_sighup_finish_the_requests_in_flight_and_release_the_lock(
    make_project: MakeProject,
    sandbox_factory: SandboxFactory,
    state_url: str,
    signum: int,
    code: int,
) -> None:
    root = make_project(
        {
            "campaigns/promo.yaml": campaign("promo", "c.csv", batch_size=4),
            "contacts/c.csv": contacts(0, 48),
        },
        config=CONFIG,
    )
    server = sandbox_factory(latency=0.3)
    env = {**server.env(), "OCTOPLAN_STATE": state_url}
    process = start_apply(root, env, "--auto-approve")
    wait_until(lambda: bool(sends(server)), "the first request")
    process.send_signal(signum)
    out, err = process.communicate(timeout=120)

    name = signal.Signals(signum).name
    assert process.returncode == code, out + err
    assert (
        f"\n{name} received: finishing the requests in flight, starting no more "
        f"(another {name} aborts)...\n"
    ) in err
    assert "Apply finished with problems: " in out
    assert " not started: run `octoplan apply` again." in out
    store = open_state(state_url, root)
    try:
        assert store.lock_info() is None
        records = store.batches("promo")
    finally:
        store.close()
    received = set(sends(server))
    assert {b.request_id for b in records if b.status is BatchStatus.ACCEPTED} == received
    unsent = [b for b in records if b.status is BatchStatus.INTENT]
    assert all((b.attempts, b.first_sent_at) == (0, None) for b in unsent), unsent
    sent_before = len(delivered_once(server))
    assert 0 < sent_before < 48

    rerun = run_cli("apply", "--auto-approve", cwd=root, env=env)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert f"{sent_before} already sent" in rerun.stdout
    assert delivered_once(server) == expected(0, 48)


def test_sigterm_at_the_confirmation_prompt_sends_nothing_and_exits_143(
    project: Path, sandbox: SandboxServer
) -> None:
    terminal, tty = pty.openpty()
    process = start_apply(project, sandbox.env(), stdin=tty)
    os.close(tty)
    err = Output(process.stderr)
    err.wait_for(PROMPT, 1, process)
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)
    os.close(terminal)

    assert process.returncode == 143, err.text
    assert err.text.endswith(f"{PROMPT}\nStopped by SIGTERM: nothing was sent.\n")
    assert sandbox.requests() == []
    store = open_state(".octoplan/state.db", project)
    try:
        assert (store.lock_info(), store.batches()) == (None, [])
    finally:
        store.close()


# -- 8. Storage faults -----------------------------------------------------------------------


def _file_size_limit(size: int) -> Callable[[], None]:
    """A child that cannot write a file past `size` bytes: a disk that fills up mid-apply."""

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write fails instead of killing
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))

    return limit


def test_a_full_disk_mid_apply_says_what_was_sent_and_recorded_and_keeps_the_state(
    make_project: MakeProject, sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Under --cov the child would measure itself, fail to write its data past the file size
    # limit too, and say so on stderr at exit: it is left unmeasured (nothing would be saved).
    monkeypatch.delenv("COVERAGE_PROCESS_CONFIG", raising=False)
    root = make_project(
        {
            "campaigns/promo.yaml": campaign("promo", "c.csv", batch_size=4),
            "contacts/c.csv": contacts(0, 48),
        },
        config=CONFIG,
    )
    process = start_apply(
        root, sandbox.env(), "--auto-approve", "--concurrency", "1",
        preexec_fn=_file_size_limit(140_000),
    )  # fmt: skip
    out, err = process.communicate(timeout=120)

    assert process.returncode == 1, out + err
    records = batches(root, "promo")
    accepted = [rid for rid, status, _ in records if status is BatchStatus.ACCEPTED]
    assert 0 < len(accepted) < 12
    assert set(sends(sandbox)) == set(accepted)  # what was sent was recorded
    state = root / ".octoplan" / "state.db"
    assert err == (
        f"error: {state}: the state could not be written (disk I/O error). Everything "
        "recorded before is kept in it: do not move it away or delete it (a new state would "
        "not know what was sent, and would send it again). Fix the cause (free disk space, "
        "make it writable), then run the command again\n"
    )
    assert (
        f"Apply stopped: the state could not be written: {len(accepted) * 4} messages sent and "
        f"recorded in {plural(len(accepted), 'request')}, cost "
    ) in out
    assert f"  {12 - len(accepted)} requests not started: run `octoplan apply` again." in out
    assert "move it away to start" not in out + err

    rerun = run_cli("apply", "--auto-approve", cwd=root, env=sandbox.env())
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert f"{len(accepted) * 4} already sent" in rerun.stdout
    assert delivered_once(sandbox) == expected(0, 48)


@pytest.mark.parametrize("deleted", ["state.db-wal", "state.db"])
def test_state_files_deleted_mid_apply_are_written_back_before_a_sigkill_loses_them(
    make_project: MakeProject, sandbox_factory: SandboxFactory, deleted: str
) -> None:
    root = make_project(
        {
            "campaigns/promo.yaml": campaign("promo", "c.csv", batch_size=4),
            "contacts/c.csv": contacts(0, 48),
        },
        config=CONFIG,
    )
    server = sandbox_factory(latency=0.2)
    process = start_apply(root, server.env(), "--auto-approve", "--concurrency", "1")
    wait_until(lambda: len(sends(server)) >= 3, "three requests")
    (root / ".octoplan" / deleted).unlink()
    # Whatever the apply does next, it is killed soon: what it holds only in memory, or in a
    # deleted file, is lost then.
    seen = len(sends(server))
    wait_until(
        lambda: process.poll() is not None or len(sends(server)) >= seen + 3, "the apply's reply"
    )
    process.kill()
    out, err = process.communicate(timeout=60)

    state = root / ".octoplan" / "state.db"
    if deleted == "state.db":
        what = (
            "the state file was deleted while octoplan was using it; everything recorded up "
            "to then was written back to it from the open copy, and this command stopped there"
        )
    else:
        what = (
            "its write-ahead log state.db-wal was deleted while octoplan was using it; "
            "everything recorded up to then was saved into the database file, and this "
            "command stopped there"
        )
    assert process.returncode == 1, out + err
    assert f"\nerror: {state}: {what}. Everything recorded before is kept in it: " in err
    plan = run_cli("plan", cwd=root)
    sent = len(delivered_once(server))
    assert sent >= 12
    # The state knows every message that went out: none of them is planned again.
    assert f"{sent} already sent" in plan.stdout, plan.stdout
    rerun = run_cli("apply", "--auto-approve", cwd=root, env=server.env())
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert delivered_once(server) == expected(0, 48)


# -- 10. Credentials no request can carry ----------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "value", "problem"),
    [
        ("OCTOPUSH_API_KEY", "clé-secrète-0123", "a non-ASCII character at character 3"),
        ("OCTOPUSH_API_KEY", "key-0123\nX-Evil: 1", "a line break at character 9"),
        ("OCTOPUSH_API_LOGIN", "ops@shopx.fr\x7f", "a control character at character 13"),
    ],
    ids=["non-ascii", "newline", "control"],
)
def test_credentials_no_header_can_carry_are_refused_before_anything_is_written(
    project: Path, sandbox: SandboxServer, variable: str, value: str, problem: str
) -> None:
    result = run_cli("apply", "--auto-approve", cwd=project, env={**sandbox.env(), variable: value})

    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        f"error: {variable} holds {problem}, which no HTTP header can carry (its value is not "
        "shown): set it exactly as the Octopush dashboard shows it; nothing was sent\n"
    )
    assert sandbox.requests() == []
    assert not (project / ".octoplan").exists()  # no state, no journaled intent
