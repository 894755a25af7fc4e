"""`octoplan receive` when its state goes away under it (octoplan/receive/ingest.py, worker.py):
PostgreSQL ends every connection (a restart, a failover). A callback that cannot be stored is
not acknowledged (503 with Retry-After: the sender tries again), the next one is stored on a
fresh connection, the interpreting thread reconnects too, and nothing is lost or doubled.

A real receiver process, a real PostgreSQL whose backends are really terminated.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest

from tests.fixtures.postgres import admin_url
from tests.fixtures.receiver import TOKEN, start_receiver, wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("processes")]
JSON = {"content-type": "application/json"}


def stop_reply(number: str) -> bytes:
    return json.dumps({"number": number, "text": "STOP", "stop_date": ""}).encode()


def opted_out(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        found = conn.execute("SELECT recipient_key FROM opt_outs ORDER BY 1").fetchall()
    return [key for (key,) in found]


def raw_events(url: str) -> list[tuple[bytes, bool]]:
    with psycopg.connect(url) as conn:
        found = conn.execute("SELECT body, interpreted FROM raw_events ORDER BY id").fetchall()
    return [(bytes(body), bool(done)) for body, done in found]


def end_every_connection(url: str) -> int:
    with psycopg.connect(admin_url(), autocommit=True) as admin:
        ended = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (urlsplit(url).path.lstrip("/"),),
        ).fetchone()
    assert ended is not None
    return int(ended[0])


def _first_stop_stored(client: httpx.Client, pg_url: str) -> None:
    """A first STOP reply, acknowledged and interpreted: the receiver works before the fault."""
    first = client.post(f"/callbacks/{TOKEN}", content=stop_reply("+33612345678"), headers=JSON)
    assert first.status_code == 204
    wait_for(lambda: opted_out(pg_url), lambda keys: keys == ["+33612345678"])


def test_a_state_that_drops_every_connection_loses_no_callback(
    make_project: object, pg_url: str
) -> None:
    assert callable(make_project)
    root: Path = make_project()
    receiver = start_receiver(root, {"OCTOPLAN_STATE": pg_url})
    with httpx.Client(base_url=receiver.url) as client:
        _first_stop_stored(client, pg_url)

        assert end_every_connection(pg_url) >= 2  # the storing and the interpreting threads'
        lost = client.post(f"/callbacks/{TOKEN}", content=stop_reply("+33612345679"), headers=JSON)
        # Not stored: not acknowledged, and the sender is told when to try again.
        assert (lost.status_code, lost.headers.get("retry-after"), lost.content) == (503, "1", b"")
        again = client.post(f"/callbacks/{TOKEN}", content=stop_reply("+33612345679"), headers=JSON)
        assert again.status_code == 204
        wait_for(lambda: opted_out(pg_url), lambda keys: keys == ["+33612345678", "+33612345679"])
    code, out, err = receiver.stop()
    assert (code, out) == (0, "")
    lines = err.splitlines()
    assert any(
        line.endswith(" ERROR storing 1 callback(s) failed: they were not acknowledged")
        for line in lines
    ), err
    assert any(
        line.endswith(" ERROR interpreting callbacks failed; retrying in 1 s") for line in lines
    ), err
    assert raw_events(pg_url) == [
        (stop_reply("+33612345678"), True),
        (stop_reply("+33612345679"), True),
    ]


def test_a_receiver_stopped_while_its_state_hangs_still_exits(
    make_project: object, pg_url: str
) -> None:
    """SIGTERM while a callback's insert waits on a table lock nobody releases: the receiver
    gives the storing thread its 10 s, then exits anyway (the callback was answered 503, not
    acknowledged: Octopush's to send again), rather than waiting for the state forever."""
    assert callable(make_project)
    root: Path = make_project()
    receiver = start_receiver(root, {"OCTOPLAN_STATE": pg_url})
    with httpx.Client(base_url=receiver.url) as client:
        _first_stop_stored(client, pg_url)
        with psycopg.connect(pg_url) as blocker:
            # SHARE: reads go on (the interpreting thread's), inserts wait.
            blocker.execute("LOCK TABLE raw_events IN SHARE MODE")
            held = client.post(
                f"/callbacks/{TOKEN}", content=stop_reply("+33612345679"), headers=JSON
            )
            assert (held.status_code, held.headers.get("retry-after")) == (503, "1")
            code, out, _ = receiver.stop(timeout=25)
            assert (code, out) == (0, "")
            blocker.rollback()
    assert raw_events(pg_url) == [(stop_reply("+33612345678"), True)]
