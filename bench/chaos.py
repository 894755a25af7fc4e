"""Chaos run: apply against a faulty sandbox, killed at random moments, until done.

    python bench/chaos.py --recipients 5000 --kills 30 [--state postgresql://.../<empty db>]

The sandbox answers 15% of requests with HTTP 500 and accepts 10% before dropping the
connection; half of those lost answers are followed by a 4xx to the next two attempts of the
same request_id (401, 403 from a gateway, 400 in turn: nothing such a refusal says proves the
first attempt was not delivered). Apply is stopped at random moments, with SIGKILL, or every
third time with SIGTERM (it must then finish what is in flight and exit 143; the signal is
sent once the process handles it, not during the interpreter's own start). During every
seventh apply the API key is rotated once requests are on their way, and the next apply still
uses the old key (it stops at its first 401) before the operator catches up. Then apply is
rerun until a plan shows no changes. The sandbox's delivery log is then checked: every
recipient exactly one message, with the text `octoplan render` shows. Prints recipients,
kills, faults, retries, duplicates, lost.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from octoplan.sandbox import SandboxServer  # noqa: E402

CAMPAIGN = """\
id: chaos
channel: sms
purpose: alert
sender: ShopX
batch_size: {batch}
text: "{{{{ contact.first_name }}}}, code {{{{ contact.code }}}}{vip}"
contacts: [contacts/c.csv]
"""
VIP = "{% if contact.vip %} VIP{% endif %}"


def make_project(root: Path, recipients: int, batch: int) -> None:
    (root / "campaigns").mkdir(parents=True)
    (root / "contacts").mkdir()
    (root / "octoplan.yaml").write_text("region: FR\n")
    (root / "campaigns" / "chaos.yaml").write_text(CAMPAIGN.format(batch=batch, vip=VIP))
    rows = ["phone_number,first_name,code,vip"]
    rows += [
        f"+336{i:08d},N{i},C{i * 7919 % 100000:05d},{'1' if i % 5 == 0 else ''}"
        for i in range(recipients)
    ]
    (root / "contacts" / "c.csv").write_text("\n".join(rows) + "\n")


def env_for(server: SandboxServer, state: str | None, key: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OCTOPUSH_", "OCTOPLAN_"))}
    env.update(server.env(api_key=key), NO_COLOR="1")
    if state:
        env["OCTOPLAN_STATE"] = state
    return env


def octoplan(*args: str) -> list[str]:
    return [sys.executable, "-m", "octoplan", *args]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=5000)
    parser.add_argument("--kills", type=int, default=30)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--fail-rate", type=float, default=0.15)
    parser.add_argument("--drop-rate", type=float, default=0.10)
    parser.add_argument("--latency", type=float, default=0.01)
    parser.add_argument(
        "--deny-after-drop",
        type=float,
        default=0.5,
        help="share of lost answers whose next two attempts get a 4xx",
    )
    parser.add_argument(
        "--sigterm-every", type=int, default=3, help="every Nth stop is a SIGTERM (0: never)"
    )
    parser.add_argument(
        "--rotate-every",
        type=int,
        default=7,
        help="during every Nth apply, the API key is rotated (0: never)",
    )
    parser.add_argument(
        "--state", help="OCTOPLAN_STATE, e.g. an empty PostgreSQL database (default: SQLite)"
    )
    parser.add_argument(
        "--kill-after",
        type=float,
        nargs=2,
        default=(1.0, 4.0),
        metavar=("MIN", "MAX"),
        help="each apply is killed after a random number of seconds in [MIN, MAX]",
    )
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()

    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="octoplan-chaos-") as tmp:
        root = Path(tmp) / "project"
        make_project(root, args.recipients, args.batch)
        keys = 0
        server = SandboxServer(
            Path(tmp) / "sandbox.db",
            api_key=f"key-{keys}",
            fail_rate=args.fail_rate,
            drop_rate=args.drop_rate,
            latency=args.latency,
            seed=args.seed,
            deny_after_drop=args.deny_after_drop,
            credit=max(1000.0, args.recipients * 0.1),  # plan and apply check the balance
        )
        server.start()
        env = env_for(server, args.state, f"key-{keys}")
        rendered = subprocess.run(
            octoplan("render", "chaos", "--format", "json"),
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        expected = {r["recipient"]: r["text"] for r in json.loads(rendered.stdout)}

        started = time.monotonic()
        kills = runs = terms = rotations = 0
        bad_exits: list[int] = []  # SIGTERMed applies that did not exit 143
        # ... but with their own 0 or 1: they were already on their way out (done, or stopped
        # by a 401) when the signal came.
        finished_first = 0
        late_key: str | None = None  # rotated during the last apply: the next one still uses it
        while kills < args.kills:
            runs += 1
            child = subprocess.Popen(
                octoplan("apply", "--auto-approve", "--lock-timeout", "60"),
                cwd=root,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            delay = rng.uniform(*args.kill_after)
            rotate = _every(args.rotate_every, runs - 1)
            if rotate:
                # Once this apply sends (its answers then come back 401), not while it plans.
                sent = len(server.requests())
                deadline = time.monotonic() + 60
                while len(server.requests()) == sent and child.poll() is None:
                    if time.monotonic() > deadline:
                        break
                    time.sleep(0.01)
                keys += 1
                rotations += 1
                server.set_credentials(None, f"key-{keys}")
            if late_key is not None:
                child.wait()  # the one stale-key apply stops at its first 401: let it
            time.sleep(delay)
            if child.poll() is None:
                if _every(args.sigterm_every, kills, offset=2):
                    # Not before the interpreter has run octoplan's first line (octoplan/
                    # signals.py): until then the signal's default action applies to any program.
                    _wait_until_caught(child, signal.SIGTERM)
                    child.send_signal(signal.SIGTERM)
                    terms += 1
                    try:
                        child.wait(timeout=120)
                    except subprocess.TimeoutExpired:
                        child.kill()
                    if child.wait() != 143:
                        if child.returncode in (0, 1):
                            finished_first += 1
                        else:
                            bad_exits.append(child.returncode)
                else:
                    child.send_signal(signal.SIGKILL)
                kills += 1
            child.wait()
            # The operator learns of a rotation one apply late.
            if late_key is not None:
                env = env_for(server, args.state, late_key)
                late_key = None
            if rotate:
                late_key = f"key-{keys}"
            if child.returncode == 0 and not _has_changes(root, env):
                break  # finished before we could kill it enough: start over is pointless
        if late_key is not None:
            env = env_for(server, args.state, late_key)
        finals = 0
        while _has_changes(root, env):
            finals += 1
            subprocess.run(
                octoplan("apply", "--auto-approve"),
                cwd=root,
                env=env,
                capture_output=True,
                check=False,
            )
            if finals > 20:
                print("apply did not converge", file=sys.stderr)
                return 1
        elapsed = time.monotonic() - started

        deliveries = server.deliveries()
        requests = server.requests()
        server.stop()
    counts = Counter(d.recipient for d in deliveries)
    duplicates = sum(n - 1 for n in counts.values() if n > 1)
    lost = sum(1 for r in expected if r not in counts)
    wrong = sum(1 for d in deliveries if expected.get(d.recipient) != d.text)
    posts = [r for r in requests if r.method == "POST"]
    faults = Counter(r.outcome for r in posts)
    denied = sum(n for outcome, n in faults.items() if outcome in DENIALS)
    rotated = sum(1 for r in posts if r.status == 401 and r.outcome == "refused")
    print(f"state             {'PostgreSQL' if args.state else 'SQLite'}")
    print(f"recipients        {len(expected):,}")
    print(
        f"apply runs        {runs + finals:,} ({kills - terms} SIGKILLed, {terms} SIGTERMed, "
        f"{finals} to finish)"
    )
    others = f", others: {bad_exits}" if bad_exits else ""
    print(
        f"SIGTERM exits     {terms - len(bad_exits) - finished_first} of {terms} with 143 "
        f"({finished_first} ended on their own first{others})"
    )
    print(f"key rotations     {rotations} (401s to a rotated key: {rotated:,})")
    print(f"4xx after drop    {denied:,}")
    print(f"send requests     {len(posts):,} ({dict(faults)})")
    print(f"retries           {len(posts) - len({r.request_id for r in posts}):,}")
    print(f"deliveries        {len(deliveries):,}")
    print(f"duplicates        {duplicates}")
    print(f"lost              {lost}")
    print(f"wrong text        {wrong}")
    print(f"wall time         {elapsed:.1f} s")
    return 0 if duplicates == lost == wrong == len(bad_exits) == 0 else 1


DENIALS = ("fault_401", "fault_403", "fault_400")


def _wait_until_caught(child: subprocess.Popen[bytes], signum: int) -> None:
    """Until the process handles `signum` (Linux: its SigCgt mask in /proc), or has ended."""
    status = Path(f"/proc/{child.pid}/status")
    deadline = time.monotonic() + 60
    while child.poll() is None and time.monotonic() < deadline:
        try:
            caught = next(
                line.split()[1]
                for line in status.read_text().splitlines()
                if line.startswith("SigCgt:")
            )
        except (OSError, StopIteration):
            return  # no /proc here: send it anyway
        if int(caught, 16) >> (signum - 1) & 1:
            return
        time.sleep(0.005)


def _every(period: int, count: int, offset: int = 0) -> bool:
    """Is the `count`th stop (from 0) one of every `period`th, shifted by `offset`?"""
    return period > 0 and count % period == (period - 1 + offset) % period


def _has_changes(root: Path, env: dict[str, str]) -> bool:
    result = subprocess.run(
        octoplan("plan", "--detailed-exitcode"),
        cwd=root,
        env=env,
        capture_output=True,
        check=False,
    )
    if result.returncode not in (0, 2):
        raise SystemExit(f"plan failed: {result.stdout.decode()}{result.stderr.decode()}")
    return result.returncode == 2


if __name__ == "__main__":
    raise SystemExit(main())
