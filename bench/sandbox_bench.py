"""Requests per second of the sandbox for 500-recipient SMS requests.

Runs the real `octoplan sandbox` in a subprocess (so client and server do not share a GIL) and
sends pre-encoded requests from a few keep-alive connections. Prints figures; asserts nothing.

    python bench/sandbox_bench.py [--requests 400] [--connections 4] [--personalized]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

HEADERS = {"api-login": "bench@example.com", "api-key": "bench", "content-type": "application/json"}


def body(index: int, personalized: bool) -> bytes:
    text = (
        "{first_name}, -30% ce week-end ! STOP au 30101"
        if personalized
        else "Soldes -30% STOP au 30101"
    )
    recipients = [
        {"phone_number": f"+336{index:04d}{n:04d}", "first_name": f"Client{n}", "param1": "VIP"}
        for n in range(500)
    ]
    payload = {
        "text": text,
        "recipients": recipients,
        "purpose": "wholesale",
        "sender": "ShopX",
        "request_id": f"bench-{index}",
        "auto_optimize_text": False,
    }
    return json.dumps(payload).encode()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--personalized", action="store_true")
    args = parser.parse_args()

    bodies = [body(i, args.personalized) for i in range(args.requests)]
    with tempfile.TemporaryDirectory() as tmp:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "octoplan",
                "-q",
                "sandbox",
                "--port",
                "0",
                "--data",
                str(Path(tmp) / "bench.db"),
                "--credit",
                "1e9",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert server.stdout is not None
            base_url = server.stdout.readline().strip()
            statuses: list[int] = []
            lock = threading.Lock()

            def worker(chunk: list[bytes]) -> None:
                with httpx.Client(base_url=base_url, headers=HEADERS, timeout=60) as client:
                    for data in chunk:
                        status = client.post("/sms-campaign/send", content=data).status_code
                        with lock:
                            statuses.append(status)

            chunks = [bodies[i :: args.connections] for i in range(args.connections)]
            threads = [threading.Thread(target=worker, args=(c,)) for c in chunks]
            started = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.perf_counter() - started
        finally:
            server.terminate()
            server.wait(timeout=10)
    ok = sum(1 for s in statuses if s == 201)
    print(
        f"{len(statuses)} requests x 500 recipients over {args.connections} connections "
        f"({'personalized' if args.personalized else 'same text'}): {elapsed:.2f} s"
    )
    print(
        f"  {len(statuses) / elapsed:,.0f} requests/s, {500 * ok / elapsed:,.0f} messages/s, "
        f"{ok} accepted"
    )


if __name__ == "__main__":
    main()
