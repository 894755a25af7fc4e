"""Chaos run: apply against a faulty sandbox, SIGKILLed at random moments, until done.

    python bench/chaos.py --recipients 5000 --kills 30 [--state postgresql://.../<empty db>]

The sandbox answers 15% of requests with HTTP 500 and accepts 10% before dropping the
connection; apply is killed with SIGKILL at random moments, then rerun until a plan shows no
changes. The sandbox's delivery log is then checked: every recipient exactly one message, with
the text `octoplan render` shows. Prints recipients, kills, retries, duplicates, lost.
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


def env_for(server: SandboxServer, state: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OCTOPUSH_", "OCTOPLAN_"))}
    env.update(server.env(), NO_COLOR="1")
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
        server = SandboxServer(
            Path(tmp) / "sandbox.db",
            fail_rate=args.fail_rate,
            drop_rate=args.drop_rate,
            latency=args.latency,
            seed=args.seed,
        )
        server.start()
        env = env_for(server, args.state)
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
        kills = runs = 0
        while kills < args.kills:
            runs += 1
            child = subprocess.Popen(
                octoplan("apply", "--auto-approve", "--lock-timeout", "60"),
                cwd=root,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(rng.uniform(*args.kill_after))
            if child.poll() is None:
                child.send_signal(signal.SIGKILL)
                kills += 1
            child.wait()
            if child.returncode == 0 and not _has_changes(root, env):
                break  # finished before we could kill it enough: start over is pointless
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
    print(f"state             {'PostgreSQL' if args.state else 'SQLite'}")
    print(f"recipients        {len(expected):,}")
    print(f"apply runs        {runs + finals:,} ({kills} SIGKILLed, {finals} to finish)")
    print(f"send requests     {len(posts):,} ({dict(faults)})")
    print(f"retries           {len(posts) - len({r.request_id for r in posts}):,}")
    print(f"deliveries        {len(deliveries):,}")
    print(f"duplicates        {duplicates}")
    print(f"lost              {lost}")
    print(f"wrong text        {wrong}")
    print(f"wall time         {elapsed:.1f} s")
    return 0 if duplicates == lost == wrong == 0 else 1


def _has_changes(root: Path, env: dict[str, str]) -> bool:
    result = subprocess.run(
        octoplan("plan", "--detailed-exitcode"),
        cwd=root,
        env=env,
        capture_output=True,
        check=False,
    )
    if result.returncode not in (0, 2):
        raise SystemExit(f"plan failed: {result.stderr}")
    return result.returncode == 2


if __name__ == "__main__":
    raise SystemExit(main())
