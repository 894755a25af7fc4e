"""`octoplan receive` under load: callbacks per second and answer latency, SQLite and PostgreSQL.

    python bench/receive_bench.py [--backends sqlite,postgres] [--seconds 15] [--rate 2000]
                                  [--connections 32] [--pg postgresql://postgres@127.0.0.1/test]

For each backend: a fresh state, `octoplan receive` in its own process, and a load generator in
another process (asyncio over raw keep-alive HTTP/1.1 connections: an HTTP client library
would be the bottleneck on two cores). Two runs:

1. open loop at `--rate` callbacks per second for `--seconds`: latency is counted from the
   moment each callback was due, so a server that falls behind is charged for the wait;
2. closed loop, `--connections` connections as fast as they are answered: the most it takes.

Every callback is a distinct delivery report (no two share a dedup key), so each one is a row
to commit. Then how long the interpreter took to read them all, and the server's CPU time per
callback (answer, storage and interpretation together): on a machine shared with other work,
the rate measured depends on the CPU left over, while the CPU time per callback does not, and
1 s divided by it is what one core of this machine takes. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TOKEN = "bench-token-0123456789abcdef"
PATH = f"/callbacks/{TOKEN}"


# -- the load generator (runs in its own process) -----------------------------------------------


def _body(n: int, run: str) -> bytes:
    return json.dumps(
        {
            "channel": "sms",
            "message_id": f"sms_{run}_{n}",
            "number": f"+336{n % 100_000_000:08d}",
            "status": "DELIVERED",
            "delivery_date": "2026-03-01 10:00:00",
        }
    ).encode()


def _request(body: bytes) -> bytes:
    head = (
        f"POST {PATH} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _answer(reader: asyncio.StreamReader) -> int:
    status = int((await reader.readline()).split()[1])
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    if length:
        await reader.readexactly(length)
    return status


async def _generate(
    host: str, port: int, seconds: float, rate: float | None, connections: int
) -> dict[str, object]:
    run = uuid.uuid4().hex[:8]
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    counter = iter(range(10**9))
    start = time.perf_counter() + 0.2
    deadline = start + seconds

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while True:
                n = next(counter)
                due = start + n / rate if rate else time.perf_counter()
                if due >= deadline:
                    return
                wait = due - time.perf_counter()
                if wait > 0:
                    await asyncio.sleep(wait)
                writer.write(_request(_body(n, run)))
                status = await _answer(reader)
                latencies.append(time.perf_counter() - due)
                statuses[status] = statuses.get(status, 0) + 1
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(connections)))
    elapsed = time.perf_counter() - start
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(int(p * len(latencies)), len(latencies) - 1)] * 1000

    return {
        "sent": len(latencies),
        "per_second": len(latencies) / elapsed,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "max_ms": latencies[-1] * 1000,
        "statuses": statuses,
    }


def generate_main(argv: list[str]) -> None:
    host, port, seconds, rate, connections = argv
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    result = asyncio.run(
        _generate(host, int(port), float(seconds), float(rate) or None, int(connections))
    )
    print(json.dumps(result))


# -- the bench ----------------------------------------------------------------------------------


def _count(location: str, sql: str) -> int:
    if location.startswith("postgresql"):
        import psycopg

        with psycopg.connect(location) as conn:
            row = conn.execute(sql).fetchone()
    else:
        conn = sqlite3.connect(location)
        try:
            row = conn.execute(sql).fetchone()
        finally:
            conn.close()
    return int(row[0]) if row else 0


def _load(url: str, seconds: float, rate: float, connections: int) -> dict[str, object]:
    host, _, port = url.removeprefix("http://").partition(":")
    args = [host, port, str(seconds), str(rate), str(connections)]
    out = subprocess.run(
        [sys.executable, __file__, "--generate", *args],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    result: dict[str, object] = json.loads(out)
    return result


def _line(label: str, r: dict[str, object]) -> str:
    return (
        f"{label:<36} {r['sent']:>8,} {r['per_second']:>9,.0f}/s {r['p50_ms']:>8.1f} "
        f"{r['p99_ms']:>8.1f} {r['max_ms']:>8.1f}   {r['statuses']}"
    )


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
        fields = handle.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bench(name: str, location: str, root: Path, args: argparse.Namespace) -> None:
    env = {
        **os.environ,
        "NO_COLOR": "1",
        "OCTOPLAN_CALLBACK_TOKEN": TOKEN,
        "OCTOPLAN_STATE": location,
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "octoplan", "receive", "--port", "0"],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        cpu_before = _cpu_seconds(server.pid)
        opened = _load(url, args.seconds, args.rate, args.connections)
        print(_line(f"{name}: open loop at {args.rate:,.0f}/s", opened))
        closed = _load(url, args.seconds, 0, args.connections)
        print(_line(f"{name}: closed loop, {args.connections} conns", closed))
        stored = _count(location, "SELECT COUNT(*) FROM raw_events")
        started = time.perf_counter()
        while _count(location, "SELECT COUNT(*) FROM raw_events WHERE interpreted = 0"):
            time.sleep(0.2)
        per_callback = (_cpu_seconds(server.pid) - cpu_before) / stored
        print(
            f"{name}: {stored:,} stored; interpretation caught up "
            f"{time.perf_counter() - started:.1f} s after the load ended; server CPU "
            f"{per_callback * 1e6:.0f} us per callback (= {1 / per_callback:,.0f} callbacks/s "
            "per core)"
        )
    finally:
        server.terminate()
        server.wait(60)


def main() -> None:
    if sys.argv[1:2] == ["--generate"]:
        generate_main(sys.argv[2:])
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--rate", type=float, default=2000.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    print(
        f"{'':<36} {'answered':>8} {'rate':>11} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}"
        "   statuses"
    )
    with tempfile.TemporaryDirectory(prefix="octoplan-receive-bench-") as tmp:
        root = Path(tmp)
        (root / "octoplan.yaml").write_text("region: FR\n", encoding="utf-8")
        for name in args.backends.split(","):
            if name == "sqlite":
                bench("sqlite", str(root / "state.db"), root, args)
            else:
                import psycopg

                database = f"octoplan_bench_{uuid.uuid4().hex[:12]}"
                with psycopg.connect(args.pg, autocommit=True) as admin:
                    admin.execute(f'CREATE DATABASE "{database}"')
                try:
                    base = args.pg.rsplit("/", 1)[0]
                    bench("postgres", f"{base}/{database}", root, args)
                finally:
                    with psycopg.connect(args.pg, autocommit=True) as admin:
                        admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


if __name__ == "__main__":
    main()
